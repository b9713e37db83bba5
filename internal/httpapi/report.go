package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Finance's reports: what the ledger owes, and which balances paid for what
// was charged. Both read the rollups the stores keep with every write.

// LiabilityCredits are the figures of a liability report, for one grant
// source or all of them.
type LiabilityCredits struct {
	OutstandingCredits          credit.Credits `json:"outstanding_credits" doc:"Every credit owed, available and held: the credits expiring within 90 days and the dated ones after, never_expiring_credits and past_expiry_credits."`
	ExpiringWithin7DaysCredits  credit.Credits `json:"expiring_within_7_days_credits" doc:"In grants whose last live day (UTC) is one of the 7 days from at's: for a midnight at, expiring in (at, at + 7 days]; for now, counted from the start of today."`
	ExpiringWithin30DaysCredits credit.Credits `json:"expiring_within_30_days_credits" doc:"The same within 30 days (the 7 days included)."`
	ExpiringWithin90DaysCredits credit.Credits `json:"expiring_within_90_days_credits" doc:"The same within 90 days (the 30 days included)."`
	NeverExpiringCredits        credit.Credits `json:"never_expiring_credits" doc:"In grants that never expire."`
	PastExpiryCredits           credit.Credits `json:"past_expiry_credits" doc:"In grants past their expiry that the expiry sweep has not taken yet (normally 0)."`
}

func newLiabilityCredits(s credit.SourceLiability) LiabilityCredits {
	return LiabilityCredits{OutstandingCredits: s.Outstanding, ExpiringWithin7DaysCredits: s.Within7, ExpiringWithin30DaysCredits: s.Within30,
		ExpiringWithin90DaysCredits: s.Within90, NeverExpiringCredits: s.Never, PastExpiryCredits: s.PastExpiry}
}

// csvRow is the figures' cells, in the order of liabilityCSV.
func (l LiabilityCredits) csvRow(key string) []string {
	return []string{key, l.OutstandingCredits.String(), l.ExpiringWithin7DaysCredits.String(), l.ExpiringWithin30DaysCredits.String(),
		l.ExpiringWithin90DaysCredits.String(), l.NeverExpiringCredits.String(), l.PastExpiryCredits.String()}
}

// SourceLiability is what is owed in the grants of one source.
type SourceLiability struct {
	Source credit.Source `json:"source" enum:"subscription,topup,promo,refund,adjustment,free,rollover,overdraft" doc:"overdraft: what accounts owe below zero, as a negative amount."`
	LiabilityCredits
}

// Liability is what the ledger owes its accounts at a time.
type Liability struct {
	At time.Time `json:"at" doc:"The UTC midnight asked for (the journal before it), or now."`
	LiabilityCredits
	BySource []SourceLiability `json:"by_source" doc:"By grant source, in name order; a source appears once its grants have held credits."`
}

// NewLiability converts a liability report to its wire form.
func NewLiability(r credit.LiabilityReport) *Liability {
	out := &Liability{At: r.At.UTC(), LiabilityCredits: newLiabilityCredits(r.SourceLiability), BySource: make([]SourceLiability, len(r.Sources))}
	for i, s := range r.Sources {
		out.BySource[i] = SourceLiability{Source: s.Source, LiabilityCredits: newLiabilityCredits(s)}
	}
	return out
}

// liabilityCSV is the liability report's CSV: a row per source, then the
// total.
var liabilityCSV = []csvColumn{{"source", false}, {"outstanding_credits", true}, {"expiring_within_7_days_credits", true},
	{"expiring_within_30_days_credits", true}, {"expiring_within_90_days_credits", true}, {"never_expiring_credits", true},
	{"past_expiry_credits", true}}

// Consumption is what was charged in a window, net of refunds, and which
// balances paid it.
type Consumption struct {
	From           time.Time                        `json:"from"`
	To             time.Time                        `json:"to"`
	GroupBy        credit.ReportGroup               `json:"group_by" enum:"model,source,day"`
	ChargedCredits credit.Credits                   `json:"charged_credits" doc:"Charged in [from, to), net of refunds."`
	Charges        int                              `json:"charges" doc:"Charges made (refunds are netted into the credits, not counted)."`
	BySource       map[credit.Source]credit.Credits `json:"by_source" doc:"charged_credits by the source of the grants that paid (a refund counts against the source that paid the charge it gives back); overdraft: what was charged beyond the balance."`
	Groups         []ConsumptionGroup               `json:"groups" doc:"Sorted by key."`
}

// ConsumptionGroup is what one model, source or day was charged.
type ConsumptionGroup struct {
	Key            string                           `json:"key" doc:"The model id (other for generic holds), the grant source, or the UTC day (YYYY-MM-DD)."`
	ChargedCredits credit.Credits                   `json:"charged_credits"`
	Charges        int                              `json:"charges" doc:"Charges made; by source, the charges that source paid first."`
	BySource       map[credit.Source]credit.Credits `json:"by_source"`
}

// NewConsumption converts a consumption report to its wire form.
func NewConsumption(r credit.ConsumptionReport) *Consumption {
	out := &Consumption{From: r.From.UTC(), To: r.To.UTC(), GroupBy: r.By, ChargedCredits: r.Charged, Charges: r.Charges,
		BySource: bySource(r.BySource), Groups: make([]ConsumptionGroup, len(r.Groups))}
	for i, g := range r.Groups {
		out.Groups[i] = ConsumptionGroup{Key: g.Key, ChargedCredits: g.Charged, Charges: g.Charges, BySource: bySource(g.BySource)}
	}
	return out
}

// bySource is m without the sources that paid nothing, never nil.
func bySource(m map[credit.Source]credit.Credits) map[credit.Source]credit.Credits {
	out := map[credit.Source]credit.Credits{}
	for s, c := range m {
		if c != 0 {
			out[s] = c
		}
	}
	return out
}

