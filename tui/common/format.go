package common

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// Age renders how long ago t was, compactly: <1s, 5s, 3m, 2h, 4d. It
// never needs more than four cells.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "<1s"
	}
	return Dur(d)
}

// Dur renders a duration compactly in one unit, rounded down: 850ms, 5s,
// 3m, 2h, 4d.
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

// Waited renders how long something has waited, as Age renders an age:
// the overview's and the endpoint page's oldest due.
func Waited(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return Dur(d)
}

// Until renders when t comes, seen from now: "in 5s", "due now", or
// "overdue 3s" for a time already past by a second or more.
func Until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d >= time.Second:
		return "in " + Dur(d)
	case d > -time.Second:
		return "due now"
	}
	return "overdue " + Dur(-d)
}

// Latency renders a measured duration in one consistent style, with the
// precision that matters at its size: 0.12ms, 4.2ms, 312ms, 3.00s, 12.3s,
// then Dur.
func Latency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", ms)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return Dur(d)
}

// LatencyBound renders an upper bound read from a latency histogram,
// which is all a rollup can honestly tell: "≤5ms", "≤2.5s"; over is the
// last bucket's bound when the value lies beyond every bucket: ">30s".
func LatencyBound(bound time.Duration, beyond bool) string {
	s := bound.String()
	if bound >= time.Second && bound%time.Second == 0 {
		s = strconv.Itoa(int(bound.Seconds())) + "s"
	}
	if beyond {
		return ">" + s
	}
	return "≤" + s
}

// StatusCode renders an optional HTTP status.
func StatusCode(s *int) string {
	if s == nil {
		return "-"
	}
	return strconv.Itoa(*s)
}

// Percent renders a 0..1 ratio as a percentage.
func Percent(r float64) string { return fmt.Sprintf("%.1f%%", r*100) }

// CountUpTo is Count for a count read up to limit and no further: "N+"
// past it (a read that stops at limit+1 rows, so that its cost does not
// grow with the backlog).
func CountUpTo[T ~int | ~int64](n, limit T) string {
	if n > limit {
		return Count(limit) + "+"
	}
	return Count(n)
}

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

// Plural returns n and the noun, with an s unless n is 1: "1 dead letter",
// "94 dead letters".
func Plural[T ~int | ~int64](n T, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if stem, ok := strings.CutSuffix(noun, "y"); ok && stem != "" && !strings.ContainsAny(stem[len(stem)-1:], "aeiou") {
		return Count(n) + " " + stem + "ies"
	}
	return Count(n) + " " + noun + "s"
}

var bars = []rune("▁▂▃▄▅▆▇█")

// Spark renders the last width values as a sparkline scaled to peak (the
// series' largest when peak is 0). A negative value is a gap (no data); a
// zero is the lowest bar, so a quiet minute still shows.
func Spark(series []int, width, peak int) string {
	if len(series) > width {
		series = series[len(series)-width:]
	}
	if peak <= 0 {
		for _, v := range series {
			peak = max(peak, v)
		}
	}
	var b strings.Builder
	for _, v := range series {
		switch {
		case v < 0:
			b.WriteRune(' ')
		case peak == 0:
			b.WriteRune(bars[0])
		default:
			b.WriteRune(bars[min(v*(len(bars)-1)/peak, len(bars)-1)])
		}
	}
	return b.String()
}

// Bytes renders a size in bytes with one decimal in the largest unit
// that keeps it at least 1: 512 B, 12.3 kB, 1.2 GB (powers of 1000, as
// pg_size_pretty does not but disks are sold).
func Bytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(max(n, 0), 10) + " B"
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if v < 999.95 || unit == "PB" {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return ""
}

// Hint is the first of phrasings, longest first, that fits in width
// cells with the cursor cell beside it, or else the last cut after its
// last word that fits, with "…": an input's placeholder, which the input
// would cut mid-word ("refuse", "tenant i"), and a word cut reads as
// another.
func Hint(width int, phrasings ...string) string {
	for _, ph := range phrasings {
		if ansi.StringWidth(ph) < width {
			return ph
		}
	}
	if len(phrasings) == 0 {
		return ""
	}
	return CutWords(phrasings[len(phrasings)-1], width-1)
}

// CutWords is s if it fits in width cells, or else s cut after its last
// word that fits, with "…" (cut anywhere only when no word fits). s may
// be styled.
func CutWords(s string, width int) string {
	if ansi.StringWidth(s) <= width {
		return s
	}
	cut := ansi.Truncate(ansi.Strip(s), max(width-1, 0), "")
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		return ansi.Truncate(s, ansi.StringWidth(strings.TrimRight(cut[:i], " ,;")), "") + "…"
	}
	return ansi.Truncate(s, width, "…")
}

// nbHyphen stands in for '-' while a line wraps: ansi.Wrap breaks after
// every hyphen, which split dates (2026-12- / 04) and ids.
const nbHyphen = "\u2011"

// WrapLine breaks line at spaces to width cells, and a word longer than
// width across lines; its next lines are indented two cells past its own
// indentation, so that wrapped JSON and indented lists keep their shape.
func WrapLine(line string, width int) []string {
	if ansi.StringWidth(line) <= width {
		return []string{line}
	}
	lead := len(line) - len(strings.TrimLeft(line, " "))
	if lead+2 > width/2 {
		lead = 0
	}
	indent := strings.Repeat(" ", lead)
	body := line[lead:]
	swap := !strings.Contains(body, nbHyphen)
	if swap {
		body = strings.ReplaceAll(body, "-", nbHyphen)
	}
	out := strings.Split(ansi.Wrap(body, width-lead-2, ""), "\n")
	for i, l := range out {
		if swap {
			l = strings.ReplaceAll(l, nbHyphen, "-")
		}
		if i == 0 {
			out[i] = indent + l
		} else {
			out[i] = indent + "  " + strings.TrimLeft(l, " ")
		}
	}
	return out
}
