// Package filter parses the console's filter syntax and holds the prompt
// that edits it.
//
// # Syntax
//
// A filter is space-separated key:value terms, all of which must match:
//
//	state:dead endpoint:ep_x type:payment.* id:evt_1 since:1h until:10m
//
// since and until take a duration back from now (90s, 15m, 2h, 3d) or a
// time (2026-01-02 or RFC 3339). No other value may contain ':'. type takes an exact type or a prefix
// ending in ".*". Each view documents which keys it accepts.
package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// Terms are parsed key:value pairs.
type Terms map[string]string

// Parse splits s into terms, accepting only the allowed keys. An error
// names the bad term and what is allowed.
func Parse(s string, allowed ...string) (Terms, error) {
	t := Terms{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, ":")
		k = strings.ToLower(k)
		if !ok || v == "" {
			return nil, fmt.Errorf("%q is not a key:value term (keys: %s)", f, strings.Join(allowed, ", "))
		}
		if k == "ep" {
			k = "endpoint"
		}
		if !contains(allowed, k) {
			return nil, fmt.Errorf("unknown filter key %q (keys: %s)", k, strings.Join(allowed, ", "))
		}
		// Two terms typed without a space between them read as one term
		// whose value holds the second key; times are the only values
		// with a ':' of their own.
		if strings.Contains(v, ":") && k != "since" && k != "until" {
			return nil, fmt.Errorf("%q: the value of %s contains ':' (%q); separate terms with a space", f, k, v)
		}
		if _, dup := t[k]; dup {
			return nil, fmt.Errorf("%s: given twice", k)
		}
		t[k] = v
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// DeliveryKeys are the keys a delivery filter accepts.
var DeliveryKeys = []string{"state", "endpoint", "type", "id", "since", "until"}

// Deliveries parses a delivery filter anchored at now. Without state in
// allowed keys (the dead-letter view), the state is the caller's.
func Deliveries(s string, now time.Time, allowed ...string) (delivery.Filter, error) {
	if len(allowed) == 0 {
		allowed = DeliveryKeys
	}
	t, err := Parse(s, allowed...)
	if err != nil {
		return delivery.Filter{}, err
	}
	f := delivery.Filter{State: delivery.State(t["state"]), EndpointID: t["endpoint"], EventType: t["type"], EventID: t["id"]}
	if v, ok := t["since"]; ok {
		if f.Since, err = When(v, now); err != nil {
			return delivery.Filter{}, fmt.Errorf("since: %w", err)
		}
	}
	if v, ok := t["until"]; ok {
		if f.Until, err = When(v, now); err != nil {
			return delivery.Filter{}, fmt.Errorf("until: %w", err)
		}
	}
	if err := f.Validate(); err != nil {
		return delivery.Filter{}, err
	}
	return f, nil
}

// When reads a point in time: a duration back from now (90s, 15m, 2h, 3d)
// or a date or RFC 3339 time.
func When(v string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration back from now (90s, 15m, 2h, 3d) or a time (2026-01-02, RFC 3339)", v)
}
