package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// DebitRequest takes credits back from an account: a negative adjustment.
type DebitRequest struct {
	Credits Amount `json:"credits" doc:"How many credits to take back: more than 0, at most what is available now (held credits stay with their holds, and the overdraft is never drawn on)."`
	Memo    string `json:"memo,omitempty" doc:"What the entry is, for support and finance (kept in the journal and the audit log); at most 1000 bytes."`
	Reason  string `json:"reason,omitempty" doc:"Why, in words a person wrote (promo granted twice, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin key may give one. Given, it goes to the audit log, in the action's detail as reason."`
}

// Debit is what a debit did: its journal entry, and the account after it.
type Debit struct {
	Account *Account `json:"account" doc:"The account as GET /v1/accounts/{id} reads it just after the debit (a retry with the same Idempotency-Key reads it again)."`
	Entry   Entry    `json:"entry" doc:"The debit's journal entry (kind debit): a posting out of the available book per grant it took from, and the platform's issued book. Its id is 0 here: the store numbers entries as it writes them, and GET /v1/accounts/{id}/entries lists it with its number."`
}

func (s *Server) debitRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-debit",
		Method:        http.MethodPost,
		Path:          "/v1/accounts/{id}/debits",
		Summary:       "Take credits back from an account",
		Description:   "A negative adjustment, for credits granted by mistake and partly spent, or given twice: the credits leave the account's live grants, the ones it would spend last first (the reverse of the consumption order), for the platform's issued book, in one journal entry of kind debit. Audited (account.debit) with the memo and the reason; a support key gives a reason (422 reason_required). 402 insufficient_credits when more is asked than is available (with available_credits, and eligible_available_credits: what can be taken back); 422 invalid_amount.",
		Tags:          []string{"Accounts"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusPaymentRequired},
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[DebitRequest]
		RawBody        []byte
	}) (*struct{ Body *Debit }, error) {
		body := &in.Body.Value
		ctx, err := s.reasoned(ctx, body.Reason)
		if err != nil {
			return nil, s.fail(err)
		}
		c, err := body.Credits.Credits()
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		e, err := s.ledger.Debit(ctx, idem, in.ID, credit.DebitSpec{Credits: c, Memo: body.Memo})
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		v, err := s.ledger.Account(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Debit }{&Debit{Account: NewAccount(v, s.ledger.Now()), Entry: NewEntry(e)}}, nil
	})
}
