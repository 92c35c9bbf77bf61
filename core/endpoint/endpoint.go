// Package endpoint manages the receivers hookd delivers to: their URL,
// signing secrets (with rotation), event-type filter and limits.
//
// All SQL on the endpoints table lives in this package (queries.go).
//
// # Secrets
//
// Signing secrets, ed25519 signing keys and custom header values are
// stored sealed with the process keyring (core/secrets) and opened when
// read; Reseal moves them to the current key. Custom headers are
// write-only: Redacted is how an endpoint is listed or shown.
//
// # hookd's own endpoints
//
// The alert endpoint and intake forward targets (KindAlert, KindForward)
// follow the configuration and their sources: Update, Delete and
// RotateSecret refuse them, whoever calls; UpdateOwn, DeleteOwn,
// RotateOwnSecret and SetOwnSecret are for the code that keeps them in
// line. Trusted, a stored flag, exempts the operator's configured targets
// from the outbound address guard; no id or kind earns it.
//
// # Updates
//
// Update changes only the fields it is given, in one statement, so that
// concurrent updates of different fields all take effect.
package endpoint

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// Kinds of endpoint.
const (
	KindWebhook = "webhook" // receives published events matching its filter
	KindForward = "forward" // an intake source's internal forward target
	KindAlert   = "alert"   // the operator's alert URL
)

// Body formats: what a request's body is.
const (
	// BodyEnvelope is {"id","type","created","data"}, the default.
	BodyEnvelope = "envelope"
	// BodyData is the event's data alone, for receivers that expect a body
	// of their own shape (Slack-compatible incoming webhooks).
	BodyData = "data"
)

// Orderings: how an endpoint receives its deliveries.
const (
	// OrderingConcurrent sends up to max_in_flight at once, the default.
	OrderingConcurrent = "concurrent"
	// OrderingFIFO sends one at a time in publish order; the next starts
	// only after the previous succeeded or died.
	OrderingFIFO = "fifo"
)

// UnknownTenantError is an endpoint created for a tenant that does not exist.
type UnknownTenantError struct{ Tenant string }

func (e *UnknownTenantError) Error() string {
	return fmt.Sprintf("tenant %q does not exist; create it first (PUT /v1/tenants/%s or hookd tenants add %s)", e.Tenant, e.Tenant, e.Tenant)
}

// Is makes errors.Is(err, db.ErrNotFound) hold.
func (e *UnknownTenantError) Is(target error) bool { return target == db.ErrNotFound }

// DefaultSecretOverlap is how long a rotated-out secret keeps signing.
const DefaultSecretOverlap = 24 * time.Hour

// Limits on what an endpoint may hold; the README lists them. Larger
// input is refused with a *validate.Error naming the field.
const (
	MaxURLBytes         = 2048
	MaxDescriptionBytes = 1024
	// MaxEventTypes is the most entries an event-type filter may have.
	MaxEventTypes     = 100
	MaxEventTypeBytes = validate.MaxEventTypeBytes
	MaxHeaders        = 32
	// MaxHeaderNameBytes and MaxHeaderValueBytes bound one custom header.
	MaxHeaderNameBytes  = 128
	MaxHeaderValueBytes = 4096
	// MaxRateLimit is the highest rate_limit, in requests per second.
	MaxRateLimit = 100_000
	// MaxInFlightLimit is the highest max_in_flight.
	MaxInFlightLimit = 10_000
	// MaxTimeout is the longest per-endpoint timeout.
	MaxTimeout = 5 * time.Minute
	// MaxReasonBytes bounds a disable reason.
	MaxReasonBytes = 1024
	// MaxSecretOverlap is the longest a rotated-out secret may keep signing.
	MaxSecretOverlap = 30 * 24 * time.Hour
)

