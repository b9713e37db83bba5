package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tally-credits/tally/internal/credit"
)

// generation runs the Create button end to end on `accounts` accounts
// (64: "generation", 1: "hot-account"): in process against the store's raw
// write rate, then over HTTP against GET /healthz. "generation" adds an
// open-loop row of each at half the closed-loop peak, for its latency.
func (s *suite) generation(ctx context.Context, name string, accounts int) error {
	store := s.storeBaseline(accounts)
	half := name == "generation"

	r, err := s.ledgerCycles(ctx, name, accounts, 0, store, false)
	if err != nil {
		return err
	}
	if half && r.OK {
		if _, err := s.ledgerCycles(ctx, name+"@50%", accounts, r.Throughput/2, store, false); err != nil {
			return err
		}
	}

	healthz := s.healthzBaseline()
	r, err = s.httpCycles(ctx, name+"/http", accounts, 0, healthz)
	if err != nil {
		return err
	}
	if half && r.OK {
		_, err = s.httpCycles(ctx, name+"/http@50%", accounts, r.Throughput/2, healthz)
	}
	return err
}

const cycleNote = "op = one cycle: create a generation (quote + hold), complete it (capture 2 of 2 images): two durable writes"

// team runs the generation cycle of "generation" by team members: 64 teams
// of one member each, whose limit every hold is counted against (and each
// capture gives the uncharged rest back to), beside the same store
// baseline: the cost of a member's budget on the write path, read as this
// row's ratio against "generation"'s.
func (s *suite) team(ctx context.Context) error {
	_, err := s.ledgerCycles(ctx, "team", 64, 0, s.storeBaseline(64), true)
	return err
}

// benchMember is the one member of each team of the team scenario.
const benchMember = "member"

// accountPrefix makes a row's account ids: the run, then the row's name.
func (s *suite) accountPrefix(row string) string {
	return s.run + "-" + strings.NewReplacer("/", "-", "@", "-at-", "%", "pct").Replace(row)
}

// ledgerAccounts opens n accounts through the ledger, each with one grant of
// accountGrant; teams (team) with benchMember, whose monthly limit is the
// grant.
func (s *suite) ledgerAccounts(ctx context.Context, prefix string, n int, team bool) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + strconv.Itoa(i)
		spec := credit.AccountSpec{ID: ids[i]}
		if team {
			spec.Kind = credit.AccountTeam
		}
		if _, err := s.ledger.OpenAccount(ctx, nil, spec); err != nil {
			return nil, fmt.Errorf("bench: create account %s: %w", ids[i], err)
		}
		if team {
			limit := accountGrant
			if _, err := s.ledger.SetMember(ctx, nil, ids[i], benchMember, &limit); err != nil {
				return nil, fmt.Errorf("bench: member of %s: %w", ids[i], err)
			}
		}
		if _, err := s.ledger.AddGrant(ctx, nil, ids[i], credit.GrantSpec{Credits: accountGrant, Source: credit.SourceTopup, Memo: "tally bench"}); err != nil {
			return nil, fmt.Errorf("bench: grant to %s: %w", ids[i], err)
		}
	}
	return ids, nil
}

// ledgerCycles measures generation cycles through the Ledger (rate > 0: open
// loop at that rate), spread round-robin over n fresh accounts, and checks
// the balances and the whole ledger after; against y. With team, the
// accounts are teams and the cycles their member's.
func (s *suite) ledgerCycles(ctx context.Context, name string, n int, rate float64, y *yardstick, team bool) (*Result, error) {
	accounts, err := s.ledgerAccounts(ctx, s.accountPrefix(name), n, team)
	if err != nil {
		return nil, err
	}
	member := ""
	if team {
		member = benchMember
	}
	done := make([]atomic.Int64, n)
	var next atomic.Int64
	sc := Scenario{Name: name, Op: func(ctx context.Context, _ int) (int, error) {
		i := int(next.Add(1) % int64(n))
		g, err := s.ledger.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: accounts[i], Request: cycleRequest, Member: member})
		if err != nil {
			return 0, err
		}
		if g.HoldCredits != cyclePrice {
			return 0, fmt.Errorf("generation %s holds %s credits; the seed page says %s", g.ID, g.HoldCredits, cyclePrice)
		}
		if g, err = s.ledger.CompleteGeneration(ctx, nil, g.ID, cycleImages); err != nil {
			return 0, err
		}
		if g.Charged != cyclePrice {
			return 0, fmt.Errorf("generation %s charged %s credits; the seed page says %s", g.ID, g.Charged, cyclePrice)
		}
		done[i].Add(1)
		return 0, nil
	}}
	o := s.options()
	o.Rate = rate
	r, err := s.measure(ctx, sc, o, y, func(ctx context.Context, r *Result) error {
		err := checkBalances(accounts, func(i int) int64 { return done[i].Load() }, func(id string) (credit.Credits, credit.Credits, error) {
			v, err := s.ledger.Account(ctx, id)
			return v.Available, v.Held, err
		})
		if err != nil {
			return err
		}
		if team {
			if err := checkMembers(ctx, s.ledger, accounts, func(i int) int64 { return done[i].Load() }); err != nil {
				return err
			}
		}
		return s.verify(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%s; %d account(s)", cycleNote, n))
	if team {
		r.Notes = append(r.Notes, "each account a team; each cycle its member's, counted against the member's monthly limit")
	}
	if rate > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("open loop at %.0f cycles/s (half the closed-loop peak); latency from when each cycle was due", rate))
	}
	return r, nil
}

