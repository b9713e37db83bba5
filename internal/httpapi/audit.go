package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// AuditEntry is one admin action in the audit log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor" doc:"The API key id that did it; admin for TALLY_ADMIN_KEY; cli:USER for the command line."`
	Action string          `json:"action" enum:"account.create,account.plan,account.alerts,account.auto_topup,grant.create,grant.void,grant.amend,subscription.create,subscription.cancel,subscription.change,member.set,member.remove,topup.confirm,topup.cancel,webhook.create,webhook.delete,webhook.retry,key.create,key.revoke,catalog.publish"`
	Target string          `json:"target" doc:"The account id, key id, webhook id or catalog version acted on."`
	Detail json.RawMessage `json:"detail" doc:"The action's parameters (never a secret)."`
}

// AuditLog is a page of the audit log, newest first.
type AuditLog struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last."`
}

func (s *Server) auditRoutes() {
	register(s, huma.Operation{
		OperationID: "list-audit",
		Method:      http.MethodGet,
		Path:        "/v1/audit",
		Summary:     "The audit log: every admin action and the key that did it",
		Description: "Accounts opened and put on programs, grants and adjustments, grants voided and their expiries moved, subscriptions started, canceled and changed, team members set and removed, alerts and auto top-ups set, top-ups confirmed and canceled, webhooks made, deleted and retried, API keys made and revoked, catalogs published; newest first, paged. Written in the transaction of each action and append-only. Admin keys only.",
		Tags:        []string{"Audit"},
	}, accessAdmin, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: the newest entries."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Entries per page."`
	}) (*struct{ Body AuditLog }, error) {
		var before int64
		if in.Cursor != "" {
			var err error
			if before, err = decodeCursor(in.Cursor); err != nil {
				return nil, s.fail(err)
			}
		}
		limit := in.Limit
		if limit == 0 {
			limit = DefaultPageSize
		}
		// One more than asked says whether there is a next page.
		page, err := s.ledger.Audit(ctx, before, min(limit+1, credit.MaxAuditPage))
		if err != nil {
			return nil, s.fail(err)
		}
		out := AuditLog{Entries: []AuditEntry{}}
		for i, e := range page {
			if i == limit {
				out.NextCursor = encodeCursor(page[i-1].ID)
				break
			}
			out.Entries = append(out.Entries, AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
		}
		return &struct{ Body AuditLog }{out}, nil
	})
}
