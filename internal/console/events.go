package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

// eventsView is the Events page's frame: the filters the address carries
// (?account=, ?type=) and every event type, grouped by what they tell of,
// for the type filter. The script reads the feed through the API.
type eventsView struct {
	Account string
	Type    string
	Groups  []typeGroup
	Names   []idName
}

// typeGroup is the event types of one kind of thing ("grant.created",
// "grant.expiring", … under Grants).
type typeGroup struct {
	Label string
	Types []string
}

// typeLabels names the groups of event types by the part of a type before
// its dot.
var typeLabels = map[string]string{
	"grant": "Grants", "generation": "Generations", "balance": "Balance", "member": "Members",
	"subscription": "Subscriptions", "topup": "Top-ups", "catalog": "Catalog",
}

// eventGroups groups credit.EventTypes by the part before the dot, in the
// order the types are listed.
func eventGroups() []typeGroup {
	var out []typeGroup
	for _, t := range credit.EventTypes {
		noun, _, _ := strings.Cut(t, ".")
		label := typeLabels[noun]
		if label == "" {
			label = noun
		}
		if n := len(out); n > 0 && out[n-1].Label == label {
			out[n-1].Types = append(out[n-1].Types, t)
			continue
		}
		out = append(out, typeGroup{Label: label, Types: []string{t}})
	}
	return out
}

func (c *console) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := eventsView{Account: strings.TrimSpace(q.Get("account")), Groups: eventGroups(), Names: modelNames(c.cfg.Catalog())}
	// A type tally does not have is not offered: the filter shows every type.
	if t := q.Get("type"); slices.Contains(credit.EventTypes, t) {
		v.Type = t
	}
	c.render(w, r, http.StatusOK, "events", layout{Title: "Events", Nav: "events", Scripts: []string{"events.js"}, Page: v})
}
