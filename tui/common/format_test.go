package common_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd/tui/common"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		120 * time.Microsecond: "0.12ms", 4200 * time.Microsecond: "4.2ms", 312 * time.Millisecond: "312ms",
		3001 * time.Millisecond: "3.00s", 12345 * time.Millisecond: "12.3s", 3 * time.Minute: "3m",
	} {
		if got := common.Latency(d); got != want {
			t.Errorf("Latency(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{131 * time.Millisecond: "<1s", 5 * time.Second: "5s", 49 * time.Hour: "2d"} {
		if got := common.Age(now, now.Add(-d)); got != want {
			t.Errorf("Age(%v ago) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{5 * time.Second: "in 5s", 300 * time.Millisecond: "due now", -30 * time.Second: "overdue 30s"} {
		if got := common.Until(now, now.Add(d)); got != want {
			t.Errorf("Until(%v) = %q, want %q", d, got, want)
		}
	}
	if got := common.LatencyBound(2500*time.Millisecond, false); got != "≤2.5s" {
		t.Errorf("bound %q", got)
	}
	if got := common.LatencyBound(30*time.Second, true); got != ">30s" {
		t.Errorf("beyond the last bucket %q", got)
	}
	if got := common.Plural(3, "delivery"); got != "3 deliveries" {
		t.Errorf("plural %q", got)
	}
	if got := common.Spark([]int{0, -1, 5, 10}, 10, 0); got != "▁ ▄█" {
		t.Errorf("spark %q", got)
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12345: "12.3 kB", 999_960: "1.0 MB",
		1_234_567_890: "1.2 GB", 5_000_000_000_000: "5.0 TB"} {
		if got := common.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestDescribeKeepsAConnectionFailuresCause: pgx puts the cause of a
// failed connection on the lines after its first; the one-line message
// leads with it.
func TestDescribeKeepsAConnectionFailuresCause(t *testing.T) {
	err := errors.New("failed to connect to `user=postgres database=atk2`:\n\t127.0.0.1:5432 (127.0.0.1): server error: " +
		"FATAL: database \"atk2\" is not currently accepting connections (SQLSTATE 55000)")
	got := common.Describe(err)
	want := "127.0.0.1:5432 (127.0.0.1): server error: FATAL: database \"atk2\" is not currently accepting connections " +
		"(SQLSTATE 55000) (failed to connect to `user=postgres database=atk2`)"
	if got != want {
		t.Errorf("Describe = %q\nwant       %q", got, want)
	}
	if got := common.Describe(errors.New("one line")); got != "one line" {
		t.Errorf("Describe of one line = %q", got)
	}
}
