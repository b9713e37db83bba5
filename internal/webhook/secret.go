package webhook

import (
	"encoding/base64"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

// SecretPrefix marks a signing secret for what it is (Standard Webhooks'
// serialization of a symmetric key).
const SecretPrefix = "whsec_"

// The key lengths the specification allows a symmetric secret.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// DecodeSecret returns the key of a secret credit.NewWebhookSecret made. A secret without
// the prefix, not base64, or of a key shorter than 24 or longer than 64
// bytes is Internal invalid_webhook_secret: tally makes every secret, so a
// bad one is a stored value gone wrong, never a caller's mistake.
func DecodeSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, credit.Errorf(credit.Internal, "invalid_webhook_secret", "webhook: a signing secret starts with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, credit.Errorf(credit.Internal, "invalid_webhook_secret", "webhook: a signing secret is %q and standard base64", SecretPrefix)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, credit.Errorf(credit.Internal, "invalid_webhook_secret", "webhook: a signing key is %d to %d bytes, not %d", minSecretBytes, maxSecretBytes, len(key))
	}
	return key, nil
}
