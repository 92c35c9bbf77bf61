package signing_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/core/signing"
)

const tolerance = 5 * time.Minute

// request is one inbound request to verify.
type request struct {
	h    http.Header
	body []byte
}

// hmacHex is HMAC-SHA256 in hex, computed here independently of the package.
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func signedHookd(t *testing.T, id string, ts time.Time, body string, secrets ...string) request {
	t.Helper()
	h := http.Header{}
	if err := signing.Sign(h, id, ts, []byte(body), secrets); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return request{h, []byte(body)}
}

// signedStandard signs with the Standard Webhooks library, not this package.
func signedStandard(t *testing.T, id string, ts time.Time, body, secret string) request {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	sig, err := wh.Sign(id, ts, []byte(body))
	if err != nil {
		t.Fatalf("library Sign: %v", err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return request{h, []byte(body)}
}

// signedStripe follows Stripe's documented scheme: Stripe-Signature
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", plus a v0 as
// Stripe sends in test mode.
func signedStripe(ts time.Time, body, secret string) request {
	t := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set("Stripe-Signature", fmt.Sprintf("t=%s,v1=%s,v0=%s", t, hmacHex(secret, t+"."+body), strings.Repeat("ab", 32)))
	return request{h, []byte(body)}
}

// signedGitHub follows GitHub's documented X-Hub-Signature-256.
func signedGitHub(delivery, body, secret string) request {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-GitHub-Event", "push")
	return request{h, []byte(body)}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()

	now := time.Unix(1_750_000_000, 0)
	ts := now.Add(-30 * time.Second)
	secret, other := newSecret(t), newSecret(t)
	plain := "gh-webhook-secret" // GitHub and Stripe secrets need not be whsec_
	body := `{"id":"evt_42","type":"order.paid"}`

	tests := []struct {
		name    string
		scheme  signing.Scheme
		req     request
		secrets []string
		want    signing.Result
	}{
		{"hookd from Sign", signing.SchemeHookd, signedHookd(t, "evt_42", ts, body, secret), []string{secret},
			signing.Result{Scheme: signing.SchemeHookd, EventID: "evt_42", Timestamp: ts}},
		{"hookd rotation, old secret configured second", signing.SchemeHookd, signedHookd(t, "evt_42", ts, body, other), []string{secret, other},
			signing.Result{Scheme: signing.SchemeHookd, EventID: "evt_42", Timestamp: ts, SecretIndex: 1}},
		{"hookd signed by two secrets", signing.SchemeHookd, signedHookd(t, "evt_42", ts, body, other, secret), []string{secret},
			signing.Result{Scheme: signing.SchemeHookd, EventID: "evt_42", Timestamp: ts}},
		{"standard from library", signing.SchemeStandard, signedStandard(t, "msg_1", ts, body, secret), []string{secret},
			signing.Result{Scheme: signing.SchemeStandard, EventID: "msg_1", Timestamp: ts}},
		{"standard secret without prefix", signing.SchemeStandard, signedStandard(t, "msg_1", ts, body, secret), []string{strings.TrimPrefix(secret, "whsec_")},
			signing.Result{Scheme: signing.SchemeStandard, EventID: "msg_1", Timestamp: ts}},
		{"standard rotation", signing.SchemeStandard, signedStandard(t, "msg_1", ts, body, other), []string{secret, other},
			signing.Result{Scheme: signing.SchemeStandard, EventID: "msg_1", Timestamp: ts, SecretIndex: 1}},
		{"standard from Sign", signing.SchemeStandard, signedHookd(t, "evt_42", ts, body, secret), []string{secret},
			signing.Result{Scheme: signing.SchemeStandard, EventID: "evt_42", Timestamp: ts}},
		{"stripe", signing.SchemeStripe, signedStripe(ts, body, plain), []string{plain},
			signing.Result{Scheme: signing.SchemeStripe, EventID: "evt_42", Timestamp: ts}},
		{"stripe whsec secret", signing.SchemeStripe, signedStripe(ts, body, secret), []string{other, secret},
			signing.Result{Scheme: signing.SchemeStripe, EventID: "evt_42", Timestamp: ts, SecretIndex: 1}},
		{"github", signing.SchemeGitHub, signedGitHub("72d3162e-cc78-11e3-81ab-4c9367dc0958", body, plain), []string{plain},
			signing.Result{Scheme: signing.SchemeGitHub, EventID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := signing.Verify(tt.scheme, tt.req.h, tt.req.body, tt.secrets, tolerance, now)
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if got.Scheme != tt.want.Scheme || got.EventID != tt.want.EventID ||
				!got.Timestamp.Equal(tt.want.Timestamp) || got.SecretIndex != tt.want.SecretIndex {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// reasonOf returns the VerifyError reason of err, failing if err is not one.
func reasonOf(t *testing.T, err error) string {
	t.Helper()
	var ve *signing.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *signing.VerifyError", err, err)
	}
	return ve.Reason
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()

	now := time.Unix(1_750_000_000, 0)
	ts := now.Add(-time.Minute)
	secret, wrong := newSecret(t), newSecret(t)
	body := `{"id":"evt_7"}`

	with := func(r request, mutate func(h http.Header)) request {
		h := r.h.Clone()
		mutate(h)
		return request{h, r.body}
	}
	hookd := signedHookd(t, "evt_7", ts, body, secret)
	envelope := signedHookd(t, "evt_7", ts, `{"id":"evt_7","type":"a.b","created":"2026-01-01T00:00:00Z","data":{}}`, secret)
	std := signedStandard(t, "msg_7", ts, body, secret)
	stripe := signedStripe(ts, body, secret)
	gh := signedGitHub("d-1", body, secret)

	tests := []struct {
		name   string
		scheme signing.Scheme
		req    request
		secret string
		want   string
	}{
		{"hookd tampered body", signing.SchemeHookd, request{hookd.h, []byte(`{"id":"evt_8"}`)}, secret, "no signature matched"},
		{"hookd wrong secret", signing.SchemeHookd, hookd, wrong, "no signature matched"},
		{"hookd missing signature", signing.SchemeHookd, request{http.Header{}, hookd.body}, secret, "missing X-Webhook-Signature header"},
		{"hookd missing id", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Del("X-Webhook-ID") }), secret, "missing X-Webhook-ID header"},
		{"hookd too old", signing.SchemeHookd, signedHookd(t, "evt_7", now.Add(-tolerance-time.Second), body, secret), secret, "timestamp too old"},
		{"hookd too new", signing.SchemeHookd, signedHookd(t, "evt_7", now.Add(tolerance+time.Second), body, secret), secret, "timestamp too far in the future"},
		{"hookd envelope replayed under a new id", signing.SchemeHookd, with(envelope, func(h http.Header) { h.Set("X-Webhook-ID", "evt_new") }), secret, signing.ReasonIDMismatch},
		{"hookd timestamp header differs", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Timestamp", "1") }), secret, signing.ReasonTimeMismatch},
		{"hookd no t", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Signature", "v1=00") }), secret, "malformed X-Webhook-Signature header"},
		{"hookd no v1", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Signature", "t=1750000000") }), secret, "malformed X-Webhook-Signature header"},
		{"hookd garbage", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Signature", "garbage") }), secret, "malformed X-Webhook-Signature header"},
		{"hookd t not a number", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Signature", "t=soon,v1=00") }), secret, "malformed X-Webhook-Signature header"},
		{"hookd two t", signing.SchemeHookd, with(hookd, func(h http.Header) { h.Set("X-Webhook-Signature", "t=1,t=2,v1=00") }), secret, "malformed X-Webhook-Signature header"},
		{"hookd v1 not hex", signing.SchemeHookd, with(hookd, func(h http.Header) {
			h.Set("X-Webhook-Signature", "t="+h.Get("X-Webhook-Timestamp")+",v1=zz")
		}), secret, "no signature matched"},

		{"standard tampered body", signing.SchemeStandard, request{std.h, []byte(`{}`)}, secret, "no signature matched"},
		{"standard wrong secret", signing.SchemeStandard, std, wrong, "no signature matched"},
		{"standard tampered id", signing.SchemeStandard, with(std, func(h http.Header) { h.Set("webhook-id", "msg_8") }), secret, "no signature matched"},
		{"standard missing id", signing.SchemeStandard, with(std, func(h http.Header) { h.Del("webhook-id") }), secret, "missing webhook-id header"},
		{"standard missing timestamp", signing.SchemeStandard, with(std, func(h http.Header) { h.Del("webhook-timestamp") }), secret, "missing webhook-timestamp header"},
		{"standard missing signature", signing.SchemeStandard, with(std, func(h http.Header) { h.Del("webhook-signature") }), secret, "missing webhook-signature header"},
		{"standard too old", signing.SchemeStandard, signedStandard(t, "m", now.Add(-tolerance-time.Second), body, secret), secret, "timestamp too old"},
		{"standard too new", signing.SchemeStandard, signedStandard(t, "m", now.Add(tolerance+time.Second), body, secret), secret, "timestamp too far in the future"},
		{"standard bad timestamp", signing.SchemeStandard, with(std, func(h http.Header) { h.Set("webhook-timestamp", "-5") }), secret, "malformed webhook-timestamp header"},
		{"standard entry without version", signing.SchemeStandard, with(std, func(h http.Header) { h.Set("webhook-signature", "abc") }), secret, "malformed webhook-signature header"},
		{"standard only v1a with a whsec_ secret", signing.SchemeStandard, with(std, func(h http.Header) { h.Set("webhook-signature", "v1a,abc") }), secret, "no signature matched"},
		{"standard only unknown versions", signing.SchemeStandard, with(std, func(h http.Header) { h.Set("webhook-signature", "v2,abc v9,x") }), secret, "no v1 or v1a signature in webhook-signature header"},

		{"stripe tampered body", signing.SchemeStripe, request{stripe.h, []byte(`{"id":"evt_9"}`)}, secret, "no signature matched"},
		{"stripe wrong secret", signing.SchemeStripe, stripe, wrong, "no signature matched"},
		{"stripe missing header", signing.SchemeStripe, request{http.Header{}, stripe.body}, secret, "missing Stripe-Signature header"},
		{"stripe too old", signing.SchemeStripe, signedStripe(now.Add(-time.Hour), body, secret), secret, "timestamp too old"},
		{"stripe too new", signing.SchemeStripe, signedStripe(now.Add(time.Hour), body, secret), secret, "timestamp too far in the future"},
		{"stripe malformed", signing.SchemeStripe, with(stripe, func(h http.Header) { h.Set("Stripe-Signature", "t=,v1=") }), secret, "malformed Stripe-Signature header"},
		{"stripe body not JSON", signing.SchemeStripe, signedStripe(ts, "not json", secret), secret, "body is not a JSON object"},
		{"stripe body without id", signing.SchemeStripe, signedStripe(ts, `{"type":"x"}`, secret), secret, "missing event id"},
		{"stripe numeric id", signing.SchemeStripe, signedStripe(ts, `{"id":7}`, secret), secret, "missing event id"},

		{"github tampered body", signing.SchemeGitHub, request{gh.h, []byte(`{}`)}, secret, "no signature matched"},
		{"github wrong secret", signing.SchemeGitHub, gh, wrong, "no signature matched"},
		{"github missing signature", signing.SchemeGitHub, with(gh, func(h http.Header) { h.Del("X-Hub-Signature-256") }), secret, "missing X-Hub-Signature-256 header"},
		{"github missing delivery", signing.SchemeGitHub, with(gh, func(h http.Header) { h.Del("X-GitHub-Delivery") }), secret, "missing X-GitHub-Delivery header"},
		{"github sha1 prefix", signing.SchemeGitHub, with(gh, func(h http.Header) { h.Set("X-Hub-Signature-256", "sha1=00") }), secret, "malformed X-Hub-Signature-256 header"},
		{"github not hex", signing.SchemeGitHub, with(gh, func(h http.Header) { h.Set("X-Hub-Signature-256", "sha256=xyz") }), secret, "malformed X-Hub-Signature-256 header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := signing.Verify(tt.scheme, tt.req.h, tt.req.body, []string{tt.secret}, tolerance, now)
			if got := reasonOf(t, err); got != tt.want {
				t.Fatalf("reason = %q, want %q", got, tt.want)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error %q contains the secret", err)
			}
		})
	}
}

func TestVerifyToleranceEdges(t *testing.T) {
	t.Parallel()

	now := time.Unix(1_750_000_000, 0)
	secret := newSecret(t)
	for _, ts := range []time.Time{now.Add(-tolerance), now.Add(tolerance), now} {
		r := signedHookd(t, "e", ts, "{}", secret)
		if _, err := signing.Verify(signing.SchemeHookd, r.h, r.body, []string{secret}, tolerance, now); err != nil {
			t.Errorf("timestamp now%+v: Verify = %v, want accepted at the edge", ts.Sub(now), err)
		}
	}
	// Zero tolerance means DefaultTolerance, not "exactly now".
	r := signedHookd(t, "e", now.Add(-signing.DefaultTolerance+time.Second), "{}", secret)
	if _, err := signing.Verify(signing.SchemeHookd, r.h, r.body, []string{secret}, 0, now); err != nil {
		t.Errorf("tolerance 0: Verify = %v, want DefaultTolerance applied", err)
	}
}

func TestVerifyConfigErrors(t *testing.T) {
	t.Parallel()

	secret := newSecret(t)
	r := signedHookd(t, "e", time.Now(), "{}", secret)
	tests := []struct {
		name      string
		scheme    signing.Scheme
		secrets   []string
		tolerance time.Duration
		want      string
	}{
		{"unknown scheme", "svix", []string{secret}, tolerance, "allowed: hookd, standard, stripe, github"},
		{"no secrets", signing.SchemeHookd, nil, tolerance, "no secrets configured"},
		{"empty secret", signing.SchemeHookd, []string{secret, ""}, tolerance, "secret 1 is empty"},
		{"standard secret not base64", signing.SchemeStandard, []string{"whsec_***"}, tolerance, "secret 0"},
		{"negative tolerance", signing.SchemeHookd, []string{secret}, -time.Second, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := signing.Verify(tt.scheme, r.h, r.body, tt.secrets, tt.tolerance, time.Now())
			var ve *signing.VerifyError
			if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify = %v, want a configuration error containing %q", err, tt.want)
			}
		})
	}
}

// A body that is not hookd's envelope (an endpoint with body_format data)
// may carry an id of its own; only an envelope's id must match the header.
func TestVerifyHookdDataBodyWithItsOwnID(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	secret := newSecret(t)
	req := signedHookd(t, "evt_1", now, `{"id":"ord_1","amount":42}`, secret)
	res, err := signing.Verify(signing.SchemeHookd, req.h, req.body, []string{secret}, time.Minute, now)
	if err != nil || res.EventID != "evt_1" {
		t.Fatalf("Verify = %+v, %v; want evt_1 accepted", res, err)
	}
}

// TestVerifyHookdBindsTheIDOfOtherBodies: for a body that is not hookd's
// envelope, X-Webhook-Signature does not cover X-Webhook-ID, so the hookd
// scheme also verifies webhook-signature (the Standard Webhooks one hookd
// sends with it), which covers the id. A captured request sent again
// under a new X-Webhook-ID, with or without a new webhook-id, is refused.
func TestVerifyHookdBindsTheIDOfOtherBodies(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	secret := newSecret(t)
	captured := signedHookd(t, "evt_1", now, `{"text":"deploy finished"}`, secret)
	with := func(r request, mutate func(h http.Header)) request {
		h := r.h.Clone()
		mutate(h)
		return request{h, r.body}
	}
	if res, err := signing.Verify(signing.SchemeHookd, captured.h, captured.body, []string{secret}, time.Minute, now); err != nil || res.EventID != "evt_1" {
		t.Fatalf("the captured request itself: %+v, %v", res, err)
	}
	for name, change := range map[string]func(http.Header){
		"new X-Webhook-ID":                 func(h http.Header) { h.Set("X-Webhook-ID", "evt_2") },
		"new X-Webhook-ID and webhook-id":  func(h http.Header) { h.Set("X-Webhook-ID", "evt_2"); h.Set("webhook-id", "evt_2") },
		"new id, standard headers removed": func(h http.Header) { h.Set("X-Webhook-ID", "evt_2"); h.Del("webhook-signature") },
		"standard headers removed":         func(h http.Header) { h.Del("webhook-id"); h.Del("webhook-timestamp"); h.Del("webhook-signature") },
	} {
		replayed := with(captured, change)
		_, err := signing.Verify(signing.SchemeHookd, replayed.h, replayed.body, []string{secret}, time.Minute, now)
		var ve *signing.VerifyError
		if !errors.As(err, &ve) {
			t.Errorf("%s: Verify = %v, want a rejection", name, err)
		}
	}
}

// TestVerifyHookdEmptyStandardSignatureNeverMatches: with a secret that is
// not a whsec_ key (the hookd scheme accepts any secret string), an empty
// webhook-signature value must not pass as a match for a key that cannot
// exist.
func TestVerifyHookdEmptyStandardSignatureNeverMatches(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	const secret = "not-a-whsec-secret-0123456789"
	body := `{"text":"x"}`
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set("X-Webhook-ID", "evt_1")
	h.Set("X-Webhook-Timestamp", ts)
	h.Set("X-Webhook-Signature", "t="+ts+",v1="+hmacHex(secret, ts+"."+body))
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,")
	var ve *signing.VerifyError
	if _, err := signing.Verify(signing.SchemeHookd, h, []byte(body), []string{secret}, time.Minute, now); !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a rejection", err)
	}
}

// TestCheckHeadersAgreesWithVerify: a request CheckHeaders refuses is one
// Verify refuses for the same reason; one it lets through (well-formed
// headers, wrong signature) is left for Verify.
func TestCheckHeadersAgreesWithVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	secret := newSecret(t)
	body := []byte(`{"id":"evt_1"}`)
	for _, scheme := range signing.Schemes {
		for _, h := range []http.Header{
			{},
			{"X-Webhook-Signature": {"garbage"}, "X-Webhook-Id": {"e"}, "Stripe-Signature": {"garbage"},
				"Webhook-Id": {"e"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {"v1,x"},
				"X-Hub-Signature-256": {"md5=00"}, "X-Github-Delivery": {"d"}},
		} {
			pre := signing.CheckHeaders(scheme, h)
			_, full := signing.Verify(scheme, h, body, []string{secret}, time.Minute, now)
			var a, b *signing.VerifyError
			if !errors.As(pre, &a) || !errors.As(full, &b) || a.Reason != b.Reason {
				t.Errorf("%s %v: CheckHeaders %v, Verify %v; want the same rejection", scheme, h, pre, full)
			}
		}
	}
	good := signedHookd(t, "evt_1", now, string(body), secret)
	if err := signing.CheckHeaders(signing.SchemeHookd, good.h); err != nil {
		t.Fatalf("a signed request: %v", err)
	}
}
