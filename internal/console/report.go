package console

import (
	"net/http"

	"github.com/tally-credits/tally/internal/credit"
)

// reportsView is the Reports page's frame: the script asks the API for the
// liability and consumption reports (GET /v1/reports/…, admin and support
// keys) and draws them. Sources are the grant sources in the order the
// charts stack them; Names maps the catalog's model ids to their names.
type reportsView struct {
	Sources []sourceView
	Names   []idName
}

// sourceView is a grant source and what the console calls it.
type sourceView struct{ ID, Label string }

// reportSources are the grant sources in the order the consumption chart
// stacks them: the kinds of balance a studio sells and gives first, then
// the corrections, then the overdraft.
var reportSources = []sourceView{
	{string(credit.SourceFree), "Free"},
	{string(credit.SourceSubscription), "Subscription"},
	{string(credit.SourceTopup), "Top-up"},
	{string(credit.SourcePromo), "Promo"},
	{string(credit.SourceRollover), "Rollover"},
	{string(credit.SourceRefund), "Refund"},
	{string(credit.SourceAdjustment), "Adjustment"},
	{string(credit.SourceOverdraft), "Overdraft"},
}

func (c *console) reports(w http.ResponseWriter, r *http.Request) {
	v := reportsView{Sources: reportSources, Names: modelNames(c.cfg.Catalog())}
	c.render(w, r, http.StatusOK, "reports", layout{Title: "Reports", Nav: "reports", Scripts: []string{"reports.js"}, Page: v})
}
