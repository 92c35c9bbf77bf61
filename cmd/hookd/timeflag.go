package main

import (
	"strings"
	"time"

	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// parseWhen reads a --since/--until value: RFC 3339 ("2025-01-02T15:04:05Z"),
// a date ("2025-01-02", UTC midnight), or a duration meaning that long ago
// ("90m", "24h"). "" is the zero time.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, outbox.CheckTime("--"+flag, t)
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, outbox.CheckTime("--"+flag, t)
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, validate.Errorf("--"+flag, "%q is not a time (allowed: RFC 3339 such as 2025-01-02T15:04:05Z, a date such as 2025-01-02, or a duration ago such as 90m or 24h)", s)
}
