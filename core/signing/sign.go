package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names hookd sends and reads.
const (
	HeaderID        = "X-Webhook-ID"
	HeaderTimestamp = "X-Webhook-Timestamp"
	HeaderSignature = "X-Webhook-Signature"

	HeaderStandardID        = "webhook-id"
	HeaderStandardTimestamp = "webhook-timestamp"
	HeaderStandardSignature = "webhook-signature"

	HeaderStripeSignature = "Stripe-Signature"
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
)

// Sign sets the six signature headers on h for one attempt of event id
// sent at ts with exactly body as its payload: X-Webhook-ID,
// X-Webhook-Timestamp, X-Webhook-Signature, webhook-id, webhook-timestamp
// and webhook-signature. Every secret signs, in the order given, which is
// how a rotation is carried out; each must pass [ValidateSecret].
//
// The caller must send body byte for byte as passed here and must call
// Sign again for every attempt so the timestamp stays fresh.
func Sign(h http.Header, id string, ts time.Time, body []byte, secrets []string) error {
	if h == nil {
		return errors.New("signing: sign: header map is nil")
	}
	if err := validateID(id); err != nil {
		return fmt.Errorf("signing: sign: %w", err)
	}
	if len(secrets) == 0 {
		return errors.New("signing: sign: no secrets given; want at least one whsec_ secret")
	}
	t := strconv.FormatInt(ts.Unix(), 10)
	hookd := make([]string, 0, len(secrets)+1)
	hookd = append(hookd, "t="+t)
	standard := make([]string, 0, len(secrets))
	for i, secret := range secrets {
		if err := ValidateSecret(secret); err != nil {
			return fmt.Errorf("signing: sign: secret %d: %w", i, err)
		}
		key, _ := standardKey(secret) // ValidateSecret has checked it decodes
		hookd = append(hookd, "v1="+hex.EncodeToString(macStripe([]byte(secret), t, body)))
		standard = append(standard, "v1,"+base64.StdEncoding.EncodeToString(macStandard(key, id, t, body)))
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, t)
	h.Set(HeaderSignature, strings.Join(hookd, ","))
	h.Set(HeaderStandardID, id)
	h.Set(HeaderStandardTimestamp, t)
	h.Set(HeaderStandardSignature, strings.Join(standard, " "))
	return nil
}

// validateID refuses ids that cannot travel in a header or would make the
// Standard Webhooks signed content ambiguous to a receiver.
func validateID(id string) error {
	if id == "" {
		return errors.New("event id is empty")
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("event id %q has a character outside printable ASCII without spaces", id)
		}
	}
	return nil
}

// macStripe is HMAC-SHA256(key, "<t>.<body>"), the Stripe and hookd scheme.
func macStripe(key []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// macStandard is HMAC-SHA256(key, "<id>.<t>.<body>"), the Standard
// Webhooks scheme.
func macStandard(key []byte, id, t string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// macBody is HMAC-SHA256(key, body), the GitHub scheme.
func macBody(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}
