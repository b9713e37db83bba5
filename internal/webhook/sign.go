package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The headers of a delivery (Standard Webhooks).
const (
	// HeaderID is the event's ID, the same on every attempt: the
	// receiver's idempotency key.
	HeaderID = "webhook-id"
	// HeaderTimestamp is the attempt's time in Unix seconds, signed with
	// the body so that a receiver can refuse a replayed request.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature is the signature of the attempt: "v1," and the
	// base64 of its HMAC-SHA256.
	HeaderSignature = "webhook-signature"
)

// UserAgent is the User-Agent of every delivery.
const UserAgent = "tally-webhooks"

// Sign returns the webhook-signature of a delivery attempt: "v1," and the
// standard base64 of the HMAC-SHA256, keyed with the secret's key, of the
// message ID, the attempt's Unix seconds and the body, joined by ".". An ID
// holding "." could make two messages sign alike, so it is refused
// (Internal, as tally makes every ID), as is an unreadable secret (see
// DecodeSecret).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	if msgID == "" || strings.Contains(msgID, ".") {
		return "", credit.Errorf(credit.Internal, "invalid_webhook_id", "webhook: message id %q is empty or holds a full stop", msgID)
	}
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
