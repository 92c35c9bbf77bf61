// Package filter parses the console's filter syntax and holds the prompt
// that edits it.
//
// # Syntax
//
// A filter is space-separated terms, all of which must match:
//
//	state:dead tenant:cus_42 endpoint:legacy type:payment.* status:5xx reason:connect refused
//
// A key:value term matches a field; any other word is text to find (in a
// delivery's last error, an endpoint's name or URL). Double quotes keep
// spaces and colons together: "connection refused", text:"127.0.0.1:9".
// since and until take a duration back from now (90s, 15m, 2h, 3d) or a
// time (2026-01-02 or RFC 3339). type takes an exact type or a prefix
// ending in ".*"; endpoint an endpoint id or part of its name or URL;
// tenant a tenant id; status an HTTP status (429) or a class of them (5xx); reason an error
// class. Each view documents which keys it accepts.
package filter

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
	"github.com/hookd/hookd/tui/data"
)

// TextKey names free text among a view's allowed keys: a view that
// accepts it takes words without a key.
const TextKey = "text"

// colonValues are the keys whose values may hold a ':' of their own
// (times, ids, tenant ids, types, fingerprints, text).
var colonValues = []string{"since", "until", "id", "type", TextKey, "actor", "target", "tenant"}

// Terms are parsed terms.
type Terms struct {
	// Values holds key:value terms.
	Values map[string]string
	// Text is the free text, words joined by a space.
	Text string
}

// Get returns the value of key ("" when absent).
func (t Terms) Get(key string) string {
	if key == TextKey {
		return t.Text
	}
	return t.Values[key]
}

// String renders the terms canonically (keys sorted, text last), so that
// Parse(t.String()) gives t back.
func (t Terms) String() string {
	keys := make([]string, 0, len(t.Values))
	for k := range t.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+":"+quote(t.Values[k]))
	}
	if t.Text != "" {
		parts = append(parts, TextKey+":"+quote(t.Text))
	}
	return strings.Join(parts, " ")
}

func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, "") + `"`
}

// token is one term as typed: keyed when an unquoted ':' comes before
// any quote (key:value, key:"a value"); otherwise free text ("a:b").
type token struct {
	text  string
	keyed bool
}

// tokens splits s on white space, keeping double-quoted runs whole and
// dropping the quotes.
func tokens(s string) ([]token, error) {
	var out []token
	var cur strings.Builder
	inQuote, quoted, keyed, started := false, false, false, false
	flush := func() {
		if started {
			out = append(out, token{text: cur.String(), keyed: keyed})
		}
		cur.Reset()
		quoted, keyed, started = false, false, false
	}
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, quoted, started = !inQuote, true, true
		case unicode.IsSpace(r) && !inQuote:
			flush()
		default:
			if r == ':' && !inQuote && !quoted && !keyed {
				keyed = true
			}
			cur.WriteRune(r)
			started = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("a quote is not closed: %s", s)
	}
	flush()
	return out, nil
}

// Parse splits s into terms, accepting only the allowed keys (and free
// text when TextKey is among them). An error names the bad term and what
// is allowed.
func Parse(s string, allowed ...string) (Terms, error) {
	t := Terms{Values: map[string]string{}}
	// The database refuses NUL and invalid UTF-8 in text; nothing useful
	// to find holds a control character.
	if !utf8.ValidString(s) {
		return Terms{}, fmt.Errorf("the filter is not valid UTF-8 text")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }); i >= 0 {
		return Terms{}, fmt.Errorf("the filter holds a control character (%q); type plain text", s[i:i+1])
	}
	toks, err := tokens(s)
	if err != nil {
		return Terms{}, err
	}
	keys := strings.Join(slices.DeleteFunc(slices.Clone(allowed), func(k string) bool { return k == TextKey }), ", ")
	var text []string
	for _, tok := range toks {
		if !tok.keyed {
			if !slices.Contains(allowed, TextKey) {
				return Terms{}, fmt.Errorf("%q is not a key:value term (keys: %s)", tok.text, keys)
			}
			if tok.text != "" {
				text = append(text, tok.text)
			}
			continue
		}
		k, v, _ := strings.Cut(tok.text, ":")
		k = strings.ToLower(k)
		if k == "ep" {
			k = "endpoint"
		}
		if !slices.Contains(allowed, k) {
			return Terms{}, fmt.Errorf("unknown filter key %q (keys: %s); put text containing ':' in quotes", k, keys)
		}
		if v == "" {
			return Terms{}, fmt.Errorf("%s: no value (write %s:VALUE)", k, k)
		}
		// Two terms typed without a space between them read as one term
		// whose value holds the second key.
		if strings.Contains(v, ":") && !slices.Contains(colonValues, k) {
			return Terms{}, fmt.Errorf("%q: the value of %s contains ':' (%q); separate terms with a space", tok.text, k, v)
		}
		if k == TextKey {
			text = append(text, v)
			continue
		}
		if _, dup := t.Values[k]; dup {
			return Terms{}, fmt.Errorf("%s: given twice", k)
		}
		t.Values[k] = v
	}
	t.Text = strings.Join(text, " ")
	return t, nil
}

