package signing

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheme names how an inbound request is signed.
type Scheme string

// The inbound schemes Verify understands.
const (
	// SchemeHookd is what Sign sends: X-Webhook-Signature "t=..,v1=.."
	// keyed by the secret string, event id from X-Webhook-ID.
	SchemeHookd Scheme = "hookd"
	// SchemeStandard is Standard Webhooks: webhook-id, webhook-timestamp
	// and webhook-signature, v1 keyed by the base64-decoded whsec_
	// secret, or v1a (ed25519) checked with a whpk_ public key given as
	// the secret.
	SchemeStandard Scheme = "standard"
	// SchemeStripe is Stripe-Signature "t=..,v1=.." keyed by the secret
	// string, event id from the body's top-level "id".
	SchemeStripe Scheme = "stripe"
	// SchemeGitHub is X-Hub-Signature-256 "sha256=<hex>" over the body,
	// event id from X-GitHub-Delivery; it carries no timestamp.
	SchemeGitHub Scheme = "github"
)

// Schemes lists every scheme Verify understands, in documentation order.
var Schemes = []Scheme{SchemeHookd, SchemeStandard, SchemeStripe, SchemeGitHub}

// DefaultTolerance is how far a signed timestamp may be from now in either
// direction when Verify is given a tolerance of zero.
const DefaultTolerance = 5 * time.Minute

// ParseScheme turns a configured name into a Scheme. Matching ignores case
// and surrounding spaces; the error lists the allowed names.
func ParseScheme(s string) (Scheme, error) {
	if name := Scheme(strings.ToLower(strings.TrimSpace(s))); knownScheme(name) {
		return name, nil
	}
	return "", fmt.Errorf("unknown signature scheme %q; allowed: %s", s, schemeList())
}

func knownScheme(s Scheme) bool {
	for _, known := range Schemes {
		if s == known {
			return true
		}
	}
	return false
}

