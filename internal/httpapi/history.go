package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/negotiation"

	"github.com/tally-credits/tally/internal/credit"
)

// Entry is one transaction of an account's journal.
type Entry struct {
	ID             int64            `json:"id" doc:"Increasing: later entries have larger ids."`
	Time           time.Time        `json:"time"`
	Kind           credit.EntryKind `json:"kind" enum:"grant,hold,capture,release,expire,refund,void,debit" doc:"debit: credits taken back by a negative adjustment (POST /v1/accounts/{id}/debits)."`
	Ref            string           `json:"ref" doc:"The grant, hold or generation it concerns."`
	Generation     string           `json:"generation,omitempty"`
	Model          string           `json:"model,omitempty" doc:"For every entry of a generation: its hold, charge, release and refunds; absent for generic holds."`
	CatalogVersion string           `json:"catalog_version,omitempty" doc:"The catalog version the generation was priced with, on every entry of a generation."`
	AvailableDelta credit.Credits   `json:"available_delta"`
	HeldDelta      credit.Credits   `json:"held_delta"`
	AvailableAfter credit.Credits   `json:"available_after"`
	HeldAfter      credit.Credits   `json:"held_after"`
	ChargedDelta   credit.Credits   `json:"charged_delta" doc:"Positive for a charge, negative for a refund."`
	ListCredits    credit.Credits   `json:"list_credits" doc:"The list price of what a capture delivered (negative for a refund): charged_delta for a charged generation, its price for one in an unlimited window, which charges 0."`
	Memo           string           `json:"memo,omitempty"`
	Member         string           `json:"member,omitempty" doc:"On a team's account: the member whose generation or hold the entry concerns; absent for the pool's own (grants, expiries, voids) and on any other account." example:"user_42"`
	Postings       []Posting        `json:"postings" doc:"The double-entry lines; they sum to zero."`
}

// Posting is one line of an entry: credits into (positive) or out of
// (negative) one book.
type Posting struct {
	Account string         `json:"account" doc:"The user's account, or platform."`
	Book    string         `json:"book" enum:"available,held,issued,revenue,expired"`
	Grant   string         `json:"grant,omitempty"`
	Credits credit.Credits `json:"credits"`
}

// NewEntry converts a transaction to its wire form.
func NewEntry(t credit.Entry) Entry {
	e := Entry{
		ID: t.ID, Time: t.Time.UTC(), Kind: t.Kind, Ref: t.Ref, Generation: t.Generation, Model: t.Model,
		CatalogVersion: t.CatalogVersion, AvailableDelta: t.AvailableDelta, HeldDelta: t.HeldDelta,
		AvailableAfter: t.AvailableAfter, HeldAfter: t.HeldAfter, ChargedDelta: t.ChargedDelta, ListCredits: t.ListCredits, Memo: t.Memo,
		Member: t.Member, Postings: make([]Posting, len(t.Postings)),
	}
	for i, p := range t.Postings {
		e.Postings[i] = Posting{Account: p.Account, Book: p.Book, Grant: p.Grant, Credits: p.Amount}
	}
	return e
}

// Entries is a page of an account's journal, newest first.
type Entries struct {
	Account    string  `json:"account"`
	Entries    []Entry `json:"entries"`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// Usage is what an account was charged, net of refunds, grouped.
type Usage struct {
	Account string       `json:"account"`
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	GroupBy string       `json:"group_by" enum:"model,kind,day,member"`
	Groups  []UsageGroup `json:"groups" doc:"Sorted by key."`
}

// UsageGroup is the net charge of one model, kind, day (UTC) or team
// member.
type UsageGroup struct {
	Key            string         `json:"key" doc:"The model id, the kind, the day (YYYY-MM-DD, UTC) or the team member; generic holds (by model or kind) and charges outside a team (by member) are under other."`
	ChargedCredits credit.Credits `json:"charged_credits"`
	ListCredits    credit.Credits `json:"list_credits" doc:"The list price of the same generations, net of refunds: charged_credits for charged ones, and what the generations of an unlimited window, which are charged 0, would have cost."`
	Count          int            `json:"count" doc:"Charges (refunds are netted into charged_credits, not counted; generations of an unlimited window charge nothing and are not counted)."`
}

// The cursor is opaque to clients: a version tag and the last entry's id.
const cursorTag = "e1:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	bad := credit.Errorf(credit.Invalid, "invalid_cursor", "the cursor is not one this API gave out")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	rest, ok := strings.CutPrefix(string(b), cursorTag)
	if !ok {
		return 0, bad
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// wantsCSV reports whether the client prefers text/csv to JSON.
func wantsCSV(accept string) bool {
	return accept != "" && negotiation.SelectQValue(accept, []string{"application/json", "text/csv"}) == "text/csv"
}

// bodyDoc documents a route answering JSON or, on request, CSV. huma sees a
// []byte body (the handler encodes it), so the 200 response is described
// here: the JSON schema of jsonType, and CSV.
func bodyDoc(s *Server, op huma.Operation, jsonType reflect.Type, csvDesc string) huma.Operation {
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "OK. JSON by default; CSV (RFC 4180, a header row) with Accept: text/csv.",
			Content: map[string]*huma.MediaType{
				"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(jsonType, true, jsonType.Name())},
				"text/csv":         {Schema: &huma.Schema{Type: "string", Description: csvDesc}},
			},
		},
	}
	return op
}

