package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// AuditEntry is one admin or support action in the audit log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor" doc:"The API key id that did it; admin for TALLY_ADMIN_KEY; cli:USER for the command line."`
	Action string          `json:"action" enum:"account.create,account.plan,account.alerts,account.auto_topup,grant.create,grant.void,grant.amend,subscription.create,subscription.cancel,subscription.change,member.set,member.remove,topup.confirm,topup.cancel,webhook.create,webhook.delete,webhook.retry,key.create,key.revoke,catalog.publish,generation.refund,hold.release,account.debit"`
	Target string          `json:"target" doc:"The account id, key id, webhook id or catalog version acted on."`
	Detail json.RawMessage `json:"detail" doc:"The action's parameters (never a secret), led by reason when the key gave one."`
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
		Summary:     "The audit log: every admin and support action and the key that did it",
		Description: "Accounts opened and put on programs, grants and adjustments, debits, grants voided and their expiries moved, a person's refunds and released holds (those given with a reason), subscriptions started, canceled and changed, team members set and removed, alerts and auto top-ups set, top-ups confirmed and canceled, webhooks made, deleted and retried, API keys made and revoked, catalogs published; newest first, paged. An action given a reason shows it in its detail (reason). Written in the transaction of each action and append-only. Admin keys only; an account's own trail is GET /v1/accounts/{id}/audit.",
		Tags:        []string{"Audit"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: the newest entries."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Entries per page."`
	}) (*struct{ Body AuditLog }, error) {
		out, err := auditPage(in.Cursor, in.Limit, func(before int64, limit int) ([]credit.AuditEntry, error) {
			return s.ledger.Audit(ctx, before, limit)
		})
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body AuditLog }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-account-audit",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/audit",
		Summary:     "An account's audit trail: who changed it, and why",
		Description: "The audit entries of actions on the account — opened, put on a program, grants, debits, voids, expiries moved, subscriptions, members, alerts, auto top-up, top-ups answered, and a person's refunds and released holds (those given with a reason) — newest first, paged like GET /v1/audit, each with the key that did it and, when given, the reason in its detail. Admin and support keys.",
		Tags:        []string{"Audit"},
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Account id."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: the newest entries."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Entries per page."`
	}) (*struct{ Body AuditLog }, error) {
		out, err := auditPage(in.Cursor, in.Limit, func(before int64, limit int) ([]credit.AuditEntry, error) {
			return s.ledger.AccountAudit(ctx, in.ID, before, limit)
		})
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body AuditLog }{out}, nil
	})
}

// auditPage reads the page of an audit log after cursor ("" for the
// newest) of at most limit entries (0: DefaultPageSize) with read, and says
// whether older ones remain, so that the last page carries no cursor.
func auditPage(cursor string, limit int, read func(before int64, limit int) ([]credit.AuditEntry, error)) (AuditLog, error) {
	var before int64
	if cursor != "" {
		var err error
		if before, err = decodeCursor(cursor); err != nil {
			return AuditLog{}, err
		}
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	// One more than asked says whether there is a next page; a page of the
	// largest size looks one entry further.
	page, err := read(before, min(limit+1, credit.MaxAuditPage))
	if err != nil {
		return AuditLog{}, err
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	} else if len(page) == limit && limit == credit.MaxAuditPage {
		next, err := read(page[len(page)-1].ID, 1)
		if err != nil {
			return AuditLog{}, err
		}
		more = len(next) > 0
	}
	out := AuditLog{Entries: make([]AuditEntry, len(page))}
	for i, e := range page {
		out.Entries[i] = AuditEntry{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail}
	}
	if more {
		out.NextCursor = encodeCursor(page[len(page)-1].ID)
	}
	return out, nil
}
