package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"

	"github.com/tally-credits/tally/internal/webhook"
)

// verify is a receiver's check of a delivery, written from the Standard
// Webhooks specification and not from the sender's code: the secret is
// "whsec_" and the base64 of the key; the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}" with the timestamp as sent;
// webhook-signature is a space-separated list of "version,base64" of which
// any "v1" one may match, compared in constant time; and a timestamp more
// than tolerance away from now is refused, signed or not.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	const tolerance = 5 * time.Minute
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("secret without whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// The Standard Webhooks test vector, published with the specification's
// libraries and checked by hand with
// `printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
// openssl dgst -sha256 -mac HMAC -macopt hexkey:<the secret's key in hex> -binary | base64`.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTime   = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeader(sig string, ts int64) http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestSignVector(t *testing.T) {
	got, err := webhook.Sign(vectorSecret, vectorID, time.Unix(vectorTime, 0), []byte(vectorBody))
	if err != nil || got != vectorSig {
		t.Fatalf("Sign(vector) = %q, %v; want %q", got, err, vectorSig)
	}
	// The timestamp is whole seconds: a fraction signs alike.
	if got, _ := webhook.Sign(vectorSecret, vectorID, time.Unix(vectorTime, 999_999_999), []byte(vectorBody)); got != vectorSig {
		t.Errorf("Sign(vector at +0.999s) = %q; want %q", got, vectorSig)
	}
	if _, err := webhook.Sign(vectorSecret, "evt.1", time.Unix(vectorTime, 0), nil); err == nil {
		t.Error(`Sign(id "evt.1") = nil error; want a refusal (a full stop in the id)`)
	}
	if _, err := webhook.Sign("whsec_c2hvcnQ=", vectorID, time.Unix(vectorTime, 0), nil); err == nil {
		t.Error("Sign(a 5-byte key) = nil error; want a refusal")
	}
}

func TestVerifier(t *testing.T) {
	at := time.Unix(vectorTime, 0)
	tampered := []byte(`{"test": 2432232315}`)
	for _, tc := range []struct {
		name string
		sig  string
		ts   int64
		body string
		now  time.Time
		ok   bool
	}{
		{"vector", vectorSig, vectorTime, vectorBody, at, true},
		{"vector, 4m59s later", vectorSig, vectorTime, vectorBody, at.Add(4*time.Minute + 59*time.Second), true},
		{"among other versions", "v1a,bm90IGEgc2ln v1,bm90IGVpdGhlcg== " + vectorSig, vectorTime, vectorBody, at, true},
		{"tampered body", vectorSig, vectorTime, string(tampered), at, false},
		{"other timestamp, same signature", vectorSig, vectorTime + 1, vectorBody, at, false},
		{"old timestamp", vectorSig, vectorTime, vectorBody, at.Add(5*time.Minute + time.Second), false},
		{"future timestamp", vectorSig, vectorTime, vectorBody, at.Add(-5*time.Minute - time.Second), false},
		{"wrong version", "v2" + vectorSig[2:], vectorTime, vectorBody, at, false},
	} {
		err := verify(vectorSecret, vectorHeader(tc.sig, tc.ts), []byte(tc.body), tc.now)
		if (err == nil) != tc.ok {
			t.Errorf("verify(%s) = %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestSecret(t *testing.T) {
	a, b := credit.NewWebhookSecret(), credit.NewWebhookSecret()
	if a == b {
		t.Fatalf("NewWebhookSecret() twice = %q both times", a)
	}
	if !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+44 {
		t.Errorf("NewWebhookSecret() = %q; want whsec_ and 44 base64 characters (32 bytes)", a)
	}
	key, err := webhook.DecodeSecret(a)
	if err != nil || len(key) != 32 {
		t.Errorf("DecodeSecret(%q) = %d bytes, %v; want 32", a, len(key), err)
	}
	if key, err := webhook.DecodeSecret(vectorSecret); err != nil || len(key) != 24 {
		t.Errorf("DecodeSecret(vector) = %d bytes, %v; want 24", len(key), err)
	}
	for _, s := range []string{
		"",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",       // no prefix
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", // not base64
		"whsec_c2hvcnQ=",                         // 5 bytes
		"whsec_" + strings.Repeat("QUFB", 22),    // 66 bytes
		"whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUP", // another kind of key
	} {
		if _, err := webhook.DecodeSecret(s); err == nil {
			t.Errorf("DecodeSecret(%q) = nil error; want a refusal", s)
		}
	}
}
