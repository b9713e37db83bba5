package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// TestTwoNodesRaceOneMember: 64 generations of one team member race
// through two `tally serve` processes on one PostgreSQL database, against
// a monthly limit of 100 that allows exactly 20 generations of 5 credits
// (flux-dev, one image) while the pool holds 1,000: exactly 20 are held and
// 44 refused with member_limit_exceeded, and the member's used credits are
// the limit. Then two members without limits race the 900 left of the
// pool: exactly 180 generations fit, and it never overdraws.
func TestTwoNodesRaceOneMember(t *testing.T) {
	dsn := freshDatabase(t)
	bin := buildTally(t)
	nodes := []*node{startNode(t, bin, "node 1", dsn), startNode(t, bin, "node 2", dsn)}
	n1 := nodes[0]
	n1.want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts", `{"id":"crew","kind":"team"}`)
	n1.want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts/crew/grants", `{"credits":1000,"source":"topup"}`)
	n1.want(http.StatusOK, nil, http.MethodPut, "/v1/accounts/crew/members/ann", `{"monthly_limit_credits":100}`)
	n1.want(http.StatusOK, nil, http.MethodPut, "/v1/accounts/crew/members/bob", `{"monthly_limit_credits":null}`)
	n1.want(http.StatusOK, nil, http.MethodPut, "/v1/accounts/crew/members/cat", `{"monthly_limit_credits":null}`)

	race := func(members ...string) (held, refused map[string]int, others []string) {
		held, refused = map[string]int{}, map[string]int{}
		const clients = 64
		replies := make([]reply, clients)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				m := members[i%len(members)]
				replies[i] = nodes[i%2].do(http.MethodPost, "/v1/generations",
					`{"account":"crew","member":"`+m+`","model":"flux-dev","images":1}`)
			}()
		}
		close(gate)
		wg.Wait()
		for _, r := range replies {
			switch r.status {
			case http.StatusCreated:
				var g wireGeneration
				if err := json.Unmarshal(r.body, &g); err != nil {
					t.Fatal(err)
				}
				if g.HoldCredits != cr("5") {
					t.Errorf("generation %s holds %v; want 5", g.ID, g.HoldCredits)
				}
				held["all"]++
			case http.StatusPaymentRequired:
				refused[r.code()]++
			default:
				others = append(others, string(r.body))
			}
		}
		return held, refused, others
	}

	held, refused, others := race("ann")
	if held["all"] != 20 || refused["member_limit_exceeded"] != 44 || len(others) > 0 {
		t.Fatalf("ann's race: %d held, refused %v, other answers %v; want 20 held, 44 member_limit_exceeded", held["all"], refused, others)
	}
	var members struct {
		Members []struct {
			Member    string         `json:"member"`
			Used      credit.Credits `json:"used_credits"`
			Remaining any            `json:"remaining_credits"`
		} `json:"members"`
	}
	r := nodes[1].do(http.MethodGet, "/v1/accounts/crew/members", "")
	if err := json.Unmarshal(r.body, &members); err != nil {
		t.Fatalf("members: %v: %s", err, r.body)
	}
	for _, m := range members.Members {
		if m.Member == "ann" && m.Used != cr("100") {
			t.Errorf("ann used %s after the race; want 100", m.Used)
		}
	}
	if a := n1.balance("crew"); a.Available != cr("900") || a.Held != cr("100") {
		t.Errorf("pool after ann's race: available %v, held %v; want 900, 100", a.Available, a.Held)
	}

	// The pool has 900: bob and cat race three times 64 generations of 5
	// (960 credits): 180 fit, the rest are insufficient_credits.
	total := 0
	for range 3 {
		held, refused, others = race("bob", "cat")
		if len(others) > 0 || refused["member_limit_exceeded"] != 0 {
			t.Fatalf("bob and cat's race: refused %v, other answers %v", refused, others)
		}
		total += held["all"]
	}
	if total != 180 {
		t.Errorf("%d generations held of the pool's 900; want 180", total)
	}
	if a := n1.balance("crew"); a.Available != 0 || a.Held != cr("1000") {
		t.Errorf("pool after the pool races: available %v, held %v; want 0, 1000 (never below 0)", a.Available, a.Held)
	}
	for _, n := range nodes {
		n.stop()
	}
	verifyDB(t, bin, dsn)
}