// dataOutput is a JSON or CSV answer, encoded by the handler.
type dataOutput struct {
	ContentType string `header:"Content-Type"`
	NextCursor  string `header:"Next-Cursor" doc:"The cursor of the next page, as next_cursor in JSON (for CSV, which has no room for it); absent on the last page."`
	Body        []byte
}

func jsonOutput(v any) (*dataOutput, error) {
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	return &dataOutput{ContentType: "application/json", Body: b}, nil
}

// entryCSV is the CSV form of an entry: every field but the postings.
var entryCSV = []csvColumn{{"id", true}, {"time", false}, {"kind", false}, {"ref", false}, {"generation", false},
	{"model", false}, {"catalog_version", false}, {"available_delta", true}, {"held_delta", true},
	{"available_after", true}, {"held_after", true}, {"charged_delta", true}, {"list_credits", true}, {"memo", false},
	{"member", false}}

// csvRow is the entry's cells, in the order of entryCSV.
func (e *Entry) csvRow() []string {
	return []string{strconv.FormatInt(e.ID, 10), e.Time.Format(time.RFC3339Nano), string(e.Kind), e.Ref, e.Generation, e.Model,
		e.CatalogVersion, e.AvailableDelta.String(), e.HeldDelta.String(), e.AvailableAfter.String(), e.HeldAfter.String(),
		e.ChargedDelta.String(), e.ListCredits.String(), e.Memo, e.Member}
}

// DefaultPageSize is the entries per page when the client does not say.
const DefaultPageSize = 50

// UsageWindow is the default span of a usage query: the last 30 days.
const UsageWindow = 30 * 24 * time.Hour

