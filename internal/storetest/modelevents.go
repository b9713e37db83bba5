package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The reference model's events and alerts (SPEC §9), worked out again from
// the rules the ledger applies after each successful write (the contract of
// issue 15), never from its code: the model compares each account as a
// write found it with how it left it.
//
//  1. generations: new → generation.created; held → completed, failed or
//     expired → that event; refunded more → generation.refunded (the
//     growth);
//  2. grants (not the overdraft): new → grant.created; expired in the write
//     → grant.voided if a void did it, else grant.expired, with what the
//     grant had left as the write found it;
//  3. every grant with an expiry, not expired, not yet warned, with credits
//     left, not a day's free credits, within the notice of its expiry →
//     warned now, grant.expiring;
//  4. subscriptions: new → created; a month more → renewed; canceled →
//     canceled; else another plan, next plan or next change → changed;
//  5. top-ups: pending → confirmed or canceled → that event;
//  6. a member period with a limit, at or over it, not yet reached → reached
//     now, member.limit_reached; a request refused member_limit_exceeded
//     marks the period under way too (once a period), and writes nothing
//     else;
//  7. the balance, of an account that existed before the write: below the
//     low threshold from at or above it → balance.low; from above 0 to 0
//     or less → balance.depleted; back to the threshold (or above 0 with
//     none) → balance.recovered;
//  8. auto top-up on, the balance below its threshold and lowered by the
//     write (or the auto top-up changed by it), no request pending, and the
//     month's requests not canceled (the account's calendar month) plus
//     the amount within the cap → a pending top-up and topup.requested.
//
// A write is any ledger request that succeeded, even one that changed
// nothing (a member set as they are, a retry answered from its
// idempotency record): rule 3 still applies to its account.

// Paths of events the simulation reports (model.reached): "event TYPE" for
// each type told, and these.
const (
	eventLimitRefused  = "event: member.limit_reached of a refused request"
	eventTopupCapped   = "event: auto top-up held back by the month's cap"
	eventTopupPending  = "event: auto top-up held back by a pending request"
	eventExpiringMade  = "event: grant.expiring of a grant made within its notice"
	eventReplayWarning = "event: grant.expiring told by a retry"
)

// mustReachEvents are the event paths every default run must take (summed
// over its seeds).
var mustReachEvents = []string{
	"event " + credit.EventGrantCreated, "event " + credit.EventGrantExpiring, "event " + credit.EventGrantExpired, "event " + credit.EventGrantVoided,
	"event " + credit.EventGenerationCreated, "event " + credit.EventGenerationCompleted, "event " + credit.EventGenerationFailed,
	"event " + credit.EventGenerationExpired, "event " + credit.EventGenerationRefunded,
	"event " + credit.EventBalanceLow, "event " + credit.EventBalanceDepleted, "event " + credit.EventBalanceRecovered,
	"event " + credit.EventMemberLimitReached, "event " + credit.EventSubscriptionCreated, "event " + credit.EventSubscriptionRenewed,
	"event " + credit.EventSubscriptionChanged, "event " + credit.EventSubscriptionCancel,
	"event " + credit.EventTopupRequested, "event " + credit.EventTopupConfirmed, "event " + credit.EventTopupCanceled,
	eventLimitRefused, eventTopupCapped, eventTopupPending, eventExpiringMade,
}

// mTopup is an auto top-up request in the model.
type mTopup struct {
	id, account           string
	credits               credit.Credits
	status                credit.TopupStatus
	grant                 string
	createdAt, resolvedAt time.Time
}

func (t *mTopup) text() string {
	return fmt.Sprintf("%s of %s %s %s grant %q created %s resolved %s", t.id, t.account, t.credits, t.status, t.grant, timeText(t.createdAt), timeText(t.resolvedAt))
}

func topupText(t credit.Topup) string {
	return fmt.Sprintf("%s of %s %s %s grant %q created %s resolved %s", t.ID, t.Account, t.Credits, t.Status, t.Grant, timeText(t.CreatedAt), timeText(t.ResolvedAt))
}