func schemeList() string {
	names := make([]string, len(Schemes))
	for i, s := range Schemes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Result describes a request Verify accepted.
type Result struct {
	Scheme Scheme
	// EventID is the sender's id for the event, the key to dedupe on.
	EventID string
	// Timestamp is the signed send time; zero for SchemeGitHub.
	Timestamp time.Time
	// SecretIndex is the position in secrets of the secret that matched.
	SecretIndex int
}

// VerifyError is a rejected request. Reason is short, names the header or
// check that failed and never contains secret material, so it is safe to
// return to the sender.
type VerifyError struct {
	Reason string
}

func (e *VerifyError) Error() string { return "webhook rejected: " + e.Reason }

// Reasons that do not depend on a header name.
const (
	ReasonNoMatch      = "no signature matched"
	ReasonTooOld       = "timestamp too old"
	ReasonTooNew       = "timestamp too far in the future"
	ReasonNoEventID    = "missing event id"
	ReasonBodyNotJSON  = "body is not a JSON object"
	ReasonTimeMismatch = "X-Webhook-Timestamp does not match t in X-Webhook-Signature"
	ReasonIDMismatch   = "X-Webhook-ID does not match the id in the signed body"
	ReasonIDUnsigned   = "X-Webhook-ID is not covered by a signature: a body without that id needs webhook-id and webhook-signature too"
)

func reject(reason string) error { return &VerifyError{Reason: reason} }

func missing(header string) error { return reject("missing " + header + " header") }

func malformed(header string) error { return reject("malformed " + header + " header") }

// Verify checks that body and h were signed under scheme by one of secrets
// (any may match, which is how a rotation is carried out) and that the
// signed timestamp lies within tolerance of now in either direction
// (tolerance 0 means DefaultTolerance). All signature comparisons are
// constant time.
//
// A rejected request returns a *VerifyError. Any other error means the
// arguments are wrong (unknown scheme, no or unusable secrets, negative
// tolerance) and no request can pass until the configuration is fixed.
func Verify(scheme Scheme, h http.Header, body []byte, secrets []string, tolerance time.Duration, now time.Time) (Result, error) {
	if err := checkArgs(scheme, secrets, tolerance); err != nil {
		return Result{}, err
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	var (
		res Result
		err error
	)
	switch scheme {
	case SchemeHookd:
		res, err = verifyHookd(h, body, secrets)
	case SchemeStandard:
		res, err = verifyStandard(h, body, secrets)
	case SchemeStripe:
		res, err = verifyStripe(h, body, secrets)
	case SchemeGitHub:
		res, err = verifyGitHub(h, body, secrets)
	}
	if err != nil {
		return Result{}, err
	}
	res.Scheme = scheme
	if scheme != SchemeGitHub {
		if err := checkTimestamp(res.Timestamp, tolerance, now); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

func checkArgs(scheme Scheme, secrets []string, tolerance time.Duration) error {
	if !knownScheme(scheme) {
		return fmt.Errorf("signing: verify: unknown scheme %q; allowed: %s", scheme, schemeList())
	}
	if len(secrets) == 0 {
		return errors.New("signing: verify: no secrets configured; want at least one")
	}
	for i, s := range secrets {
		if s == "" {
			return fmt.Errorf("signing: verify: secret %d is empty", i)
		}
		if scheme == SchemeStandard {
			if strings.HasPrefix(s, PublicKeyPrefix) {
				if _, err := parsePublicKey(s); err != nil {
					return fmt.Errorf("signing: verify: secret %d: %w", i, err)
				}
			} else if _, err := standardKey(s); err != nil {
				return fmt.Errorf("signing: verify: secret %d: %w", i, err)
			}
		}
	}
	if tolerance < 0 {
		return fmt.Errorf("signing: verify: tolerance %s is negative; want 0 (default %s) or more", tolerance, DefaultTolerance)
	}
	return nil
}

// checkTimestamp runs after the signature check so that only an
// authentic but stale or early request learns about its timestamp.
func checkTimestamp(ts time.Time, tolerance time.Duration, now time.Time) error {
	if ts.Before(now.Add(-tolerance)) {
		return reject(ReasonTooOld)
	}
	if ts.After(now.Add(tolerance)) {
		return reject(ReasonTooNew)
	}
	return nil
}

// parseUnix reads a decimal count of seconds since the epoch.
func parseUnix(s string) (time.Time, bool) {
	if s == "" || len(s) > 19 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// matchAny returns the index of the first secret whose expected MAC equals
// one of the candidates, or -1. Every comparison is constant time. A mac
// that returns nil (the secret cannot make one) matches nothing.
func matchAny(secrets []string, candidates [][]byte, mac func(secret string) []byte) int {
	for i, s := range secrets {
		want := mac(s)
		if len(want) == 0 {
			continue // no MAC under this secret; an empty candidate must not "match" it
		}
		for _, c := range candidates {
			if hmac.Equal(want, c) {
				return i
			}
		}
	}
	return -1
}

// bodyEventID reads the top-level "id" string of a JSON object body.
func bodyEventID(body []byte) (string, error) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", reject(ReasonBodyNotJSON)
	}
	var id string
	if len(v.ID) == 0 || json.Unmarshal(v.ID, &id) != nil || id == "" {
		return "", reject(ReasonNoEventID)
	}
	return id, nil
}

// CheckHeaders tells from the headers alone whether a request can pass
// Verify under scheme: the headers the scheme needs are present and well
// formed. It returns the *VerifyError Verify would, so a receiver can
// refuse before reading the body (which the signature covers). A nil
// result says nothing about the signature itself.
func CheckHeaders(scheme Scheme, h http.Header) error {
	switch scheme {
	case SchemeHookd:
		if h.Get(HeaderSignature) == "" {
			return missing(HeaderSignature)
		}
		if h.Get(HeaderID) == "" {
			return missing(HeaderID)
		}
		_, _, _, err := parseTV(h.Get(HeaderSignature), HeaderSignature)
		return err
	case SchemeStandard:
		for _, name := range []string{HeaderStandardID, HeaderStandardTimestamp, HeaderStandardSignature} {
			if h.Get(name) == "" {
				return missing(name)
			}
		}
		if _, ok := parseUnix(h.Get(HeaderStandardTimestamp)); !ok {
			return malformed(HeaderStandardTimestamp)
		}
		_, _, err := parseStandardSignatures(h.Get(HeaderStandardSignature))
		return err
	case SchemeStripe:
		if h.Get(HeaderStripeSignature) == "" {
			return missing(HeaderStripeSignature)
		}
		_, _, _, err := parseTV(h.Get(HeaderStripeSignature), HeaderStripeSignature)
		return err
	case SchemeGitHub:
		if h.Get(HeaderGitHubSignature) == "" {
			return missing(HeaderGitHubSignature)
		}
		if h.Get(HeaderGitHubDelivery) == "" {
			return missing(HeaderGitHubDelivery)
		}
		if _, ok := strings.CutPrefix(strings.TrimSpace(h.Get(HeaderGitHubSignature)), "sha256="); !ok {
			return malformed(HeaderGitHubSignature)
		}
		return nil
	}
	return fmt.Errorf("signing: check headers: unknown scheme %q; allowed: %s", scheme, schemeList())
}