// Endpoint is one receiver.
type Endpoint struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	URL         string            `json:"url"`
	Description string            `json:"description"`
	EventTypes  []string          `json:"event_types"`
	Secret      string            `json:"secret,omitempty"`
	Headers     map[string]string `json:"headers"`
	// PreviousSecret still signs until PreviousSecretExpiresAt (rotation).
	PreviousSecret          string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Enabled                 bool       `json:"enabled"`
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	DisabledAt              *time.Time `json:"disabled_at,omitempty"`
	// RateLimit is requests per second; 0 means unlimited.
	RateLimit int `json:"rate_limit"`
	// MaxInFlight caps concurrent requests; 0 means delivery.max_in_flight_per_endpoint.
	MaxInFlight int `json:"max_in_flight"`
	// Timeout per request; 0 means delivery.timeout.
	Timeout Duration `json:"timeout"`
	// BodyFormat is BodyEnvelope or BodyData.
	BodyFormat string `json:"body_format"`
	// Tenant owns the endpoint; empty for none.
	Tenant string `json:"tenant,omitempty"`
	// Ordering is OrderingConcurrent or OrderingFIFO.
	Ordering string `json:"ordering"`
	// Signatures is what webhook-signature carries: "v1" (HMAC with the
	// secret, the default), "v1,v1a" (with an ed25519 signature too) or
	// "v1a" (ed25519 only); see signing.SignWith.
	Signatures string `json:"signatures"`
	// PublicKey is the whpk_ key receivers verify v1a signatures with; ""
	// until the endpoint first signs v1a.
	PublicKey string `json:"public_key,omitempty"`
	// SigningKey is the whsk_ key that signs v1a; never shown.
	SigningKey string `json:"-"`
	// Trusted exempts the endpoint from the outbound address guard; set
	// only for the operator's own targets from the configuration.
	Trusted   bool      `json:"trusted"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Redacted is the placeholder shown instead of a custom header's value.
const Redacted = "[redacted]"

// Redacted returns a copy of e fit to list or show: no signing secret and
// custom header values replaced by Redacted, their names kept. Custom
// headers often carry credentials (Authorization, API keys) and are
// write-only: only creation and rotation show the secret, nothing shows a
// header's value.
func (e *Endpoint) Redacted() *Endpoint {
	c := e.RedactedHeaders()
	c.Secret = ""
	return c
}

// RedactedHeaders is Redacted with the signing secret kept, for the
// answers to creation and rotation.
func (e *Endpoint) RedactedHeaders() *Endpoint {
	c := *e
	c.PreviousSecret, c.SigningKey = "", ""
	c.Headers = make(map[string]string, len(e.Headers))
	for k := range e.Headers {
		c.Headers[k] = Redacted
	}
	return &c
}

// RedactRequestHeaders returns a copy of h, the request headers of an
// attempt as recorded, with the value of every header hookd does not set
// itself (the endpoint's custom headers: often credentials) replaced by
// Redacted. Attempts recorded before custom headers were redacted in the
// attempt log are thus shown safely too.
func RedactRequestHeaders(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		if reservedHeaders[strings.ToLower(k)] {
			out[k] = v
			continue
		}
		out[k] = []string{Redacted}
	}
	return out
}

// reservedHeaders are the request headers hookd sets on every attempt,
// which an endpoint's custom headers cannot override (lower case).
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "host": true, "user-agent": true,
	"x-webhook-id": true, "x-webhook-timestamp": true, "x-webhook-signature": true,
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// hopByHop are the headers of one connection (RFC 9110, 7.6.1), which
// Go's HTTP client sets itself or drops (lower case).
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true,
}

// Label names the endpoint for people: its description when it has one,
// else its id.
func (e *Endpoint) Label() string {
	if d := strings.TrimSpace(e.Description); d != "" {
		return d
	}
	return e.ID
}

// Secrets returns the secrets that sign a request made at now: the current
// one first, then the previous one while its overlap lasts.
func (e *Endpoint) Secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// Matches reports whether the endpoint's filter accepts eventType. It
// mirrors hookd.type_matches in SQL, which fan-out uses.
func (e *Endpoint) Matches(eventType string) bool { return MatchTypes(e.EventTypes, eventType) }

// MatchTypes reports whether filters accept eventType: an empty filter or
// "*" accepts all, "prefix.*" accepts types starting with "prefix.", any
// other entry must equal the type.
func MatchTypes(filters []string, eventType string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f == "*" || f == eventType {
			return true
		}
		if prefix, ok := strings.CutSuffix(f, "*"); ok && strings.HasSuffix(prefix, ".") && strings.HasPrefix(eventType, prefix) {
			return true
		}
	}
	return false
}

// Duration is a time.Duration that reads and writes JSON as "15s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON refuses what is not a duration with a
// *json.UnmarshalTypeError, which encoding/json completes with the
// field's name (the API's answer then names it; see JSONHint).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	var v time.Duration
	if err == nil {
		v, err = time.ParseDuration(s)
	}
	if err != nil {
		return &json.UnmarshalTypeError{Value: truncate(string(b), 40), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// JSONHint says what a Duration takes, for the answer to one refused.
func (Duration) JSONHint() string { return `must be a duration such as "15s" or "500ms"` }

var (
	headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~\-]+$`)
)

