package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// CheckURL refuses a URL tally should not send webhooks to. Invalid
// invalid_webhook_url unless its form is one (credit.CheckWebhookURL).
// Unless allowPrivate, its host is resolved too (an IP literal is taken as
// it is): Invalid invalid_webhook_url when the name does not exist,
// Unavailable dns_unavailable when the resolver cannot answer now, and
// Invalid webhook_url_private when any address it resolves to is one
// Private refuses. A name that resolves to a public address now may
// resolve to a private one later: the sender's dialer refuses such
// addresses again at connect time (NewClient).
func CheckURL(ctx context.Context, raw string, allowPrivate bool) error {
	u, err := credit.CheckWebhookURL(raw)
	if err != nil {
		return err
	}
	bad := func(why string) error {
		return credit.Errorf(credit.Invalid, "invalid_webhook_url", "a webhook URL's host must resolve%s", why)
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return bad(fmt.Sprintf(": this one's host %q does not resolve", host))
		}
		return credit.Errorf(credit.Unavailable, "dns_unavailable", "the webhook URL's host %q could not be resolved now; try again", host)
	}
	for _, a := range addrs {
		if !Private(a) {
			continue
		}
		named := ""
		if a.String() != host {
			named = fmt.Sprintf(" (%q resolves to it)", host)
		}
		return credit.Errorf(credit.Invalid, "webhook_url_private",
			"a webhook URL must reach public addresses only; %s is a loopback, private, link-local or reserved address%s", a.Unmap(), named)
	}
	if len(addrs) == 0 {
		return bad(fmt.Sprintf(": this one's host %q does not resolve", host))
	}
	return nil
}

// blocked are the IPv4 networks, beyond what netip.Addr's predicates
// name, that no webhook may reach: "this network", shared address space
// (carrier-grade NAT), IETF protocol assignments, benchmarking, and the
// reserved block with the broadcast address.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// Translation prefixes whose addresses carry an IPv4 address that a
// gateway on the path may reach: NAT64 (the last 32 bits) and 6to4 (bits
// 16 to 48).
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// Private reports whether a is an address no webhook may reach without
// --webhooks-allow-private: loopback, private (RFC 1918, fc00::/7),
// link-local (169.254/16, where clouds answer metadata, and fe80::/10),
// unspecified, multicast, 0.0.0.0/8, 100.64/10, and the other reserved
// IPv4 blocks; an IPv4-mapped, NAT64 or 6to4 IPv6 address by the IPv4
// address it carries.
func Private(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return true
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return Private(netip.AddrFrom4([4]byte(b[12:16])))
		case nat64Local.Contains(a):
			return true
		case sixToFour.Contains(a):
			return Private(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// errPrivate is why the dialer refused an address.
type errPrivate struct{ addr netip.Addr }

func (e errPrivate) Error() string {
	return fmt.Sprintf("%s is a loopback, private, link-local or reserved address; webhooks go to public addresses only", e.addr)
}

// refusePrivate is a net.Dialer's Control: it runs once the name is
// resolved, on the very address about to be connected, so a name that
// resolved to a public address when its endpoint was made and to a private
// one now (DNS rebinding) is refused all the same.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %q: not an address", address)
	}
	if Private(ap.Addr()) {
		return errPrivate{ap.Addr().Unmap()}
	}
	return nil
}

// NewClient returns the HTTP client deliveries are sent with: it connects
// directly (no proxy from the environment, whose address the guard would
// refuse or could not see past), refuses private addresses at connect time
// unless allowPrivate, and follows no redirect: a 3xx is the answer, and a
// failure (the endpoint should be given its new URL instead).
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