func (s *Server) historyRoutes() {
	register(s, bodyDoc(s, huma.Operation{
		OperationID: "list-entries",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/entries",
		Summary:     "An account's journal, newest first",
		Description: "Every change to the account's balances, one entry per transaction, with its double-entry postings. Paged: pass next_cursor as cursor for the next page. With Accept: text/csv, the same page as CSV without the postings (the next cursor is then in the Next-Cursor header). A team's entries name the member whose generation or hold they concern; a member key reads its own member's and the pool's own (grants, expiries), never another member's.",
		Tags:        []string{"History"},
	}, reflect.TypeFor[Entries](), "Header row "+strings.Join(csvNames(entryCSV), ",")+"; one row per entry. Text cells that a spreadsheet would read as a formula (starting with =, +, -, @, tab or CR) start with a single quote."), allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Account id."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: the newest entries."`
		Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Entries per page."`
		Accept string `header:"Accept" doc:"text/csv for CSV."`
	}) (*dataOutput, error) {
		c, err := s.reader(ctx, "account", in.ID, in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		var before int64
		if in.Cursor != "" {
			if before, err = decodeCursor(in.Cursor); err != nil {
				return nil, s.fail(err)
			}
		}
		limit := in.Limit
		if limit == 0 {
			limit = DefaultPageSize
		}
		page, more, err := s.entries(ctx, in.ID, c.Member, before, limit)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		out := Entries{Account: in.ID, Entries: make([]Entry, len(page))}
		for i, t := range page {
			out.Entries[i] = NewEntry(t)
		}
		if more {
			out.NextCursor = encodeCursor(page[len(page)-1].ID)
		}
		var o *dataOutput
		if wantsCSV(in.Accept) {
			rows := make([][]string, len(out.Entries))
			for i := range out.Entries {
				rows[i] = out.Entries[i].csvRow()
			}
			o, err = csvOutput(entryCSV, rows)
		} else {
			o, err = jsonOutput(out)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		o.NextCursor = out.NextCursor
		return o, nil
	})

	register(s, bodyDoc(s, huma.Operation{
		OperationID: "get-usage",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/usage",
		Summary:     "Where the credits went: charges by model, kind, day or team member",
		Description: "Sums what the account was charged in [from, to), net of refunds, by model, kind, UTC day or (for a team) member, with the list price of the same (list_credits: generations in an unlimited window are charged 0 but keep their price there). With Accept: text/csv, one row per group. A member key reads only its own member's charges.",
		Tags:        []string{"History"},
	}, reflect.TypeFor[Usage](), "Header row <group_by>,charged_credits,list_credits,count; one row per group. A key that a spreadsheet would read as a formula starts with a single quote."), allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID      string `path:"id" doc:"Account id."`
		From    string `query:"from" doc:"Start, inclusive: RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01, that day's midnight UTC); absent: 30 days before to."`
		To      string `query:"to" doc:"End, exclusive: RFC 3339 (2026-12-02T00:00:00Z) or a date (2026-12-02, that day's midnight UTC); absent: now, included (the next whole second). At most 400 days after from."`
		GroupBy string `query:"group_by" default:"model" doc:"model, kind, day (UTC) or member (a team's members)."`
		Accept  string `header:"Accept" doc:"text/csv for CSV."`
	}) (*dataOutput, error) {
		c, err := s.reader(ctx, "account", in.ID, in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		// Read here rather than by huma, whose refusal of a time names a
		// Go layout; a given time, Go's zero time included, is always used.
		givenFrom, err := optTimeParam("from", in.From)
		if err != nil {
			return nil, s.fail(err)
		}
		givenTo, err := optTimeParam("to", in.To)
		if err != nil {
			return nil, s.fail(err)
		}
		// The next whole second: includes what happened at now, and reads
		// well in the answer.
		to := s.ledger.Now().Truncate(time.Second).Add(time.Second)
		if givenTo != nil {
			to = *givenTo
		}
		from := to.Add(-UsageWindow)
		if givenFrom != nil {
			from = *givenFrom
		}
		by := in.GroupBy
		if by == "" {
			by = string(credit.ByModel)
		}
		groups, err := s.ledger.MemberUsage(ctx, in.ID, c.Member, from, to, credit.GroupBy(by))
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		out := Usage{Account: in.ID, From: from.UTC(), To: to.UTC(), GroupBy: by, Groups: make([]UsageGroup, len(groups))}
		for i, g := range groups {
			out.Groups[i] = UsageGroup{Key: g.Key, ChargedCredits: g.Charged, ListCredits: g.List, Count: g.Count}
		}
		var o *dataOutput
		if wantsCSV(in.Accept) {
			rows := make([][]string, len(out.Groups))
			for i, g := range out.Groups {
				rows[i] = []string{g.Key, g.ChargedCredits.String(), g.ListCredits.String(), strconv.Itoa(g.Count)}
			}
			o, err = csvOutput([]csvColumn{{by, false}, {"charged_credits", true}, {"list_credits", true}, {"count", true}}, rows)
		} else {
			o, err = jsonOutput(out)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		return o, nil
	})
}

// entries returns a page of at most limit entries before `before` (as
// member sees them: "" for all) and whether older ones remain, so that the
// last page carries no cursor.
func (s *Server) entries(ctx context.Context, account, member string, before int64, limit int) ([]credit.Entry, bool, error) {
	ask := min(limit+1, credit.MaxPageSize)
	page, err := s.ledger.MemberEntries(ctx, account, member, before, ask)
	if err != nil {
		return nil, false, err
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	if len(page) < limit || len(page) == 0 || ask > limit {
		return page, false, nil
	}
	// A full page of the largest size: look one entry further.
	next, err := s.ledger.MemberEntries(ctx, account, member, page[len(page)-1].ID, 1)
	if err != nil {
		return nil, false, err
	}
	return page, len(next) > 0, nil
}