// httpAccounts opens n accounts over HTTP, each with one grant of
// accountGrant.
func (s *suite) httpAccounts(ctx context.Context, prefix string, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + strconv.Itoa(i)
		body, _ := json.Marshal(map[string]string{"id": ids[i]})
		if err := s.http.call(ctx, http.MethodPost, "/v1/accounts", body, ids[i]+"-open", http.StatusCreated, nil); err != nil {
			return nil, fmt.Errorf("bench: create account: %w", err)
		}
		body, _ = json.Marshal(map[string]any{"credits": accountGrant, "source": "topup", "memo": "tally bench"})
		if err := s.http.call(ctx, http.MethodPost, "/v1/accounts/"+ids[i]+"/grants", body, ids[i]+"-grant", http.StatusCreated, nil); err != nil {
			return nil, fmt.Errorf("bench: grant: %w", err)
		}
	}
	return ids, nil
}

// wireGeneration is what the cycles read of a generation's answer.
type wireGeneration struct {
	ID             string         `json:"id"`
	HoldCredits    credit.Credits `json:"hold_credits"`
	ChargedCredits credit.Credits `json:"charged_credits"`
}

// wireAccount is what the checks read of an account's answer.
type wireAccount struct {
	AvailableCredits credit.Credits `json:"available_credits"`
	HeldCredits      credit.Credits `json:"held_credits"`
}

var completeBody = []byte(`{"images_delivered":2}`)

// httpCycler runs generation cycles over HTTP, each request with an
// Idempotency-Key, so that a retry after a lost answer is safe.
type httpCycler struct {
	s        *suite
	prefix   string
	accounts []string
	bodies   [][]byte
	done     []atomic.Int64
	seq      []int64 // per client
}

func (s *suite) newHTTPCycler(ctx context.Context, prefix string, n int) (*httpCycler, error) {
	accounts, err := s.httpAccounts(ctx, prefix, n)
	if err != nil {
		return nil, err
	}
	c := &httpCycler{s: s, prefix: prefix, accounts: accounts, done: make([]atomic.Int64, n), seq: make([]int64, s.cfg.Clients)}
	for _, id := range accounts {
		b, _ := json.Marshal(map[string]any{"account": id, "model": cycleRequest.Model, "images": cycleRequest.Images})
		c.bodies = append(c.bodies, b)
	}
	return c, nil
}

// cycle runs one cycle on account i as client c.
func (hc *httpCycler) cycle(ctx context.Context, c, i int) error {
	hc.seq[c]++
	key := hc.prefix + "-" + strconv.Itoa(c) + "-" + strconv.FormatInt(hc.seq[c], 10)
	var g wireGeneration
	if err := hc.s.http.call(ctx, http.MethodPost, "/v1/generations", hc.bodies[i], key+"-create", http.StatusCreated, &g); err != nil {
		return err
	}
	if g.HoldCredits != cyclePrice {
		return fmt.Errorf("generation %s holds %s credits; the seed page says %s", g.ID, g.HoldCredits, cyclePrice)
	}
	if err := hc.s.http.call(ctx, http.MethodPost, "/v1/generations/"+g.ID+"/complete", completeBody, key+"-complete", http.StatusOK, &g); err != nil {
		return err
	}
	if g.ChargedCredits != cyclePrice {
		return fmt.Errorf("generation %s charged %s credits; the seed page says %s", g.ID, g.ChargedCredits, cyclePrice)
	}
	hc.done[i].Add(1)
	return nil
}

// check holds the accounts to their cycles, over HTTP, and verifies the
// server's store when the bench has it.
func (hc *httpCycler) check(ctx context.Context, r *Result) error {
	err := checkBalances(hc.accounts, func(i int) int64 { return hc.done[i].Load() }, func(id string) (credit.Credits, credit.Credits, error) {
		var a wireAccount
		err := hc.s.http.call(ctx, http.MethodGet, "/v1/accounts/"+id, nil, "", http.StatusOK, &a)
		return a.AvailableCredits, a.HeldCredits, err
	})
	if err != nil {
		return err
	}
	if !hc.s.cfg.StoreIsServers {
		r.Notes = append(r.Notes, "verify not run: --db is not the server's store (balances checked over HTTP)")
		return nil
	}
	return hc.s.verify(ctx, r)
}

// httpCycles measures generation cycles over HTTP (rate > 0: open loop),
// round-robin over n fresh accounts; against y.
func (s *suite) httpCycles(ctx context.Context, name string, n int, rate float64, y *yardstick) (*Result, error) {
	hc, err := s.newHTTPCycler(ctx, s.accountPrefix(name), n)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	sc := Scenario{Name: name, Op: func(ctx context.Context, c int) (int, error) {
		return 0, hc.cycle(ctx, c, int(next.Add(1)%int64(n)))
	}}
	o := s.options()
	o.Rate = rate
	r, err := s.measure(ctx, sc, o, y, hc.check)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%s; %d account(s); every POST with an Idempotency-Key", cycleNote, n))
	if rate > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("open loop at %.0f cycles/s (half the closed-loop peak); latency from when each cycle was due", rate))
	}
	s.noteHTTP(r)
	return r, nil
}

// checkMembers checks that each team's member used what its cycles charged
// (done(i) cycles of cyclePrice), as the members' budgets count it.
func checkMembers(ctx context.Context, l *credit.Ledger, teams []string, done func(int) int64) error {
	for i, id := range teams {
		ms, err := l.Members(ctx, id)
		if err != nil {
			return err
		}
		want := cyclePrice * credit.Credits(done(i))
		if len(ms) != 1 || ms[0].Used != want {
			return fmt.Errorf("team %s: members %+v; want %s used by %s (%d cycles)", id, ms, want, benchMember, done(i))
		}
	}
	return nil
}