// consumptionSources are the source columns of the consumption CSV: every
// source a grant may have, the overdraft last.
var consumptionSources = append(append([]credit.Source{}, credit.Sources...), credit.SourceOverdraft)

// csv is the report's CSV: a row per group, a column per source.
func (c *Consumption) csv() (*dataOutput, error) {
	cols := []csvColumn{{string(c.GroupBy), false}, {"charged_credits", true}, {"charges", true}}
	for _, s := range consumptionSources {
		cols = append(cols, csvColumn{string(s), true})
	}
	rows := make([][]string, len(c.Groups))
	for i, g := range c.Groups {
		row := []string{g.Key, g.ChargedCredits.String(), strconv.Itoa(g.Charges)}
		for _, s := range consumptionSources {
			row = append(row, g.BySource[s].String())
		}
		rows[i] = row
	}
	return csvOutput(cols, rows)
}

func (s *Server) reportRoutes() {
	register(s, bodyDoc(s, huma.Operation{
		OperationID: "report-liability",
		Method:      http.MethodGet,
		Path:        "/v1/reports/liability",
		Summary:     "What the ledger owes: credits outstanding by grant source, and when they expire",
		Description: "The credits outstanding (available and held) in every account's grants at `at`, by grant source, and how much of them expires within 7, 30 and 90 days. Without at, now: everything written so far, the windows counted from the start of today (UTC). With at, a UTC midnight not after now (422 invalid_at otherwise): the journal before that instant, the windows counted from it. Read from a rollup kept by every write, so the report costs the same whatever the journal's length. With Accept: text/csv, a row per source and a total. Admin and support keys.",
		Tags:        []string{"Reports"},
	}, reflect.TypeFor[Liability](), "Header row "+strings.Join(csvNames(liabilityCSV), ",")+"; one row per source, then the row total."), allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		At     string `query:"at" doc:"A UTC midnight: a date (2026-12-01) or RFC 3339 (2026-12-01T00:00:00Z); absent: now." example:"2026-12-01"`
		Accept string `header:"Accept" doc:"text/csv for CSV."`
	}) (*dataOutput, error) {
		var at time.Time
		if in.At != "" {
			var err error
			if at, err = parseTime("at", in.At); err != nil {
				return nil, s.fail(err)
			}
			if at.IsZero() {
				// The ledger reads a zero time as now: a given time is
				// always that time, so this one is refused.
				return nil, s.fail(credit.Errorf(credit.Invalid, "invalid_at", "at must be after 0001-01-01, when nothing was owed; leave it out for now"))
			}
		}
		r, err := s.ledger.Liability(ctx, at)
		if err != nil {
			return nil, s.fail(err)
		}
		out := NewLiability(r)
		var o *dataOutput
		if wantsCSV(in.Accept) {
			rows := make([][]string, 0, len(out.BySource)+1)
			for _, src := range out.BySource {
				rows = append(rows, src.csvRow(string(src.Source)))
			}
			rows = append(rows, out.csvRow("total"))
			o, err = csvOutput(liabilityCSV, rows)
		} else {
			o, err = jsonOutput(out)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		return o, nil
	})

	register(s, bodyDoc(s, huma.Operation{
		OperationID: "report-consumption",
		Method:      http.MethodGet,
		Path:        "/v1/reports/consumption",
		Summary:     "What was charged, and which balances paid: by model, source or day",
		Description: "The credits charged to every account in [from, to), net of refunds, grouped by model, grant source or UTC day, each group with what the grants of each source paid (free, subscription, topup, promo, rollover, …): a refund counts against the source that paid the charge it gives back, even when its credits come back as a new refund grant. from and to are UTC midnights (dates), from before to, at most 400 days apart (422 invalid_range); 422 invalid_group_by. Read from a rollup kept by every write. With Accept: text/csv, a row per group and a column per source. Admin and support keys.",
		Tags:        []string{"Reports"},
	}, reflect.TypeFor[Consumption](), "Header row <group_by>,charged_credits,charges,"+sourceHeader()+"; one row per group, each source's column what its grants paid. A key that a spreadsheet would read as a formula starts with a single quote."), allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		From    string `query:"from" required:"true" doc:"Start, inclusive: a UTC midnight, a date (2026-12-01) or RFC 3339 (2026-12-01T00:00:00Z)." example:"2026-11-01"`
		To      string `query:"to" required:"true" doc:"End, exclusive: a UTC midnight, a date (2026-12-01) or RFC 3339; at most 400 days after from." example:"2026-12-01"`
		GroupBy string `query:"group_by" default:"model" doc:"model, source (the grants' source) or day (UTC)."`
		Accept  string `header:"Accept" doc:"text/csv for CSV."`
	}) (*dataOutput, error) {
		from, err := parseTime("from", in.From)
		if err != nil {
			return nil, s.fail(err)
		}
		to, err := parseTime("to", in.To)
		if err != nil {
			return nil, s.fail(err)
		}
		by := in.GroupBy
		if by == "" {
			by = string(credit.ReportByModel)
		}
		r, err := s.ledger.Consumption(ctx, from, to, credit.ReportGroup(by))
		if err != nil {
			return nil, s.fail(err)
		}
		out := NewConsumption(r)
		var o *dataOutput
		if wantsCSV(in.Accept) {
			o, err = out.csv()
		} else {
			o, err = jsonOutput(out)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		return o, nil
	})
}

// sourceHeader is the consumption CSV's source columns, as the
// documentation shows them.
func sourceHeader() string {
	names := make([]string, len(consumptionSources))
	for i, s := range consumptionSources {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}
