package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
)

// The mixed workload: what the studio's clients send, in these proportions
// (per 100 operations). Most requests are prices shown while a user changes
// settings; a fifth press Create (and then complete); balances are polled as
// often; history and usage are pages a user opens now and then.
var mixedKinds = []struct {
	name   string
	weight int
}{
	{"quote", 50},
	{"generation", 20}, // a cycle: create + complete
	{"balance", 20},    // GET /v1/accounts/{id}
	{"history", 8},     // GET /v1/accounts/{id}/entries, the newest page
	{"usage", 2},       // GET /v1/accounts/{id}/usage, the last 30 days by model
}

// mixedAccounts is how many accounts the mixed workload spreads over.
const mixedAccounts = 100

// mixedQuotes are the quotes of the mixed workload with their seed-page
// totals: Nano Banana 2 2K 16:9 ×4 (4 × 73.5), Flux Dev ×2 (2 × 5), Topaz 2×
// on 1920×1080 (41.472 rounded to 41).
var mixedQuotes = []struct {
	body   []byte
	answer []byte
}{
	{quoteBody, quoteAnswer},
	{[]byte(`{"model":"flux-dev","images":2}`), []byte(`"total_credits":10,`)},
	{[]byte(`{"model":"topaz","scale":2,"input_width":1920,"input_height":1080}`), []byte(`"total_credits":41,`)},
}

// mixed runs "mixed/http": the mixed workload over HTTP, against GET
// /healthz, with the resident set sampled every second for its slope.
func (s *suite) mixed(ctx context.Context) error {
	name := "mixed/http"
	hc, err := s.newHTTPCycler(ctx, s.accountPrefix(name), mixedAccounts)
	if err != nil {
		return err
	}
	var total int
	for _, k := range mixedKinds {
		total += k.weight
	}
	kinds := make([]string, len(mixedKinds))
	for i, k := range mixedKinds {
		kinds[i] = k.name
	}
	rngs := make([]*rand.Rand, s.cfg.Clients)
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(uint64(c), 0x7a11))
	}
	get := func(ctx context.Context, path string) error {
		return s.http.call(ctx, http.MethodGet, path, nil, "", http.StatusOK, nil)
	}
	sc := Scenario{Name: name, Kinds: kinds, Op: func(ctx context.Context, c int) (int, error) {
		rng := rngs[c]
		i := rng.IntN(mixedAccounts)
		account := hc.accounts[i]
		w := rng.IntN(total)
		kind := 0
		for ; w >= mixedKinds[kind].weight; kind++ {
			w -= mixedKinds[kind].weight
		}
		var err error
		switch mixedKinds[kind].name {
		case "quote":
			q := mixedQuotes[rng.IntN(len(mixedQuotes))]
			status, b, e := s.http.do(ctx, http.MethodPost, "/v1/quotes", q.body, "")
			if err = e; err == nil && (status != http.StatusOK || !bytes.Contains(b, q.answer)) {
				err = fmt.Errorf("POST /v1/quotes %s: %d %s; want 200 and %s", q.body, status, bytes.TrimSpace(b), q.answer)
			}
		case "generation":
			err = hc.cycle(ctx, c, i)
		case "balance":
			err = get(ctx, "/v1/accounts/"+account)
		case "history":
			err = get(ctx, "/v1/accounts/"+account+"/entries?limit=50")
		case "usage":
			err = get(ctx, "/v1/accounts/"+account+"/usage")
		}
		return kind, err
	}}
	r, err := s.measure(ctx, sc, s.options(), s.healthzBaseline(), hc.check)
	if err != nil {
		return err
	}
	var mix []string
	for _, k := range mixedKinds {
		mix = append(mix, fmt.Sprintf("%d%% %s", k.weight*100/total, k.name))
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = one of %s (a generation is its create + complete); %d accounts", strings.Join(mix, ", "), mixedAccounts))
	for _, p := range r.Parts {
		r.Notes = append(r.Notes, fmt.Sprintf("%-10s %8d ops  p50 %s  p99 %s  p999 %s", p.Kind, p.Ops, formatDuration(p.P50), formatDuration(p.P99), formatDuration(p.P999)))
	}
	if r.RSSSamples >= 3 {
		who := "this process: client and in-process server"
		if s.cfg.URL != "" {
			who = "the bench client only, not the server"
		}
		r.Notes = append(r.Notes, fmt.Sprintf("RSS slope %+.2f MiB/min (least squares over %d samples, one a second; %s)", r.RSSSlope, r.RSSSamples, who))
	}
	s.noteHTTP(r)
	return nil
}
