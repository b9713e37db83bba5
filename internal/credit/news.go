package credit

import (
	"slices"
	"time"
)

// DefaultExpiringNotice is how long before a grant's expiry grant.expiring
// tells of it.
const DefaultExpiringNotice = 72 * time.Hour

// news decides what one write that succeeded has to tell (SPEC §9): it
// compares the state the write found (since) with the state it left, and
// appends the events to the batch's, which the store writes in the same
// transaction as the change itself (an outbox). It also makes the alerts'
// own effects: a grant's WarnedAt, a member period's Reached, an auto
// top-up request. Deciding from the two states, not in each operation,
// keeps one place that knows what is news, and no operation can forget to
// tell: every change of a generation, grant, subscription or top-up is
// seen here.
//
// The rules are numbered 1 to 8 below; the reference model in storetest
// (modelevents.go) applies them independently, and the seeded simulation
// compares the two after every step. The README's event table says the
// same for users.
func (b *Book) news(since *checkpoint, now time.Time) {
	was, cur := since.state, b.cur
	if cur.Account == nil {
		return
	}
	// 1. Generations.
	for _, g := range cur.Generations {
		i := slices.IndexFunc(was.Generations, func(o Generation) bool { return o.ID == g.ID })
		if i < 0 {
			b.tell(EventGenerationCreated, now, genData{Generation: g.ID, Model: g.Model, Images: g.Images, HoldCredits: &g.HoldCredits, Member: g.Member})
			continue
		}
		o := &was.Generations[i]
		if o.Status == GenerationHeld && g.Status != GenerationHeld {
			d := genData{Generation: g.ID, Model: g.Model, Member: g.Member}
			typ := EventGenerationFailed
			switch g.Status {
			case GenerationCompleted:
				typ = EventGenerationCompleted
				d.ImagesDelivered, d.Charged = &g.ImagesDelivered, &g.Charged
			case GenerationExpired:
				typ = EventGenerationExpired
			}
			b.tell(typ, now, d)
		}
		if g.Refunded > o.Refunded {
			refunded := g.Refunded - o.Refunded
			b.tell(EventGenerationRefunded, now, genData{Generation: g.ID, Model: g.Model, Member: g.Member, Refunded: &refunded, RefundedTotal: &g.Refunded})
		}
	}
	// 2. Grants expired and voided, then grants made (a write settles
	// before it grants).
	for _, o := range was.Grants {
		g := b.grantAt(o.ID)
		if g == nil || o.Source == SourceOverdraft || !o.ExpiredAt.IsZero() || g.ExpiredAt.IsZero() {
			continue
		}
		lost, ok := b.left[g.ID]
		if !ok {
			lost = o.Remaining
		}
		if slices.Contains(b.voided, g.ID) {
			b.tell(EventGrantVoided, now, grantData{Grant: g.ID, Source: g.Source, Voided: &lost})
		} else {
			b.tell(EventGrantExpired, now, grantData{Grant: g.ID, Source: g.Source, Expired: &lost})
		}
	}
	for _, g := range cur.Grants {
		if g.Source == SourceOverdraft || slices.ContainsFunc(was.Grants, func(o Grant) bool { return o.ID == g.ID }) {
			continue
		}
		b.tell(EventGrantCreated, now, grantData{Grant: g.ID, Source: g.Source, Credits: &g.Granted, ExpiresAt: g.ExpiresAt, Subscription: g.Subscription})
		if !g.ExpiredAt.IsZero() {
			lost := b.left[g.ID]
			b.tell(EventGrantExpired, now, grantData{Grant: g.ID, Source: g.Source, Expired: &lost})
		}
	}
	// 3. Grants about to expire.
	for i := range cur.Grants {
		g := &cur.Grants[i]
		if g.ExpiresAt.IsZero() || !g.ExpiredAt.IsZero() || !g.WarnedAt.IsZero() || g.Remaining <= 0 ||
			g.Source == SourceFree || g.Source == SourceOverdraft || g.ExpiresAt.Add(-b.notice).After(now) {
			continue
		}
		g.WarnedAt = now
		b.tell(EventGrantExpiring, now, grantData{Grant: g.ID, Source: g.Source, Remaining: &g.Remaining, ExpiresAt: g.ExpiresAt})
	}
	// 4. Subscriptions.
	for _, s := range cur.Subscriptions {
		i := slices.IndexFunc(was.Subscriptions, func(o Subscription) bool { return o.ID == s.ID })
		if i < 0 {
			b.tell(EventSubscriptionCreated, now, subData{Subscription: s.ID, Plan: s.Plan})
			continue
		}
		o := &was.Subscriptions[i]
		changed := o.Plan != s.Plan || o.NextPlan != s.NextPlan || !o.NextAt.Equal(s.NextAt)
		if s.Period > o.Period {
			p := s.Period
			b.tell(EventSubscriptionRenewed, now, subData{Subscription: s.ID, Plan: s.Plan, Period: &p})
		}
		switch {
		case o.CanceledAt.IsZero() && !s.CanceledAt.IsZero():
			b.tell(EventSubscriptionCancel, now, subData{Subscription: s.ID, Plan: s.Plan, EndsAt: s.EndsAt})
		case changed && s.Period == o.Period:
			b.tell(EventSubscriptionChanged, now, subData{Subscription: s.ID, Plan: s.Plan, NextPlan: s.NextPlan, NextAt: s.NextAt})
		}
	}
	// 5. Top-ups answered.
	for _, t := range cur.Topups {
		i := slices.IndexFunc(was.Topups, func(o Topup) bool { return o.ID == t.ID })
		if i < 0 || was.Topups[i].Status != TopupPending {
			continue
		}
		switch t.Status {
		case TopupConfirmed:
			b.tell(EventTopupConfirmed, now, topupData{Topup: t.ID, Credits: t.Credits, Grant: t.Grant})
		case TopupCanceled:
			b.tell(EventTopupCanceled, now, topupData{Topup: t.ID, Credits: t.Credits})
		}
	}
	// 6. Members at their limit.
	for i := range cur.MemberPeriods {
		p := &cur.MemberPeriods[i]
		if p.Limit != nil && p.Reached.IsZero() && p.Used >= *p.Limit {
			b.limitReached(p, *p.Limit, now)
		}
	}
	// 7. The balance crossing its thresholds, and 8. auto top-up.
	if was.Account == nil {
		return
	}
	a := cur.Account
	before, after, low := was.Account.Available, a.Available, a.LowBalance
	if low > 0 && before >= low && after < low {
		b.tell(EventBalanceLow, now, balanceData{Available: after, Threshold: &low})
	}
	if before > 0 && after <= 0 {
		b.tell(EventBalanceDepleted, now, balanceData{Available: after})
	}
	if (low > 0 && before < low && after >= low) || (low == 0 && before <= 0 && after > 0) {
		d := balanceData{Available: after}
		if low > 0 {
			d.Threshold = &low
		}
		b.tell(EventBalanceRecovered, now, d)
	}
	if at := a.AutoTopup; at.On() && after < at.Threshold && (after < before || at != was.Account.AutoTopup) {
		b.requestTopup(now)
	}
}

