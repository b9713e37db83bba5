package sqlite

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const subscriptionColumns = `id, account, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage,
	created_at, canceled_at`

func scanSubscription(s scanner) (credit.Subscription, error) {
	var u credit.Subscription
	err := s.Scan(&u.ID, &u.Account, &u.Plan, &u.Billing, &u.TimeZone, timeColumn{&u.StartsAt}, timeColumn{&u.EndsAt},
		&u.NextPlan, timeColumn{&u.NextAt}, &u.Period, timeColumn{&u.RenewsAt}, jsonColumn{&u.Usage},
		timeColumn{&u.CreatedAt}, timeColumn{&u.CanceledAt})
	return u, err
}

func (t *tx) subscriptions(op, query string, args ...any) ([]credit.Subscription, error) {
	var out []credit.Subscription
	err := t.each(op, func(s scanner) error {
		u, err := scanSubscription(s)
		out = append(out, u)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Subscription returns a subscription. NotFound unknown_subscription.
func (t *tx) Subscription(id string) (credit.Subscription, error) {
	us, err := t.subscriptions("read subscription", `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id)
	if err != nil {
		return credit.Subscription{}, err
	}
	if len(us) == 0 {
		return credit.Subscription{}, credit.Errorf(credit.NotFound, "unknown_subscription", "unknown subscription %q", id)
	}
	return us[0], nil
}

// Subscriptions returns an account's subscriptions, oldest first (by
// creation, then id). An unknown account has none.
func (t *tx) Subscriptions(account string) ([]credit.Subscription, error) {
	return t.subscriptions("read subscriptions", `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE account = ? ORDER BY created_at, id`, account)
}

// DueSubscriptions returns up to limit subscriptions whose RenewsAt is set
// and ≤ now, earliest first, across all accounts (by subscriptions_due). A
// limit ≤ 0 means no limit.
func (t *tx) DueSubscriptions(now time.Time, limit int) ([]credit.Subscription, error) {
	return t.subscriptions("read due subscriptions", dueSubscriptionsQuery, micros(now), sqlLimit(limit))
}

const dueSubscriptionsQuery = `SELECT ` + subscriptionColumns + ` FROM subscriptions
	WHERE renews_at IS NOT NULL AND renews_at <= ? ORDER BY renews_at, id LIMIT ?`
