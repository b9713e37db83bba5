package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// whTolerance is how far a delivery's webhook-timestamp may be from the
// receiver's clock, either way (the Standard Webhooks specification's
// suggested five minutes).
const whTolerance = 5 * time.Minute

// whReplayHeader marks a request the test sends itself (a replay, a forgery):
// the receiver checks it exactly as a delivery, but does not count it.
const whReplayHeader = "x-test-replay"

// whKey returns the key of a Standard Webhooks secret: "whsec_" and the
// standard base64 of the key's bytes.
func whKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("secret: %v", err)
	}
	return key, nil
}

// whMAC is the HMAC-SHA256, keyed with key, of the signed content
// "{webhook-id}.{webhook-timestamp}.{body}", the timestamp as sent.
func whMAC(key []byte, id, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// whVerify is a receiver's check of a delivery, written from the Standard
// Webhooks specification (not from tally's sender): webhook-id,
// webhook-timestamp and webhook-signature are all present; the timestamp,
// Unix seconds, is within whTolerance of now either way; and among the
// space-separated "version,base64" signatures there is a "v1" one equal,
// compared in constant time, to the HMAC of the signed content.
func whVerify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := whKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > whTolerance || d < -whTolerance {
		return fmt.Errorf("webhook-timestamp %s is %s from now (tolerance %s)", ts, d.Round(time.Second), whTolerance)
	}
	want := whMAC(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

// whSign returns the headers of a request the test signs itself, as the
// specification says a sender does, at Unix second ts.
func whSign(t *testing.T, secret, id string, ts int64, body []byte) http.Header {
	t.Helper()
	key, err := whKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts, 10)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", stamp)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(whMAC(key, id, stamp, body)))
	return h
}

// whReceiver is a webhook endpoint on 127.0.0.1. It answers 400 to every
// request whVerify refuses, and 204 to the others, after the delay while
// one is set: deliveries then stay in flight long enough for a node to be
// killed under them. It keeps, per webhook-id, the body of every verified
// delivery and how many it answered.
type whReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	url    string
	secret atomic.Pointer[string]
	delay  atomic.Int64 // nanoseconds

	mu          sync.Mutex
	bodies      map[string][][]byte    // webhook-id → the bodies of its verified deliveries
	headers     map[string]http.Header // webhook-id → the headers of its first
	answered    map[string]int         // webhook-id → deliveries answered 204
	inFlight    map[string]int         // webhook-id → deliveries being answered now
	flying      int                    // all deliveries being answered now
	maxFlying   int
	aborted     []string // webhook-ids whose sender went away before the answer
	overlaps    []string // webhook-ids delivered while a delivery of it was in flight
	refused     []string // why deliveries (not the test's own requests) were refused
	beforeReady int      // deliveries before the secret was known
}

func newWHReceiver(t *testing.T) *whReceiver {
	rc := &whReceiver{t: t, bodies: map[string][][]byte{}, headers: map[string]http.Header{},
		answered: map[string]int{}, inFlight: map[string]int{}}
	rc.srv = httptest.NewServer(rc) // on 127.0.0.1
	t.Cleanup(rc.srv.Close)
	rc.url = rc.srv.URL + "/hooks/tally"
	return rc
}

// setSecret gives the receiver the endpoint's signing secret.
func (rc *whReceiver) setSecret(s string) { rc.secret.Store(&s) }

// setDelay makes each answer wait d (0: answer at once).
func (rc *whReceiver) setDelay(d time.Duration) { rc.delay.Store(int64(d)) }

func (rc *whReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The whole body first: Go's server notices that the client went away
	// (and cancels r.Context) only once the body has been read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	replay := r.Header.Get(whReplayHeader) != ""
	secret := rc.secret.Load()
	if secret == nil {
		rc.mu.Lock()
		rc.beforeReady++
		rc.mu.Unlock()
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/hooks/tally" {
		err = fmt.Errorf("%s %s; want POST /hooks/tally", r.Method, r.URL.Path)
	} else {
		err = whVerify(*secret, r.Header, body, time.Now())
	}
	if err != nil {
		if !replay {
			rc.mu.Lock()
			rc.refused = append(rc.refused, r.Header.Get("webhook-id")+": "+err.Error())
			rc.mu.Unlock()
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if replay {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	if rc.inFlight[id] > 0 {
		rc.overlaps = append(rc.overlaps, id)
	}
	rc.inFlight[id]++
	rc.flying++
	rc.maxFlying = max(rc.maxFlying, rc.flying)
	rc.bodies[id] = append(rc.bodies[id], body)
	if rc.headers[id] == nil {
		rc.headers[id] = r.Header.Clone()
	}
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inFlight[id]--
		rc.flying--
		rc.mu.Unlock()
	}()
	if d := time.Duration(rc.delay.Load()); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			rc.mu.Lock()
			rc.aborted = append(rc.aborted, id)
			rc.mu.Unlock()
			return
		}
	}
	rc.mu.Lock()
	rc.answered[id]++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// inFlightNow returns how many deliveries are being answered.
func (rc *whReceiver) inFlightNow() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.flying
}

// abortedIDs returns the webhook-ids of the deliveries whose sender went
// away before their answer.
func (rc *whReceiver) abortedIDs() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.aborted...)
}

// answeredCount returns how many deliveries of webhook-id id were answered.
func (rc *whReceiver) answeredCount(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.answered[id]
}

// post sends the test's own request (marked whReplayHeader) with headers
// h and body, and returns the answer's status.
func (rc *whReceiver) post(h http.Header, body []byte) int {
	rc.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rc.url, bytes.NewReader(body))
	if err != nil {
		rc.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whReplayHeader, "1")
	resp, err := nodeClient.Do(req)
	if err != nil {
		rc.t.Fatalf("post to the receiver: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
