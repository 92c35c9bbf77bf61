package data

import (
	"testing"
	"time"
)

func TestPerSecond(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	window := now.Add(-time.Minute)
	cases := []struct {
		name  string
		n     int64
		first *time.Time
		want  float64
	}{
		{"history older than the window", 120, at(time.Hour), 2},
		{"first event 10s ago", 20, at(10 * time.Second), 2},
		{"first event just now", 3, at(0), 3},
		{"no events", 0, nil, 0},
	}
	for _, c := range cases {
		if got := perSecond(c.n, window, c.first, now); got != c.want {
			t.Errorf("%s: perSecond(%d) = %v, want %v", c.name, c.n, got, c.want)
		}
	}
}