// ValidateURL accepts absolute http and https URLs with a host, without
// userinfo or fragment.
func ValidateURL(raw string) error {
	if raw == "" {
		return validate.Errorf("url", "is required")
	}
	if len(raw) > MaxURLBytes {
		return validate.Errorf("url", "is %d bytes, over the limit of %d", len(raw), MaxURLBytes)
	}
	if err := validate.Text("url", raw, MaxURLBytes); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return validate.Errorf("url", "%q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return validate.Errorf("url", "%q must be an absolute http:// or https:// URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return validate.Errorf("url", "%q has no host", raw)
	case u.User != nil:
		return validate.Errorf("url", "%q must not contain user info (user:password@); use headers for credentials", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return validate.Errorf("url", "%q must not contain a fragment (#...)", raw)
	}
	// An empty port ("host:") is the scheme's, as RFC 3986 and the HTTP
	// client read it.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return validate.Errorf("url", "%q has port %q; a port is a number from 1 to 65535, or none for the scheme's", raw, p)
		}
	}
	return nil
}

// CheckDestination refuses, with a *validate.Error on "url" that names
// delivery.allowed_networks, a URL whose host g blocks as it stands (an
// IP literal, localhost, a metadata name); see netguard.Guard.CheckHost.
// A nil g checks nothing. rawURL must have passed ValidateURL.
func CheckDestination(g *netguard.Guard, rawURL string) error {
	if g == nil {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return validate.Errorf("url", "%q is not a URL: %v", rawURL, err)
	}
	if err := g.CheckHost(u.Hostname()); err != nil {
		return validate.Errorf("url", "%q: %v", rawURL, err)
	}
	return nil
}

// checkHostSpelling refuses, with a *validate.Error on "url", a URL whose
// host is an IPv4 address spelled other than in dotted decimal
// (0x7f000001, 0177.0.0.1, 127.1): the dialer looks such a host up as a
// name, and every attempt would fail. rawURL must have passed ValidateURL;
// run after CheckDestination, which refuses the addresses it blocks in
// any spelling.
func checkHostSpelling(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return validate.Errorf("url", "%q is not a URL: %v", rawURL, err)
	}
	if ip, ok := netguard.LegacyIPv4(u.Hostname()); ok {
		return validate.Errorf("url", "%q: the host %q is the IPv4 address %s in a spelling the HTTP client does not read; write the address in dotted decimal (%s)",
			rawURL, u.Hostname(), ip, ip)
	}
	return nil
}

