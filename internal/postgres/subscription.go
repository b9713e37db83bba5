package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const subscriptionColumns = `id, account, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at,
	period, renews_at, usage, created_at, canceled_at`

// subscriptionOrder is the order an account's subscriptions are listed in,
// oldest first: the subscriptions_account index's, after the account.
const subscriptionOrder = `created_at, id`

func scanSubscription(s scanner) (credit.Subscription, error) {
	var u credit.Subscription
	err := s.Scan(&u.ID, &u.Account, &u.Plan, &u.Billing, &u.TimeZone, timeColumn{&u.StartsAt}, timeColumn{&u.EndsAt},
		&u.NextPlan, timeColumn{&u.NextAt}, &u.Period, timeColumn{&u.RenewsAt},
		jsonColumn[[]credit.WindowUsage]{&u.Usage}, timeColumn{&u.CreatedAt}, timeColumn{&u.CanceledAt})
	if len(u.Usage) == 0 {
		u.Usage = nil // as written: NULL for none
	}
	return u, err
}

// Subscription returns a subscription. NotFound unknown_subscription.
func (t *tx) Subscription(id string) (credit.Subscription, error) {
	subs, err := t.subscriptions("read subscription", `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`, id)
	if err != nil {
		return credit.Subscription{}, err
	}
	if len(subs) == 0 {
		return credit.Subscription{}, credit.Errorf(credit.NotFound, "unknown_subscription", "unknown subscription %q", id)
	}
	return subs[0], nil
}

// Subscriptions returns an account's subscriptions, oldest first. An
// unknown account has none.
func (t *tx) Subscriptions(account string) ([]credit.Subscription, error) {
	return t.subscriptions("read subscriptions", `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE account = $1 ORDER BY `+subscriptionOrder, account)
}

// DueSubscriptions returns up to limit subscriptions whose RenewsAt is set
// and ≤ now, across all accounts, earliest first (the partial index
// subscriptions_due). A limit ≤ 0 means no limit.
func (t *tx) DueSubscriptions(now time.Time, limit int) ([]credit.Subscription, error) {
	return t.subscriptions("read due subscriptions", `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE renews_at IS NOT NULL AND renews_at <= $1 ORDER BY renews_at, id LIMIT $2`, now.UTC(), sqlLimit(limit))
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