// requestTopup asks for the account's auto top-up, unless one is pending or
// the month's cap would be passed (rule 8).
func (b *Book) requestTopup(now time.Time) {
	a := b.cur.Account
	from, to := monthAt(now, mustZone(a.TimeZone))
	var asked Credits
	for _, t := range b.cur.Topups {
		if t.Status == TopupPending {
			return
		}
		if t.Status == TopupConfirmed && !t.CreatedAt.Before(from) && t.CreatedAt.Before(to) {
			asked += t.Credits
		}
	}
	if asked+a.AutoTopup.Amount > a.AutoTopup.MonthlyCap {
		return
	}
	t := Topup{ID: NewID("top", now), Account: a.ID, Credits: a.AutoTopup.Amount, Status: TopupPending, CreatedAt: now}
	b.cur.Topups = append(b.cur.Topups, t)
	b.tell(EventTopupRequested, now, topupData{Topup: t.ID, Credits: t.Credits})
}

// monthAt returns the calendar month of loc that t is in, [from, to).
func monthAt(t time.Time, loc *time.Location) (from, to time.Time) {
	l := t.In(loc)
	from = time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	return from.UTC(), from.AddDate(0, 1, 0).UTC()
}

// limitReached tells that a member's period is at its limit, once a period.
func (b *Book) limitReached(p *MemberPeriod, limit Credits, now time.Time) {
	if !p.Reached.IsZero() {
		return
	}
	p.Reached = now
	b.tell(EventMemberLimitReached, now, memberData{Member: p.Member, Limit: limit, Used: p.Used, PeriodStart: p.Start, PeriodEnd: p.End})
}

