package httpapi

import (
	"reflect"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

// bodyCorpus holds bodies a client might send, well-formed or not: the one
// pass must read each as huma's schema validation does.
var bodyCorpus = []string{
	`{"model":"flux-dev","images":2}`,
	`{"account":"acct01","model":"flux-dev","images":2}`,
	` { "account" : "a" , "model" : "nano-banana-2" , "resolution":"2K","aspect_ratio":"16:9","images":4,"prompt_enhancer":true,"hold_ttl_seconds":60 } `,
	`{"model":"topaz","scale":2,"input_width":1920,"input_height":1080}`,
	`{"model":"topaz","scale":2,"input_image":"iVBORw0KGgoAAAANSUhEUgAAB4AAAAQ4CAAAAADNuJ6f"}`,
	`{"model":"fl\"ux"}`, `{"model":"flux\u002ddev"}`, `{"mod\u0065l":"flux-dev"}`,
	`{"Model":"flux-dev"}`, `{"MODEL":"flux-dev"}`, `{"model":"flux-dev","colour":"red"}`,
	`{"model":null}`, `{"images":null,"model":"flux-dev"}`, `{"model":"flux-dev","prompt_enhancer":null}`,
	`{"model":"flux-dev","images":"2"}`, `{"model":"flux-dev","images":2.0}`, `{"model":"flux-dev","images":2.5}`,
	`{"model":"flux-dev","images":1e0}`, `{"model":"flux-dev","images":-0}`, `{"model":"flux-dev","images":-3}`,
	`{"model":"flux-dev","images":99999999999999999999}`, `{"model":1}`, `{"model":true}`, `{"model":["a"]}`,
	`{"model":{"a":1}}`, `{"model":"flux-dev","prompt_enhancer":"true"}`, `{"model":"flux-dev","model":"topaz"}`,
	`{"model":"flux-dev"} x`, `{"model":"flux-dev"}{}`, `{"model":"flux-dev",}`, `{"model":"flux-dev"`,
	`{}`, `[]`, `null`, `"model"`, `1`, ` `, `{"model":"flux-dev","input_image":"not base64!"}`,
	`{"images_delivered":2}`, `{"images_delivered":-1}`, `{"images_delivered":"2"}`, `{"images_delivered":null}`,
	`{"id":"alice"}`, `{"id":"alice","overdraft_credits":50}`, `{"id":"alice","overdraft_credits":"50"}`,
	`{"id":"alice","overdraft_credits":null}`, `{"ID":"alice"}`,
	`{"credits":5,"source":"topup"}`, `{"credits":1.2345,"source":"topup"}`, `{"credits":"abc","source":"topup"}`,
	`{"credits":null,"source":"topup"}`, `{"credits":5}`, `{"credits":5,"source":"promo","expires_at":"2027-01-01"}`,
	`{"credits":5,"source":"promo","expires_at":null}`, `{"credits":5,"source":"promo","expires_at":7}`,
	`{"credits":5,"source":"topup","priority":-1,"memo":"a\u0000b"}`, `{"credits":-1e3,"ttl_seconds":60}`,
	`{"credits":5,"ttl_seconds":1.5}`, `{"credits":20.001}`, `{"kind":"image","limit":3}`, `{"kind":"nope"}`,
	`{"limit":1001}`, `{"limit":-1}`, `{"resolution":"2K","images":2}`,
}

// readTwice reads body as T in one pass and as huma's schema reads it, and
// fails unless both give the same value and the same refusals. It reports
// whether the one pass accepted the body by itself.
func readTwice[T any](t *testing.T, d *bodyDecoder, body string) (fast bool) {
	t.Helper()
	var once, schema jsonBody[T]
	once.readBody(d, []byte(body))
	slow := &bodyDecoder{registry: d.registry} // no plans: huma's path for every body
	schema.readBody(slow, []byte(body))
	// Refusals come from huma's validation either way; its order and some of
	// its locations follow Go's map order, so only their number is compared.
	if len(once.errs) != len(schema.errs) {
		t.Errorf("%T %s: refusals %v; schema's %v", once.Value, body, once.errs, schema.errs)
	}
	if !reflect.DeepEqual(once.Value, schema.Value) {
		t.Errorf("%T %s: read %+v; schema's %+v", once.Value, body, once.Value, schema.Value)
	}
	return d.plans[reflect.TypeFor[T]()].accepts([]byte(body))
}

// mustBodyServer returns a server with every route that takes a body.
func mustBodyServer(tb testing.TB) *Server {
	tb.Helper()
	s := New(catalog.Default(), "test", nil)
	s.ledgerRoutes() // registration only: no request reaches a ledger here
	return s
}

// TestBodyReadOnceAnswersAsSchema: whatever the body, reading it in one pass
// gives the value and the refusals that huma's schema validation gives, and
// the bodies the studio sends take the one pass.
func TestBodyReadOnceAnswersAsSchema(t *testing.T) {
	d := mustBodyServer(t).bodies
	for _, body := range bodyCorpus {
		readTwice[QuoteRequest](t, d, body)
		readTwice[GenerationRequest](t, d, body)
		readTwice[CheapestRequest](t, d, body)
		readTwice[CompleteRequest](t, d, body)
		readTwice[AccountRequest](t, d, body)
		readTwice[GrantRequest](t, d, body)
		readTwice[HoldRequest](t, d, body)
		readTwice[CaptureRequest](t, d, body)
		readTwice[RefundRequest](t, d, body)
	}
	for _, c := range []struct {
		body string
		read func(*testing.T, *bodyDecoder, string) bool
	}{
		{`{"model":"nano-banana-2","resolution":"2K","aspect_ratio":"16:9","images":4}`, readTwice[QuoteRequest]},
		{`{"account":"acct01","model":"flux-dev","images":2,"hold_ttl_seconds":900}`, readTwice[GenerationRequest]},
		{`{"images_delivered":2}`, readTwice[CompleteRequest]},
		{`{"credits":5,"source":"topup","expires_at":"2027-01-01","memo":"x"}`, readTwice[GrantRequest]},
		{`{"credits":12.5}`, readTwice[HoldRequest]},
	} {
		if !c.read(t, d, c.body) {
			t.Errorf("%s: not read in one pass", c.body)
		}
	}
}

// FuzzBodyReadOnce is TestBodyReadOnceAnswersAsSchema on arbitrary bodies.
func FuzzBodyReadOnce(f *testing.F) {
	for _, body := range bodyCorpus {
		f.Add(body)
	}
	d := mustBodyServer(f).bodies
	f.Fuzz(func(t *testing.T, body string) {
		readTwice[GenerationRequest](t, d, body)
		readTwice[GrantRequest](t, d, body)
		readTwice[CheapestRequest](t, d, body)
	})
}
