// Package webhook sends the ledger's events to the endpoints studios
// register, per the Standard Webhooks specification: it signs each
// attempt (Sign), keeps private addresses out of reach (CheckURL,
// NewClient), and runs the deliveries the store schedules from the feed
// (Dispatcher), retrying with backoff for a day.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/tally-credits/tally/internal/credit"
)

// The dispatcher's defaults.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultWorkers  = 8
	DefaultInterval = 500 * time.Millisecond
	// leaseMargin is how much longer than an attempt's timeout its lease
	// lasts: time to record the attempt after the answer.
	leaseMargin = 20 * time.Second
	// scheduleLimit is how many events one round schedules an endpoint.
	scheduleLimit = 500
	// maxResponse is the most of an answer read (to reuse the connection).
	maxResponse = 64 << 10
	// errorBody is the most of an answer's body kept in LastError.
	errorBody = 200
)

// The outcomes an Observer is told, one per attempt.
const (
	OutcomeDelivered = "delivered" // answered 2xx
	OutcomeRetry     = "retry"     // failed; tried again after the backoff
	OutcomeFailed    = "failed"    // failed, and the backoff gave up
	OutcomeGone      = "gone"      // answered 410: the endpoint is disabled
)

// Observer is told the outcome of every attempt (metrics). Its method must
// be quick and safe for concurrent use.
type Observer interface {
	Delivery(outcome string)
}

