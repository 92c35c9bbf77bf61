package dispatch

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter feeds receivers' Retry-After values to parseRetryAfter:
// it never panics, never gives a negative delay, reads whole seconds as
// seconds and a past HTTP date as no delay. The seed corpus is in
// testdata/fuzz/FuzzRetryAfter; `go test -fuzz FuzzRetryAfter` explores.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("%q: refused with a delay of %s", v, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative delay %s", v, d)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 && n < 1<<32 && d != time.Duration(n)*time.Second {
			t.Fatalf("%q: %s, want %d seconds", v, d, n)
		}
	})
}
