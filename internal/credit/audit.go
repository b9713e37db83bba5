package credit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// AuditEntry is one admin action in the audit log: who did what to which
// account, key or catalog, and when. It is written in the transaction of the
// action itself, so the log has an entry for every action that happened and
// for none that did not (a refused or replayed request writes none). Like the
// journal, the log is append-only.
type AuditEntry struct {
	ID     int64 // assigned by the store, increasing
	At     time.Time
	Actor  string // the API key id that did it; "admin" for TALLY_ADMIN_KEY; "cli:USER" for the command line
	Action string // one of the Audit… actions
	Target string // the account id, key id or catalog version acted on
	Detail []byte // JSON: the action's parameters (never a secret)
}

// The audited actions.
const (
	AuditAccountCreate  = "account.create"
	AuditGrantCreate    = "grant.create" // grants and adjustments
	AuditKeyCreate      = "key.create"
	AuditKeyRevoke      = "key.revoke"
	AuditCatalogPublish = "catalog.publish"
	AuditAccountPlan    = "account.plan"        // an account put on a program, or taken off
	AuditSubCreate      = "subscription.create" // subscriptions
	AuditSubCancel      = "subscription.cancel"
	AuditSubChange      = "subscription.change"
	AuditGrantVoid      = "grant.void"
	AuditGrantAmend     = "grant.amend" // a grant's expiry changed
	AuditMemberSet      = "member.set"  // a team member added, or their limit changed
	AuditMemberRemove   = "member.remove"
	AuditAccountAlerts  = "account.alerts"     // an account's balance.low threshold set
	AuditAutoTopup      = "account.auto_topup" // an account's auto top-up set or turned off
	AuditTopupConfirm   = "topup.confirm"
	AuditTopupCancel    = "topup.cancel"
	AuditWebhookCreate  = "webhook.create"
	AuditWebhookDelete  = "webhook.delete"
	AuditWebhookRetry   = "webhook.retry"
	// A person's refund of a generation or release of a hold (one given
	// with a reason, see WithReason), and a negative adjustment.
	AuditGenerationRefund = "generation.refund"
	AuditHoldRelease      = "hold.release"
	AuditAccountDebit     = "account.debit"
)

// MaxAuditPage bounds one page of the audit log.
const MaxAuditPage = 500

type actorKey struct{}

// WithActor returns ctx carrying the identity that acts through it: the key
// id of an API request, "cli:USER" for the command line. The ledger records it
// in the audit log of every admin action.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf returns the actor WithActor put in ctx, "unknown" when none did
// (a bug in the caller, but the action is still recorded).
func ActorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// auditEntry is the audit log's entry of an action by ctx's actor.
func auditEntry(ctx context.Context, at time.Time, action, target string, detail any) (AuditEntry, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return AuditEntry{}, Errorf(Internal, "encode", "ledger: encode audit detail: %v", err)
	}
	if r := ReasonOf(ctx); r != "" && len(d) > 1 && d[0] == '{' {
		// The reason leads the detail: {"reason":"…", …the action's own}.
		reason, _ := json.Marshal(r)
		rest := d[1:]
		d = append([]byte(`{"reason":`), reason...)
		if len(rest) > 1 {
			d = append(d, ',')
		}
		d = append(d, rest...)
	}
	return AuditEntry{At: at, Actor: ActorOf(ctx), Action: action, Target: target, Detail: d}, nil
}

// audit appends to the batch's audit log the entry of an action decided on b.
func audit(ctx context.Context, b *Book, at time.Time, action, target string, detail any) error {
	e, err := auditEntry(ctx, at, action, target, detail)
	if err != nil {
		return err
	}
	b.appendAudit(e)
	return nil
}

// auditTx appends to the audit log, in tx, the entry of an action done in tx.
func auditTx(ctx context.Context, tx Tx, at time.Time, action, target string, detail any) error {
	e, err := auditEntry(ctx, at, action, target, detail)
	if err != nil {
		return err
	}
	return tx.AppendAudit(&e)
}

// Audit returns the audit log, newest first: up to limit entries with ID <
// before (0: from the newest). Invalid when limit is not 1 to MaxAuditPage.
func (l *Ledger) Audit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if limit < 1 || limit > MaxAuditPage {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxAuditPage, limit)
	}
	if before < 0 {
		return nil, Errorf(Invalid, "invalid_cursor", "the cursor must not be negative")
	}
	return view(ctx, l, func(tx Tx, _ time.Time) ([]AuditEntry, error) { return tx.AuditLog(before, limit) })
}

// PublishAudit is the audit entry of publishing r, which the store appends in
// the transaction that stores r.
func PublishAudit(r CatalogRecord) AuditEntry {
	sum := sha256.Sum256(r.YAML)
	d, _ := json.Marshal(struct {
		EffectiveAt time.Time `json:"effective_at"`
		Bytes       int       `json:"bytes"`
		SHA256      string    `json:"sha256"`
	}{r.EffectiveAt.UTC(), len(r.YAML), hex.EncodeToString(sum[:])})
	actor := r.PublishedBy
	if actor == "" {
		actor = "unknown"
	}
	return AuditEntry{At: r.PublishedAt.UTC().Truncate(time.Microsecond), Actor: actor, Action: AuditCatalogPublish, Target: r.Version, Detail: d}
}
