package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const memberColumns = `account, member, monthly_limit, created_at, updated_at, removed_at`

// memberOrder is the order a team's members are listed in: by id, the
// members_pkey index's, after the account.
const memberOrder = `member`

func scanMember(s scanner) (credit.Member, error) {
	var m credit.Member
	err := s.Scan(&m.Account, &m.ID, &m.MonthlyLimit, timeColumn{&m.CreatedAt}, timeColumn{&m.UpdatedAt}, timeColumn{&m.RemovedAt})
	return m, err
}

const memberPeriodColumns = `account, member, period_start, period_end, used, limit_credits, reached`

// memberPeriodOrder is the order a team's member periods are listed in: by
// member, then start, the member_periods_pkey index's, after the account.
const memberPeriodOrder = `member, period_start`

func scanMemberPeriod(s scanner) (credit.MemberPeriod, error) {
	var p credit.MemberPeriod
	err := s.Scan(&p.Account, &p.Member, timeColumn{&p.Start}, timeColumn{&p.End}, &p.Used, &p.Limit, timeColumn{&p.Reached})
	return p, err
}

// Members returns a team's members, removed ones too, by id. An unknown
// account, or one that is no team, has none.
func (t *tx) Members(account string) ([]credit.Member, error) {
	return t.members("read members", `SELECT `+memberColumns+` FROM members WHERE account = $1 ORDER BY `+memberOrder, account)
}

// MemberPeriods returns a team's member periods that have not ended at
// `at` (period_end > at), by member, then start.
func (t *tx) MemberPeriods(account string, at time.Time) ([]credit.MemberPeriod, error) {
	return t.memberPeriods("read member periods", `SELECT `+memberPeriodColumns+` FROM member_periods
		WHERE account = $1 AND period_end > $2 ORDER BY `+memberPeriodOrder, account, at.UTC())
}

func (t *tx) members(op, query string, args ...any) ([]credit.Member, error) {
	var out []credit.Member
	err := t.each(op, func(s scanner) error {
		m, err := scanMember(s)
		out = append(out, m)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *tx) memberPeriods(op, query string, args ...any) ([]credit.MemberPeriod, error) {
	var out []credit.MemberPeriod
	err := t.each(op, func(s scanner) error {
		p, err := scanMemberPeriod(s)
		out = append(out, p)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
