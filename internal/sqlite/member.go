package sqlite

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const memberColumns = `account, member, monthly_limit, created_at, updated_at, removed_at`

func scanMember(s scanner) (credit.Member, error) {
	var m credit.Member
	err := s.Scan(&m.Account, &m.ID, &m.MonthlyLimit, timeColumn{&m.CreatedAt}, timeColumn{&m.UpdatedAt}, timeColumn{&m.RemovedAt})
	return m, err
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

// Members returns a team's members, removed ones too, by id (the primary
// key's order). An unknown account, or one that is not a team, has none.
func (t *tx) Members(account string) ([]credit.Member, error) {
	return t.members("read members", `SELECT `+memberColumns+` FROM members WHERE account = ? ORDER BY member`, account)
}

const memberPeriodColumns = `account, member, period_start, period_end, used, limit_credits, reached`

func scanMemberPeriod(s scanner) (credit.MemberPeriod, error) {
	var p credit.MemberPeriod
	err := s.Scan(&p.Account, &p.Member, timeColumn{&p.Start}, timeColumn{&p.End}, &p.Used, &p.Limit, timeColumn{&p.Reached})
	return p, err
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

// MemberPeriods returns a team's member periods that have not ended at `at`
// (End > at), by member, then start. It reads the team's periods by the
// primary key, ended ones too: a row a member a month (see 0008_teams.sql).
func (t *tx) MemberPeriods(account string, at time.Time) ([]credit.MemberPeriod, error) {
	return t.memberPeriods("read member periods", `SELECT `+memberPeriodColumns+` FROM member_periods
		WHERE account = ? AND period_end > ? ORDER BY member, period_start`, account, at.UnixMicro())
}