// DeliveryKeys are the keys a delivery filter accepts.
var DeliveryKeys = []string{"state", "endpoint", "tenant", "type", "id", "status", "reason", "since", "until", TextKey}

// DeliveryStates are the states a delivery filter accepts: the engine's.
// retrying is waiting out a backoff (a fifo line's head too).
var DeliveryStates = []string{"pending", "retrying", "in_flight", "held", "succeeded", "dead", "skipped"}

// Reasons are the error classes a reason: term accepts.
var Reasons = []string{delivery.ClassTimeout, delivery.ClassConnect, delivery.ClassNoResponse, delivery.ClassDNS, delivery.ClassTLS,
	delivery.ClassBlocked, delivery.ClassHTTPStatus, delivery.ClassInterrupted}

// Delivery is a parsed delivery filter: the query, without the endpoint
// term, which Endpoint holds for the caller to resolve by name.
type Delivery struct {
	Query data.DeliveryQuery
	// Endpoint is the endpoint: term ("" when none); when EndpointIsID it
	// is an endpoint id used as it is.
	Endpoint     string
	EndpointIsID bool
}

// Deliveries parses a delivery filter anchored at now, accepting the
// allowed keys (DeliveryKeys when none are given).
func Deliveries(s string, now time.Time, allowed ...string) (Delivery, error) {
	if len(allowed) == 0 {
		allowed = DeliveryKeys
	}
	t, err := Parse(s, allowed...)
	if err != nil {
		return Delivery{}, err
	}
	var out Delivery
	q := &out.Query
	switch st := t.Get("state"); {
	case st == "":
	case slices.Contains(DeliveryStates, st):
		q.State = delivery.State(st)
	default:
		return Delivery{}, fmt.Errorf("state: %q is not a delivery state (allowed: %s)", st, strings.Join(DeliveryStates, ", "))
	}
	if ep := t.Get("endpoint"); ep != "" {
		out.Endpoint = ep
		out.EndpointIsID = strings.HasPrefix(ep, "ep_") && !strings.ContainsAny(ep, " ")
		if out.EndpointIsID {
			q.EndpointID = ep
		}
	}
	if v := t.Get("tenant"); v != "" {
		if err := validate.TenantID("tenant", v); err != nil {
			return Delivery{}, err
		}
		q.Tenant = v
	}
	q.EventType, q.EventID, q.Text = t.Get("type"), t.Get("id"), t.Text
	if v := t.Get("status"); v != "" {
		if q.StatusMin, q.StatusMax, err = Status(v); err != nil {
			return Delivery{}, err
		}
	}
	if v := t.Get("reason"); v != "" {
		v = strings.ToLower(v)
		if !slices.Contains(Reasons, v) {
			return Delivery{}, fmt.Errorf("reason: %q is not an error class (allowed: %s)", v, strings.Join(Reasons, ", "))
		}
		q.Reason = v
	}
	if v := t.Get("since"); v != "" {
		if q.Since, err = When(v, now); err != nil {
			return Delivery{}, fmt.Errorf("since: %w", err)
		}
	}
	if v := t.Get("until"); v != "" {
		if q.Until, err = When(v, now); err != nil {
			return Delivery{}, fmt.Errorf("until: %w", err)
		}
	}
	if err := q.Filter.Validate(); err != nil {
		return Delivery{}, err
	}
	return out, nil
}

// Status reads an HTTP status (429) or class (5xx) as a range.
func Status(v string) (lo, hi int, err error) {
	if c, ok := strings.CutSuffix(strings.ToLower(v), "xx"); ok && len(c) == 1 && c[0] >= '1' && c[0] <= '5' {
		n := int(c[0]-'0') * 100
		return n, n + 99, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 599 {
		return 0, 0, fmt.Errorf("status: %q is not an HTTP status (100 to 599) or a class such as 5xx", v)
	}
	return n, n, nil
}

// When reads a point in time: a duration back from now (90s, 15m, 2h, 3d)
// or a date or RFC 3339 time.
func When(v string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 100_000 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, outbox.CheckTime("", t) // the caller names the key
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, time.UTC); err == nil {
		return t, outbox.CheckTime("", t) // the caller names the key
	}
	return time.Time{}, fmt.Errorf("%q is not a duration back from now (90s, 15m, 2h, 3d) or a time (2026-01-02, RFC 3339)", v)
}