// Config configures a Dispatcher. Zero fields take defaults.
type Config struct {
	Store credit.WebhookStore
	// Now is the clock of schedules, leases and backoff (default time.Now);
	// tests move it. The attempt's timeout runs on the real clock.
	Now func() time.Time
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (tests; a studio's own network). It applies to the client the
	// dispatcher makes, not to Client.
	AllowPrivate bool
	// Timeout bounds one attempt, from dialling to the end of the answer
	// (DefaultTimeout).
	Timeout time.Duration
	// Lease is how long a claimed delivery is this node's alone (default
	// Timeout+20s). It must outlast an attempt, or another node may
	// attempt the delivery at the same time.
	Lease time.Duration
	// Workers bounds the attempts in flight (DefaultWorkers).
	Workers int
	// Interval is how often Run looks for due deliveries when there were
	// none (DefaultInterval).
	Interval time.Duration
	// Log receives a line for each failed attempt and each store error
	// (default: nothing is logged).
	Log *slog.Logger
	// Observer, if set, is told each attempt's outcome.
	Observer Observer
	// Client sends the attempts (default NewClient(AllowPrivate)). Its
	// redirects and addresses are its own business.
	Client *http.Client
}

// Dispatcher makes and attempts the deliveries of a store's endpoints. Any
// number of dispatchers, on any number of nodes, may run on one store: the
// store schedules each event once per endpoint and leases each attempt to
// one of them.
type Dispatcher struct {
	store    credit.WebhookStore
	now      func() time.Time
	client   *http.Client
	timeout  time.Duration
	lease    time.Duration
	workers  int
	interval time.Duration
	log      *slog.Logger
	observer Observer
}

// NewDispatcher returns a dispatcher configured by cfg.
func NewDispatcher(cfg Config) *Dispatcher {
	d := &Dispatcher{store: cfg.Store, now: cfg.Now, client: cfg.Client, timeout: cfg.Timeout, lease: cfg.Lease,
		workers: cfg.Workers, interval: cfg.Interval, log: cfg.Log, observer: cfg.Observer}
	if d.now == nil {
		d.now = time.Now
	}
	if d.client == nil {
		d.client = NewClient(cfg.AllowPrivate)
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.lease <= 0 {
		d.lease = d.timeout + leaseMargin
	}
	if d.workers <= 0 {
		d.workers = DefaultWorkers
	}
	if d.interval <= 0 {
		d.interval = DefaultInterval
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d
}

// Run schedules and attempts deliveries until ctx ends, then waits for the
// attempts in flight to end and be recorded (at most Timeout). A delivery
// is claimed only when a worker is free to attempt it at once, so its lease
// is spent on the attempt, not in a queue. Store errors are logged and the
// round tried again after Interval: the dispatcher never gives up while
// ctx lasts.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, d.workers)
	freed := make(chan struct{}, 1)
	// A schedule is a write transaction per endpoint: one an Interval,
	// unless the last one found events.
	var scheduled time.Time
	busy := true
	for {
		if ctx.Err() != nil {
			return
		}
		if busy || time.Since(scheduled) >= d.interval {
			n, err := d.store.ScheduleDeliveries(ctx, d.clock(), scheduleLimit)
			if err != nil && ctx.Err() == nil {
				d.log.Error("webhook: schedule deliveries", "err", err)
			}
			scheduled, busy = time.Now(), n > 0
		}
		free := d.workers - len(slots)
		var claims []credit.Claim
		if free > 0 {
			var err error
			now := d.clock()
			claims, err = d.store.ClaimDeliveries(ctx, now, now.Add(d.lease), free)
			if err != nil && ctx.Err() == nil {
				d.log.Error("webhook: claim deliveries", "err", err)
			}
		}
		for _, c := range claims {
			slots <- struct{}{}
			wg.Go(func() {
				d.attempt(ctx, c)
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			})
		}
		wait := d.interval
		if free > 0 && len(claims) == free {
			// Every free worker got one: more may be due. Go again as
			// soon as a worker is free.
			wait = 0
		}
		d.pause(ctx, wait, freed, len(slots) == d.workers)
	}
}

// pause waits `wait`, or, when every worker is busy (full) or wait is 0,
// until a worker is free; either way no longer than ctx lasts.
func (d *Dispatcher) pause(ctx context.Context, wait time.Duration, freed <-chan struct{}, full bool) {
	if full || wait == 0 {
		select {
		case <-ctx.Done():
		case <-freed:
		}
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// RunOnce does one round, now: it schedules, claims what is due (up to
// Workers), attempts it all at once, and returns when every attempt is
// recorded, with how many there were. It returns the store's errors (each
// failed FinishAttempt's, joined) rather than log them: it is for tests
// and one-shot commands.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	if _, err := d.store.ScheduleDeliveries(ctx, d.clock(), scheduleLimit); err != nil {
		return 0, err
	}
	now := d.clock()
	claims, err := d.store.ClaimDeliveries(ctx, now, now.Add(d.lease), d.workers)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(claims))
	for i, c := range claims {
		wg.Go(func() { errs[i] = d.attempt(ctx, c) })
	}
	wg.Wait()
	return len(claims), errors.Join(errs...)
}

func (d *Dispatcher) clock() time.Time { return d.now().UTC() }

// attempt sends one claimed delivery and records how it went. The attempt
// and its record outlive ctx (up to Timeout): a shutdown lets them end
// rather than leave an attempt made and not recorded, to be made again.
func (d *Dispatcher) attempt(ctx context.Context, c credit.Claim) error {
	ctx = context.WithoutCancel(ctx)
	at := d.clock()
	status, why := d.send(ctx, c, at)
	a := credit.Attempt{Delivery: c.Delivery.ID, Webhook: c.Delivery.Webhook, At: at, Status: status, Error: why}
	var outcome string
	switch {
	case status >= 200 && status <= 299:
		a.Outcome, a.Error, outcome = credit.DeliveryDelivered, "", OutcomeDelivered
	case status == http.StatusGone:
		a.Outcome, outcome = credit.DeliveryFailed, OutcomeGone
		a.Disable, a.DisableReason = true, "410 Gone from "+c.URL
	default:
		next, giveUp := Backoff(c.Delivery.Attempts+1, c.Delivery.CreatedAt, at)
		if giveUp {
			a.Outcome, outcome = credit.DeliveryFailed, OutcomeFailed
		} else {
			a.Outcome, a.NextAt, outcome = credit.DeliveryPending, next, OutcomeRetry
		}
	}
	if outcome != OutcomeDelivered {
		d.log.Info("webhook: attempt failed", "webhook", c.Delivery.Webhook, "delivery", c.Delivery.ID,
			"event", c.Event.ID, "attempt", c.Delivery.Attempts+1, "status", status, "error", a.Error, "outcome", outcome)
	}
	if d.observer != nil {
		d.observer.Delivery(outcome)
	}
	if err := d.store.FinishAttempt(ctx, a); err != nil {
		// The lease ends by itself and the delivery is attempted again.
		d.log.Error("webhook: record attempt", "delivery", c.Delivery.ID, "err", err)
		return err
	}
	return nil
}

// send makes one attempt at `at` and returns its HTTP status, or 0 and why
// there was none; for a status other than 2xx, why is the status and the
// start of the answer's body.
func (d *Dispatcher) send(ctx context.Context, c credit.Claim, at time.Time) (int, string) {
	body, err := Body(c.Event)
	if err != nil {
		d.log.Error("webhook: encode event", "event", c.Event.ID, "err", err)
		return 0, "internal error: the event could not be encoded"
	}
	sig, err := Sign(c.Secret, c.Event.ID, at, body)
	if err != nil {
		d.log.Error("webhook: sign", "webhook", c.Delivery.Webhook, "err", err)
		return 0, "internal error: the delivery could not be signed"
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "the URL cannot be requested: " + errText(err)
	}
	req.Header.Set(HeaderID, c.Event.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Sprintf("no answer within %s", d.timeout)
		}
		return 0, errText(err)
	}
	defer resp.Body.Close()
	// Read (a bounded part of) the answer before the connection is reused;
	// a body cut short by the timeout is still a status to go by.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.StatusCode, ""
	}
	why := resp.Status
	if s := printable(answer, errorBody); s != "" {
		why += ": " + s
	}
	return resp.StatusCode, why
}

// errText is err's message without the method and URL net/http puts
// before it (the endpoint's log names the URL already).
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return printable([]byte(err.Error()), 300)
}

// printable returns up to n bytes of b as one line of valid UTF-8: a
// receiver's body is shown in the console and the API as it is.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// payload is an event as the feed and a delivery's body show it.
type payload struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"time"`
	Account string          `json:"account"`
	Data    json.RawMessage `json:"data"`
}

// Body returns a delivery's body: the event as JSON, as the feed shows it
// ({"id", "type", "time", "account", "data"}; time in UTC, data as stored).
func Body(e credit.Event) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(payload{ID: e.ID, Type: e.Type, Time: e.Time.UTC(), Account: e.Account, Data: data})
}