// mEvent is an event the model expects in the feed: its type, account,
// subject (the id of the grant, generation, subscription, top-up or member
// it tells of; "" for the balance's) and data, as Go values (string,
// credit.Credits, int, time.Time) by the contract's field names.
type mEvent struct {
	typ, account, subject string
	at                    time.Time
	data                  map[string]any
}

func (e mEvent) String() string {
	keys := slices.Sorted(maps.Keys(e.data))
	var parts []string
	for _, k := range keys {
		v := e.data[k]
		if t, ok := v.(time.Time); ok {
			v = timeText(t)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return fmt.Sprintf("%s %s {%s}", e.typ, e.account, strings.Join(parts, " "))
}

// eventField is one field of an event's data, as the contract lists it:
// its kind (s string, c credits, i integer, t time) and whether it may be
// left out.
type eventField struct {
	name     string
	kind     byte
	optional bool
}

func fields(spec string) []eventField {
	var out []eventField
	for _, f := range strings.Fields(spec) {
		name, kind, _ := strings.Cut(f, ":")
		opt := strings.HasSuffix(kind, "?")
		out = append(out, eventField{name: name, kind: strings.TrimSuffix(kind, "?")[0], optional: opt})
	}
	return out
}

// eventFields are the data of each event type, as the contract lists them.
var eventFields = map[string][]eventField{
	credit.EventGrantCreated:        fields("grant:s source:s credits:c expires_at:t? subscription:s?"),
	credit.EventGrantExpiring:       fields("grant:s source:s remaining:c expires_at:t"),
	credit.EventGrantExpired:        fields("grant:s source:s expired_credits:c"),
	credit.EventGrantVoided:         fields("grant:s source:s voided_credits:c"),
	credit.EventGenerationCreated:   fields("generation:s model:s images:i hold_credits:c member:s?"),
	credit.EventGenerationCompleted: fields("generation:s model:s images_delivered:i charged_credits:c member:s?"),
	credit.EventGenerationFailed:    fields("generation:s model:s member:s?"),
	credit.EventGenerationExpired:   fields("generation:s model:s member:s?"),
	credit.EventGenerationRefunded:  fields("generation:s model:s refunded_credits:c refunded_total:c member:s?"),
	credit.EventBalanceLow:          fields("available:c threshold:c"),
	credit.EventBalanceDepleted:     fields("available:c"),
	credit.EventBalanceRecovered:    fields("available:c threshold:c"),
	credit.EventMemberLimitReached:  fields("member:s limit:c used:c period_start:t period_end:t"),
	credit.EventSubscriptionCreated: fields("subscription:s plan:s"),
	credit.EventSubscriptionRenewed: fields("subscription:s plan:s period:i"),
	credit.EventSubscriptionChanged: fields("subscription:s plan:s next_plan:s? next_at:t?"),
	credit.EventSubscriptionCancel:  fields("subscription:s plan:s ends_at:t?"),
	credit.EventTopupRequested:      fields("topup:s credits:c"),
	credit.EventTopupConfirmed:      fields("topup:s credits:c grant:s"),
	credit.EventTopupCanceled:       fields("topup:s credits:c"),
	credit.EventCatalogPublished:    fields("version:s effective_at:t"),
}

// subjectField returns the data field that names what an event of type
// typ tells of ("" for the balance's and the catalog's).
func subjectField(typ string) string {
	switch kind, _, _ := strings.Cut(typ, "."); kind {
	case "grant", "generation", "subscription", "topup", "member":
		return kind
	}
	return ""
}

// begin starts a write on account: it settles the account, and the write
// is told of (news) once it succeeds.
func (m *model) begin(account string, now time.Time) {
	m.settle(account, now)
	m.mark(account)
}

// mark records that the write under way writes account.
func (m *model) mark(account string) {
	if !slices.Contains(m.wrote, account) {
		m.wrote = append(m.wrote, account)
	}
}

// told applies the rules to each account the write that took before to m
// wrote, and returns how many it wrote.
func (m *model) told(before *model, now time.Time) int {
	n := len(m.wrote)
	for _, a := range m.wrote {
		m.news(before, a, now)
		m.lastWrote = a
	}
	m.wrote = nil
	return n
}

// settleWrite is a write that settles account and does nothing else (a
// read of something past its time, ExpireDue).
func (m *model) settleWrite(account string, now time.Time) {
	before := m.clone()
	m.begin(account, now)
	m.told(before, now)
}

// tell appends an event.
func (m *model) tell(typ, account, subject string, now time.Time, data map[string]any) {
	m.events = append(m.events, mEvent{typ: typ, account: account, subject: subject, at: now, data: data})
	m.reached["event "+typ]++
}

// news applies the rules 1 to 8 to account, as the write left it (m)
// against as it found it (before).
func (m *model) news(before *model, account string, now time.Time) {
	a := m.accounts[account]
	if a == nil {
		return
	}
	// 1. Generations.
	for _, id := range slices.Sorted(maps.Keys(m.gens)) {
		g := m.gens[id]
		if g.account != account {
			continue
		}
		data := func(extra map[string]any) map[string]any {
			d := map[string]any{"generation": g.id, "model": g.model}
			if g.member != "" {
				d["member"] = g.member
			}
			maps.Copy(d, extra)
			return d
		}
		o := before.gens[id]
		if o == nil {
			m.tell(credit.EventGenerationCreated, account, id, now, data(map[string]any{"images": g.images, "hold_credits": g.holdCredits}))
			continue
		}
		if o.status == credit.GenerationHeld && g.status != credit.GenerationHeld {
			switch g.status {
			case credit.GenerationCompleted:
				m.tell(credit.EventGenerationCompleted, account, id, now, data(map[string]any{"images_delivered": g.delivered, "charged_credits": g.charged}))
			case credit.GenerationFailed:
				m.tell(credit.EventGenerationFailed, account, id, now, data(nil))
			case credit.GenerationExpired:
				m.tell(credit.EventGenerationExpired, account, id, now, data(nil))
			}
		}
		if g.refunded > o.refunded {
			m.tell(credit.EventGenerationRefunded, account, id, now, data(map[string]any{"refunded_credits": g.refunded - o.refunded, "refunded_total": g.refunded}))
		}
	}
	// 2. Grants made, expired and voided.
	for _, id := range a.grants {
		g := m.grants[id]
		if g.ovd {
			continue
		}
		o := before.grants[id]
		if o == nil {
			d := map[string]any{"grant": id, "source": string(g.source), "credits": g.granted}
			if !g.expiresAt.IsZero() {
				d["expires_at"] = g.expiresAt
			}
			if g.sub != "" {
				d["subscription"] = g.sub
			}
			m.tell(credit.EventGrantCreated, account, id, now, d)
		}
		if g.expired && (o == nil || !o.expired) {
			left := g.took // what it had left when it expired or was voided
			if g.voided && (o == nil || !o.voided) {
				m.tell(credit.EventGrantVoided, account, id, now, map[string]any{"grant": id, "source": string(g.source), "voided_credits": left})
			} else {
				m.tell(credit.EventGrantExpired, account, id, now, map[string]any{"grant": id, "source": string(g.source), "expired_credits": left})
			}
		}
	}
	// 3. Grants about to expire.
	for _, id := range a.grants {
		g := m.grants[id]
		if g.ovd || g.expiresAt.IsZero() || g.expired || !g.warnedAt.IsZero() || g.remaining <= 0 || g.source == credit.SourceFree ||
			g.expiresAt.Add(-m.notice).After(now) {
			continue
		}
		g.warnedAt = now
		if before.grants[id] == nil {
			m.reached[eventExpiringMade]++
		}
		m.tell(credit.EventGrantExpiring, account, id, now, map[string]any{"grant": id, "source": string(g.source), "remaining": g.remaining, "expires_at": g.expiresAt})
	}
	// 4. Subscriptions.
	for _, id := range a.subs {
		s, o := m.subs[id], before.subs[id]
		if o == nil {
			m.tell(credit.EventSubscriptionCreated, account, id, now, map[string]any{"subscription": id, "plan": s.plan})
			continue
		}
		renewed := s.period > o.period
		if renewed {
			m.tell(credit.EventSubscriptionRenewed, account, id, now, map[string]any{"subscription": id, "plan": s.plan, "period": s.period})
		}
		switch {
		case o.canceledAt.IsZero() && !s.canceledAt.IsZero():
			d := map[string]any{"subscription": id, "plan": s.plan}
			if !s.endsAt.IsZero() {
				d["ends_at"] = s.endsAt
			}
			m.tell(credit.EventSubscriptionCancel, account, id, now, d)
		case !renewed && (s.plan != o.plan || s.nextPlan != o.nextPlan || !s.nextAt.Equal(o.nextAt)):
			d := map[string]any{"subscription": id, "plan": s.plan}
			if s.nextPlan != "" {
				d["next_plan"] = s.nextPlan
			}
			if !s.nextAt.IsZero() {
				d["next_at"] = s.nextAt
			}
			m.tell(credit.EventSubscriptionChanged, account, id, now, d)
		}
	}
	// 5. Top-ups answered.
	for _, t := range m.accountTopups(account) {
		o := before.topups[t.id]
		if o == nil || o.status != credit.TopupPending {
			continue
		}
		switch t.status {
		case credit.TopupConfirmed:
			m.tell(credit.EventTopupConfirmed, account, t.id, now, map[string]any{"topup": t.id, "credits": t.credits, "grant": t.grant})
		case credit.TopupCanceled:
			m.tell(credit.EventTopupCanceled, account, t.id, now, map[string]any{"topup": t.id, "credits": t.credits})
		}
	}
	// 6. Members at their limit.
	for _, p := range m.accountPeriods(account) {
		if p.limit != nil && p.reached.IsZero() && p.used >= *p.limit {
			m.limitReached(p, *p.limit, now)
		}
	}
	// 7. The balance, and 8. auto top-up: of an account that was there.
	was := before.accounts[account]
	if was == nil {
		return
	}
	b, av, low := before.available(account), m.available(account), a.lowBalance
	if low > 0 && b >= low && av < low {
		m.tell(credit.EventBalanceLow, account, "", now, map[string]any{"available": av, "threshold": low})
	}
	if b > 0 && av <= 0 {
		m.tell(credit.EventBalanceDepleted, account, "", now, map[string]any{"available": av})
	}
	if (low > 0 && b < low && av >= low) || (low == 0 && b <= 0 && av > 0) {
		m.tell(credit.EventBalanceRecovered, account, "", now, map[string]any{"available": av, "threshold": low})
	}
	at := a.autoTopup
	if at.Amount <= 0 || av >= at.Threshold || (av >= b && at == was.autoTopup) {
		return
	}
	loc := location(a.tz)
	y, mo, _ := now.In(loc).Date()
	from, to := time.Date(y, mo, 1, 0, 0, 0, 0, loc), time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
	var asked credit.Credits
	for _, t := range m.accountTopups(account) {
		if t.status == credit.TopupPending {
			m.reached[eventTopupPending]++
			return
		}
		if t.status != credit.TopupCanceled && !t.createdAt.Before(from) && t.createdAt.Before(to) {
			asked += t.credits
		}
	}
	if asked+at.Amount > at.MonthlyCap {
		m.reached[eventTopupCapped]++
		return
	}
	m.unbound++
	t := &mTopup{id: fmt.Sprintf("?top%d", m.unbound), account: account, credits: at.Amount, status: credit.TopupPending, createdAt: now}
	m.topups[t.id] = t
	m.tell(credit.EventTopupRequested, account, t.id, now, map[string]any{"topup": t.id, "credits": t.credits})
}

// limitReached marks p reached at now and tells so, with limit.
func (m *model) limitReached(p *mPeriod, limit credit.Credits, now time.Time) {
	p.reached = now
	m.tell(credit.EventMemberLimitReached, p.account, p.member, now, map[string]any{"member": p.member, "limit": limit, "used": p.used,
		"period_start": p.start, "period_end": p.end})
}

// limitRefused is the news of a request refused member_limit_exceeded: the
// member's period under way is marked reached, once a period, with the
// limit that refused it (the member's). It writes nothing else: it is not
// a write of the account (no rule but 6). The period's row is made if
// there is none (used 0, no limit: nothing was reserved in it); a row's
// limit stays the one its last reservation was checked against, which an
// admin may since have lowered below what was used.
func (m *model) limitRefused(account, member string, now time.Time) {
	x := m.members[memberKey(account, member)]
	if x == nil || x.limit == nil {
		return
	}
	from, to, _ := m.memberPeriodFor(account, member, now)
	k := periodKey(account, member, from)
	p := m.periods[k]
	if p == nil {
		p = &mPeriod{account: account, member: member, start: from, end: to}
		m.periods[k] = p
	}
	if !p.reached.IsZero() {
		return
	}
	m.reached[eventLimitRefused]++
	m.limitReached(p, *x.limit, now)
}

// accountTopups returns an account's top-ups by creation, then id.
func (m *model) accountTopups(account string) []*mTopup {
	var out []*mTopup
	for _, t := range m.topups {
		if t.account == account {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *mTopup) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

// accountPeriods returns a team's member periods by member, then start.
func (m *model) accountPeriods(account string) []*mPeriod {
	var out []*mPeriod
	for _, p := range m.periods {
		if p.account == account {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *mPeriod) int {
		if c := strings.Compare(a.member, b.member); c != 0 {
			return c
		}
		return a.start.Compare(b.start)
	})
	return out
}

// The alert and auto top-up requests.

// setAlerts is SetAlerts: the balance.low threshold (0: none).
func (m *model) setAlerts(account string, low credit.Credits, now time.Time) error {
	if low < 0 {
		return refuse(credit.Invalid, "invalid_threshold")
	}
	m.begin(account, now)
	m.accounts[account].lowBalance = low
	return nil
}

// setAutoTopup is SetAutoTopup (all zero: off). Negative amounts are
// refused (what else is refused is the ledger's choice; the simulation
// sends nothing else).
func (m *model) setAutoTopup(account string, at credit.AutoTopup, now time.Time) error {
	if at.Threshold < 0 || at.Amount < 0 || at.MonthlyCap < 0 {
		return refuse(credit.Invalid, "invalid_auto_topup")
	}
	m.begin(account, now)
	m.accounts[account].autoTopup = at
	return nil
}

// answerTopup is ConfirmTopup (grant: the id of the grant it makes) or
// CancelTopup: a pending request is answered once; answered again alike,
// it is answered as it is; the other answer is a conflict.
func (m *model) answerTopup(id string, to credit.TopupStatus, grant string, now time.Time) error {
	t := m.topups[id]
	if t == nil {
		return refuse(credit.NotFound, "unknown_topup")
	}
	m.begin(t.account, now)
	switch t.status {
	case to:
		return nil
	case credit.TopupConfirmed, credit.TopupCanceled:
		return refuse(credit.Conflict, "topup_"+string(t.status))
	}
	t.status, t.resolvedAt = to, now
	if to == credit.TopupConfirmed {
		t.grant = grant
		m.addGrant(&mGrant{id: grant, account: t.account, source: credit.SourceTopup, granted: t.credits, createdAt: now})
	}
	return nil
}

// bindTopups learns the ids of the top-ups the model made from the
// store's snapshot: an account has at most one request the model does not
// know by id (the ledger never makes a second while one is pending), which
// is the store's only one the model does not know.
func (m *model) bindTopups(s *credit.Snapshot) []string {
	var d []string
	for _, key := range slices.Sorted(maps.Keys(m.topups)) {
		t := m.topups[key]
		if !strings.HasPrefix(key, "?") {
			continue
		}
		var fresh []credit.Topup
		for _, st := range s.Topups {
			if st.Account == t.account && m.topups[st.ID] == nil {
				fresh = append(fresh, st)
			}
		}
		if len(fresh) != 1 {
			d = append(d, fmt.Sprintf("the model asked for a top-up of %s on %s; the store has %d top-ups of the account it does not know: %+v", t.credits, t.account, len(fresh), fresh))
			continue
		}
		delete(m.topups, key)
		t.id = fresh[0].ID
		m.topups[t.id] = t
		for i := range m.events {
			if e := &m.events[i]; e.subject == key && strings.HasPrefix(e.typ, "topup.") {
				e.subject = t.id
				e.data = maps.Clone(e.data)
				e.data["topup"] = t.id
			}
		}
	}
	return d
}

// compareEvents compares what the store's feed told (got, in feed order)
// with what the model expects (want, in the order told): for each account
// and subject the same types in the same order, and each pair's data equal
// on the fields the contract lists, and their times.
func compareEvents(got []credit.Event, want []mEvent) []string {
	var d []string
	type key struct{ account, subject string }
	gotBy, wantBy := map[key][]mEvent{}, map[key][]mEvent{}
	var keys []key
	for _, e := range got {
		ge, err := storeEvent(e)
		if err != nil {
			d = append(d, err.Error())
			continue
		}
		k := key{ge.account, ge.subject}
		if gotBy[k] == nil && wantBy[k] == nil {
			keys = append(keys, k)
		}
		gotBy[k] = append(gotBy[k], ge)
	}
	for _, e := range want {
		k := key{e.account, e.subject}
		if gotBy[k] == nil && wantBy[k] == nil {
			keys = append(keys, k)
		}
		wantBy[k] = append(wantBy[k], e)
	}
	for _, k := range keys {
		g, w := gotBy[k], wantBy[k]
		types := func(es []mEvent) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.typ)
			}
			return out
		}
		if !slices.Equal(types(g), types(w)) {
			d = append(d, fmt.Sprintf("%s %q: the feed told %v; model %v", k.account, k.subject, eventsText(g), eventsText(w)))
			continue
		}
		for i := range g {
			if diff := diffEventData(g[i], w[i]); diff != "" {
				d = append(d, fmt.Sprintf("%s of %s %q: %s\n    feed  %v\n    model %v", g[i].typ, k.account, k.subject, diff, g[i], w[i]))
			}
		}
	}
	return d
}

func eventsText(es []mEvent) string {
	if len(es) == 0 {
		return "nothing"
	}
	var parts []string
	for _, e := range es {
		parts = append(parts, e.String())
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// storeEvent decodes a store's event to compare with the model's: its data
// as JSON values (numbers as json.Number) and its subject.
func storeEvent(e credit.Event) (mEvent, error) {
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return mEvent{}, fmt.Errorf("event %s (%s of %s): data %q is not a JSON object: %v", e.ID, e.Type, e.Account, e.Data, err)
	}
	subject := ""
	if f := subjectField(e.Type); f != "" {
		s, _ := data[f].(string)
		subject = s
	}
	return mEvent{typ: e.Type, account: e.Account, subject: subject, at: e.Time, data: data}, nil
}

// diffEventData compares the data of an event of the feed (got) with what
// is expected of it (want) on the contract's fields of its type, and their
// times; it returns what differs, or "".
func diffEventData(got, want mEvent) string {
	var d []string
	if !want.at.IsZero() && !got.at.Equal(want.at) {
		d = append(d, fmt.Sprintf("time %s, want %s", timeText(got.at), timeText(want.at)))
	}
	for _, f := range eventFields[want.typ] {
		gv, gok := got.data[f.name]
		wv, wok := want.data[f.name]
		if f.name == "threshold" && want.typ == credit.EventBalanceRecovered && wv == credit.Credits(0) {
			// Recovered with no threshold: left out or 0.
			wok, gok = false, gok && fmt.Sprint(gv) != "0"
		}
		switch {
		case !wok && !gok:
			continue
		case !gok:
			d = append(d, fmt.Sprintf("no %s (want %v)", f.name, shownValue(wv)))
			continue
		case !wok:
			d = append(d, fmt.Sprintf("%s %v (want none)", f.name, gv))
			continue
		}
		if !sameValue(f.kind, gv, wv) {
			d = append(d, fmt.Sprintf("%s %v, want %v", f.name, gv, shownValue(wv)))
		}
	}
	return strings.Join(d, "; ")
}

func shownValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return timeText(t)
	}
	return v
}

// sameValue reports whether a JSON value of the feed (got) is the
// expected Go value want, of kind (s, c, i, t).
func sameValue(kind byte, got, want any) bool {
	switch kind {
	case 'c':
		n, ok := got.(json.Number)
		if !ok {
			return false
		}
		c, err := credit.ParseCredits(n.String())
		return err == nil && c == want.(credit.Credits)
	case 'i':
		n, ok := got.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.Atoi(n.String())
		return err == nil && i == want.(int)
	case 't':
		s, ok := got.(string)
		if !ok {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return err == nil && t.Equal(want.(time.Time))
	default:
		s, ok := got.(string)
		return ok && s == want.(string)
	}
}
