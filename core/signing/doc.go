// Package signing signs outbound webhooks and verifies inbound ones.
//
// # Outbound
//
// [Sign] sets two header families on every attempt so that any receiver
// can verify it:
//
//   - X-Webhook-ID, X-Webhook-Timestamp and X-Webhook-Signature
//     ("t=<unix>,v1=<hex>"), an HMAC-SHA256 over "<t>.<raw body>" keyed by
//     the secret string as given, whsec_ prefix included. This is Stripe's
//     scheme, so Stripe-style verifiers accept it unchanged.
//   - webhook-id, webhook-timestamp and webhook-signature ("v1,<base64>"),
//     an HMAC-SHA256 over "<id>.<t>.<raw body>" keyed by the base64-decoded
//     part of the secret after whsec_, as the Standard Webhooks spec says.
//
// During a secret rotation every secret signs, so each signature header
// carries one v1 value per secret and a receiver holding either secret
// accepts the request.
//
// [SignWith] also signs Standard Webhooks v1a (ed25519) with an
// endpoint's whsk_ key ([GenerateSigningKey]) when the endpoint asks for
// it, next to v1 or alone; receivers verify with its whpk_ public key.
//
// # Inbound
//
// [Verify] checks a request against one of four [Scheme]s (hookd,
// standard, stripe, github) and a list of secrets, any of which may match.
// A rejected request yields a [*VerifyError] whose Reason is short and safe
// to send back to the sender; any other error means the caller passed a
// bad scheme, secret or tolerance and is a configuration problem.
// [CheckHeaders] tells from the headers alone whether a request can pass,
// so a receiver can refuse it before reading its body. Under the standard
// scheme a whpk_ public key among the secrets verifies v1a signatures.
//
// # Secrets
//
// Secrets look like "whsec_" followed by standard base64 of at least 24
// bytes. [GenerateSecret] makes one from 32 random bytes and
// [ValidateSecret] checks one given by an operator.
//
// Example:
//
//	secret, _ := signing.GenerateSecret()
//	req.Header = http.Header{}
//	err := signing.Sign(req.Header, evt.ID, time.Now(), body, []string{secret})
//
//	res, err := signing.Verify(signing.SchemeHookd, req.Header, body,
//		[]string{secret}, signing.DefaultTolerance, time.Now())
package signing