// NormalizeEventTypes trims, drops empty and repeated entries and
// validates a filter. "*" alone means all; so does an empty list.
func NormalizeEventTypes(types []string) ([]string, error) {
	out := []string{}
	for _, raw := range types {
		for t := range strings.SplitSeq(raw, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if slices.Contains(out, t) {
				continue
			}
			if len(out) == MaxEventTypes {
				return nil, validate.Errorf("event_types", "has more than %d entries; use prefixes such as payment.* instead", MaxEventTypes)
			}
			if len(t) > MaxEventTypeBytes {
				return nil, validate.Errorf("event_types", "an entry is %d bytes, over the limit of %d", len(t), MaxEventTypeBytes)
			}
			if !validate.TypeFilter(t) {
				return nil, validate.Errorf("event_types", "%q is not an event type or filter (allowed: exact types like invoice.paid, prefixes like payment.*, or *)", t)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// endpointEventTypes is NormalizeEventTypes for an endpoint's own list, as
// a body gives it: a list of blank entries ([""]) is refused, not taken
// for all types, which made the endpoint receive every event.
func endpointEventTypes(types []string) ([]string, error) {
	out, err := NormalizeEventTypes(types)
	if err == nil && len(out) == 0 && len(types) > 0 {
		return nil, validate.Errorf("event_types", "has only empty entries; give event types, or [] or * for all")
	}
	return out, err
}

func validateHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return validate.Errorf("headers", "has %d headers, over the limit of %d", len(h), MaxHeaders)
	}
	seen := make(map[string]string, len(h))
	for k, v := range h {
		if len(k) > MaxHeaderNameBytes || !headerName.MatchString(k) {
			return validate.Errorf("headers", "%q is not a valid header name (at most %d letters, digits and !#$%%&'*+.^_|~-)", truncate(k, 40), MaxHeaderNameBytes)
		}
		// Sent through http.Header, names differing in case are one
		// header, and only one of the values would go out.
		lower := strings.ToLower(k)
		if other, ok := seen[lower]; ok {
			return validate.Errorf("headers", "%q and %q are the same header; give it once", min(k, other), max(k, other))
		}
		seen[lower] = k
		if hopByHop[lower] {
			return validate.Errorf("headers", "%q is about the connection, which hookd's HTTP client manages; it would never be sent", k)
		}
		if err := validateHeaderValue(k, v); err != nil {
			return err
		}
		if reservedHeaders[lower] {
			return validate.Errorf("headers", "%q is set by hookd and cannot be overridden", k)
		}
	}
	return nil
}

// validateHeaderValue refuses what an HTTP header cannot carry: control
// characters other than tab (a NUL or a line break would make every
// attempt fail, or split the request) and invalid UTF-8. The value is a
// credential as often as not, so it is never echoed.
func validateHeaderValue(name, v string) error {
	field := "headers." + name
	if len(v) > MaxHeaderValueBytes {
		return validate.Errorf(field, "is %d bytes, over the limit of %d", len(v), MaxHeaderValueBytes)
	}
	if !utf8.ValidString(v) {
		return validate.Errorf(field, "is not valid UTF-8")
	}
	for _, r := range v {
		if r != '\t' && unicode.IsControl(r) {
			return validate.Errorf(field, "must not contain control characters such as NUL or line breaks (found U+%04X)", r)
		}
	}
	return nil
}

// truncate cuts s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func validateSignatures(v string) error {
	if !signing.ValidVersions(v) {
		return validate.Errorf("signatures", "%q is not allowed (allowed: %s, %s to add ed25519 signatures while receivers move to the public key, %s)",
			v, signing.VersionsHMAC, signing.VersionsBoth, signing.VersionsEd25519)
	}
	return nil
}

func validateBodyFormat(f string) error {
	if f != BodyEnvelope && f != BodyData {
		return validate.Errorf("body_format", "%q is not a body format (allowed: %s, %s)", f, BodyEnvelope, BodyData)
	}
	return nil
}

func validateOrdering(o string) error {
	if o != OrderingConcurrent && o != OrderingFIFO {
		return validate.Errorf("ordering", "%q is not an ordering (allowed: %s, %s)", o, OrderingConcurrent, OrderingFIFO)
	}
	return nil
}

func validateTenant(t string) error {
	if t == "" {
		return nil
	}
	return validate.TenantID("tenant", t)
}

func validateLimits(rate, inFlight int, timeout Duration) error {
	switch {
	case rate < 0 || rate > MaxRateLimit:
		return validate.Errorf("rate_limit", "must be 0 (unlimited) or a number of requests per second up to %d", MaxRateLimit)
	case inFlight < 0 || inFlight > MaxInFlightLimit:
		return validate.Errorf("max_in_flight", "must be 0 (use delivery.max_in_flight_per_endpoint) or a number up to %d", MaxInFlightLimit)
	case timeout < 0 || time.Duration(timeout) > MaxTimeout:
		return validate.Errorf("timeout", "must be between 0 (use delivery.timeout) and %s", MaxTimeout)
	case time.Duration(timeout)%time.Millisecond != 0:
		// Stored in milliseconds: 999us would be kept as 0, the default.
		return validate.Errorf("timeout", "%s is not a whole number of milliseconds", time.Duration(timeout))
	}
	return nil
}

// validateDescription checks free text shown in lists.
func validateDescription(d string) error {
	return validate.Text("description", d, MaxDescriptionBytes)
}

// ValidateReason checks a disable reason.
func ValidateReason(r string) error {
	return validate.Text("reason", r, MaxReasonBytes)
}