// refused is told of a write that was refused and rolled back: a member
// refused for their limit is news (rule 6), which the batch writes
// although the write itself wrote nothing.
func (b *Book) refused(err error, now time.Time) {
	if ErrorReason(err) != "member_limit_exceeded" || b.limitMember == "" {
		return
	}
	member := b.limitMember
	b.limitMember = ""
	m := b.memberAt(member)
	if m == nil || m.MonthlyLimit == nil || b.cur.Account == nil {
		return
	}
	from, to := memberPeriodFor(b.cur.Account, b.cur.Subscriptions, b.cur.MemberPeriods, member, now)
	p := b.memberPeriod(member, from)
	if p == nil {
		b.cur.MemberPeriods = append(b.cur.MemberPeriods, MemberPeriod{Account: b.id, Member: member, Start: from, End: to})
		p = &b.cur.MemberPeriods[len(b.cur.MemberPeriods)-1]
	}
	// The limit that refused it is the member's now; the period's Limit
	// stays the one its reservations were checked against (verify's
	// member_limit), which an admin may since have lowered below Used.
	b.limitReached(p, *m.MonthlyLimit, now)
}

// noteLeft records what a grant had left when the write being decided
// expired or voided it: what grant.expired or grant.voided tells.
func (b *Book) noteLeft(grant string, left Credits) {
	if b.left == nil {
		b.left = map[string]Credits{}
	}
	b.left[grant] = left
}

// tell appends an event of the book's account.
func (b *Book) tell(typ string, now time.Time, data any) {
	b.events = append(b.events, newEvent(typ, b.id, now, data))
}

// The events' data, as the README documents them.
type (
	genData struct {
		Generation      string   `json:"generation"`
		Model           string   `json:"model"`
		Images          int      `json:"images,omitempty"`
		HoldCredits     *Credits `json:"hold_credits,omitempty"`
		ImagesDelivered *int     `json:"images_delivered,omitempty"`
		Charged         *Credits `json:"charged_credits,omitempty"`
		Refunded        *Credits `json:"refunded_credits,omitempty"`
		RefundedTotal   *Credits `json:"refunded_total,omitempty"`
		Member          string   `json:"member,omitempty"`
	}
	grantData struct {
		Grant        string    `json:"grant"`
		Source       Source    `json:"source"`
		Credits      *Credits  `json:"credits,omitempty"`
		Remaining    *Credits  `json:"remaining,omitempty"`
		Expired      *Credits  `json:"expired_credits,omitempty"`
		Voided       *Credits  `json:"voided_credits,omitempty"`
		ExpiresAt    time.Time `json:"expires_at,omitzero"`
		Subscription string    `json:"subscription,omitempty"`
	}
	subData struct {
		Subscription string    `json:"subscription"`
		Plan         string    `json:"plan"`
		Period       *int      `json:"period,omitempty"`
		NextPlan     string    `json:"next_plan,omitempty"`
		NextAt       time.Time `json:"next_at,omitzero"`
		EndsAt       time.Time `json:"ends_at,omitzero"`
	}
	topupData struct {
		Topup   string  `json:"topup"`
		Credits Credits `json:"credits"`
		Grant   string  `json:"grant,omitempty"`
	}
	memberData struct {
		Member      string    `json:"member"`
		Limit       Credits   `json:"limit"`
		Used        Credits   `json:"used"`
		PeriodStart time.Time `json:"period_start"`
		PeriodEnd   time.Time `json:"period_end"`
	}
	balanceData struct {
		Available Credits  `json:"available"`
		Threshold *Credits `json:"threshold,omitempty"`
	}
)
