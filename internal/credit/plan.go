package credit

import (
	"slices"
	"time"
)

// Plan is one of the studio's credit programs, as the catalog file states it
// (plans:): the free program an account is put on, or a paid plan an account
// subscribes to. Plans live in the catalog so that they are versioned,
// validated, published and diffed with the prices, and every node applies
// the same ones.
type Plan struct {
	ID   string
	Name string
	// Program marks a plan an account is put on (PUT /v1/accounts/{id}/plan,
	// the free program) rather than subscribed to. A program's allowances
	// and rules apply only while the account has no active subscription.
	Program bool
	// Allowances are the credits the plan gives, each every day or month.
	Allowances []Allowance
	// Unlimited are the plan's unlimited windows.
	Unlimited []Window
	// Models is what an account on the plan may generate with; a model it
	// does not allow is refused with Forbidden plan_required. The zero
	// value allows every model.
	Models Eligibility
	// Topups says whether top-ups are on sale to an account on this plan
	// (the studio sells them only while a subscription is active).
	Topups bool
}

// Period is how often an allowance is given.
type Period string

// The allowance periods. A day is the account's local calendar day; a month
// runs from the subscription's renewal day (its start's day of month,
// clamped to the month's last day) to the next, at local midnight.
const (
	EveryDay   Period = "day"
	EveryMonth Period = "month"
)

// ExpiryKind says when an allowance's credits expire.
type ExpiryKind string

// The expiry kinds of an allowance.
const (
	ExpiresPeriodEnd ExpiryKind = "period_end" // at the end of the period it was given for
	ExpiresNever     ExpiryKind = "never"
	ExpiresAfter     ExpiryKind = "after" // a fixed duration after it was given
)

// Expiry is when an allowance's grant expires.
type Expiry struct {
	Kind  ExpiryKind
	After time.Duration // for ExpiresAfter
}

// Rollover turns the unspent part of a period's allowance, up to
// MaxCredits, into a SourceRollover grant when the period ends.
type Rollover struct {
	MaxCredits Credits
	// ExpiresAfter is how long the rollover grant lives (0: never expires).
	ExpiresAfter time.Duration
}

// Allowance is credits a plan gives every period.
type Allowance struct {
	Credits   Credits
	Every     Period
	Source    Source
	Expires   Expiry
	Rollover  *Rollover // nil: unspent credits do not roll over
	AppliesTo Eligibility
}

// AfterFast is what an unlimited window does past its daily fast limit.
type AfterFast string

// The choices past the daily fast limit.
const (
	AfterFastBlock   AfterFast = "block"   // refuse until local midnight (429 daily_limit_reached)
	AfterFastRelaxed AfterFast = "relaxed" // run in the relaxed lane
)

// Lane is the queue an unlimited generation runs in.
type Lane string

// The lanes.
const (
	LaneFast    Lane = "fast"
	LaneRelaxed Lane = "relaxed"
)

// Window is an unlimited window: the plan's models in it cost nothing for
// Days days from the start of each billing period, at most MaxConcurrent
// open at a time, DailyFast of them a local day in the fast lane.
type Window struct {
	Models        []string
	Days          int
	MaxConcurrent int
	DailyFast     int
	AfterFast     AfterFast
}

// Covers reports whether the window makes model free.
func (w *Window) Covers(model string) bool { return slices.Contains(w.Models, model) }

// Eligibility says which models a grant may pay for (a grant's applies_to),
// or which an account on a plan may use. A model is eligible when it is
// named in Models or carries one of Tags (or both lists are empty), and is
// neither in ExcludeModels nor carries one of ExcludeTags. The zero value
// allows every model.
type Eligibility struct {
	Models        []string `json:"models,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	ExcludeModels []string `json:"exclude_models,omitempty"`
	ExcludeTags   []string `json:"exclude_tags,omitempty"`
}

// IsZero reports whether e allows every model.
func (e Eligibility) IsZero() bool {
	return len(e.Models) == 0 && len(e.Tags) == 0 && len(e.ExcludeModels) == 0 && len(e.ExcludeTags) == 0
}

// Allows reports whether e lets a grant pay for model, which carries tags.
// model "" is a generic hold, which names no model: only a grant that is not
// limited to some models (exclusions alone do not limit it) pays for it.
func (e Eligibility) Allows(model string, tags []string) bool {
	if model == "" {
		return len(e.Models) == 0 && len(e.Tags) == 0
	}
	if len(e.Models) > 0 || len(e.Tags) > 0 {
		if !slices.Contains(e.Models, model) && !slices.ContainsFunc(e.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
			return false
		}
	}
	if slices.Contains(e.ExcludeModels, model) {
		return false
	}
	return !slices.ContainsFunc(e.ExcludeTags, func(t string) bool { return slices.Contains(tags, t) })
}

// Plan returns the plan with id, or nil.
func (c *Catalog) Plan(id string) *Plan {
	for _, p := range c.Plans {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// PlanIDs returns every plan id in catalog order.
func (c *Catalog) PlanIDs() []string {
	ids := make([]string, len(c.Plans))
	for i, p := range c.Plans {
		ids[i] = p.ID
	}
	return ids
}

// HasTag reports whether m carries tag.
func (m *Model) HasTag(tag string) bool { return slices.Contains(m.Tags, tag) }
