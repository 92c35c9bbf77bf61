package common

import (
	"fmt"
	"strconv"
	"time"
)

// Age renders how long ago t was, compactly: 5s, 3m, 2h, 4d.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return Dur(now.Sub(t))
}

// Dur renders a duration compactly: 850ms, 5s, 3m, 2h, 4d.
func Dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// Status renders an optional HTTP status.
func StatusCode(s *int) string {
	if s == nil {
		return "-"
	}
	return strconv.Itoa(*s)
}

// Percent renders a 0..1 ratio as a percentage.
func Percent(r float64) string { return fmt.Sprintf("%.1f%%", r*100) }

// Count renders an integer with thousands separators.
func Count[T ~int | ~int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
