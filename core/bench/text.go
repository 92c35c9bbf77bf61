package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// width is the text report's line length.
const width = 80

// printer writes lines wrapped at width, continuation lines indented two
// more than the first.
type printer struct{ w io.Writer }

func (p printer) line(indent int, format string, args ...any) {
	pad := strings.Repeat(" ", indent)
	words := strings.Fields(fmt.Sprintf(format, args...))
	cur := pad
	for _, word := range words {
		if len(cur) > len(pad) && len(cur)+1+len(word) > width {
			fmt.Fprintln(p.w, cur)
			cur = pad + "  "
		}
		if strings.TrimSpace(cur) != "" {
			cur += " "
		}
		cur += word
	}
	fmt.Fprintln(p.w, cur)
}

// raw writes s cut at width.
func (p printer) raw(s string) {
	if len(s) > width {
		s = s[:width-3] + "..."
	}
	fmt.Fprintln(p.w, s)
}

func (p printer) head(s string) { fmt.Fprintln(p.w); p.raw("== " + s) }

// n formats a count or rate with thousands separators.
func n(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// WriteText prints the report for people, in lines of at most 80 columns.
func (r Report) WriteText(w io.Writer) {
	p := printer{w}
	m := r.Machine
	own := "the configured server"
	if m.OwnServer {
		own = "the bench's own server"
	}
	p.line(0, "hookd bench: %d CPUs, %s, PostgreSQL %s (%s), synchronous_commit=%s, fsync=%s, "+
		"pg_stat_statements %s, track_wal_io_timing=%s", m.CPUs, m.GoVersion, m.PostgreSQL, own,
		m.SynchronousCommit, m.Fsync, onOff(m.Statements), m.WALIOTiming)
	p.line(0, "load average before %s, after %s; the run took %s; other processes used %.0f%% of the "+
		"machine during the measured phases (noise)", m.LoadBefore, m.LoadAfter, m.Duration, m.Noise)
	if m.History > 0 {
		p.line(0, "history: %d partitions of each history table, as an install that has kept %s of history (--history)",
			m.Partitions, m.History)
	} else {
		p.line(0, "history: %d partitions of each history table, a fresh install's (--history)", m.Partitions)
	}
	if m.WALReady > 0 {
		p.line(0, "WAL: %d segments ready for reuse before the phases, as a server that has run a while "+
			"recycles them (--wal-segments)", m.WALReady)
	}

	p.head("ceiling: signed POSTs to the local receiver, no database")
	for _, c := range []Ceiling{r.Ceiling, r.CeilingHookd} {
		what := "baseline's headers (Standard Webhooks v1 only)"
		if c.Headers == HeadersHookd {
			what = "hookd's headers (both signature families, User-Agent)"
		}
		p.line(2, "%s: %s req/s; %d requests, %d at once, %d idle conns per host; rtt p50 %.2f ms, "+
			"p99 %.2f ms; %d errors", what, n(c.PerSec), c.Requests, c.Concurrency, c.IdleConns,
			ms(c.RTT.P50), ms(c.RTT.P99), c.Errors)
		p.cpu(4, c.CPU, 0, "")
	}

	p.leg(r.Small)
	if r.Scale != nil {
		p.leg(*r.Scale)
	}
	if s := r.Sustained; s != nil {
		p.head("sustained: publishing (PublishBatch) and delivering at once")
		var steps []string
		for _, pr := range s.Probes {
			mark := "grew"
			if pr.Held {
				mark = "held"
			}
			steps = append(steps, fmt.Sprintf("%s/s %s", n(pr.Offered), mark))
		}
		p.line(2, "search (probes of %s): %s", r.sustainedProbe(), strings.Join(steps, ", "))
		for _, f := range s.FailedHolds {
			p.line(2, "%s/s did not hold for the whole hold (backlog %d at the end, trend %+.0f/s, "+
				"%d offered events dropped): tried %.1f of it", n(f.Offered), f.End, f.Slope, f.Dropped, holdStep)
		}
		h := s.Hold
		verdict := "held: the backlog stayed flat"
		switch {
		case s.Held:
		case h.Dropped > 0 && s.Slope <= holdSlope*h.OfferedPerSec:
			verdict = "NOT held: the publishers fell behind"
		default:
			verdict = "NOT held: the backlog grew"
		}
		p.line(2, "%s/s offered for %s: %s/s delivered, %d published, %d dropped; %s", n(h.OfferedPerSec),
			h.Duration, n(h.PerSec), h.Published, h.Dropped, verdict)
		p.line(2, "backlog (published, not yet received): %d at the start, %d at the end, at most %d; "+
			"trend %+.0f/s", s.BacklogStart, s.BacklogEnd, s.BacklogMax, s.Slope)
		p.latency(2, h)
		p.cost(2, h.Cost)
	}
	if len(r.Latency) > 0 {
		p.head("latency: publish (PublishBatch each 10 ms) to receipt")
		for _, st := range r.Latency {
			p.line(2, "%s/s offered for %s: %d published, %d dropped, %d missing", n(st.OfferedPerSec),
				st.Duration, st.Published, st.Dropped, st.Missing)
			p.latency(4, st)
			p.cost(4, st.Cost)
		}
	}
	if f := r.Fairness; f != nil {
		p.head("fairness: one slow endpoint's backlog next to steady traffic")
		p.line(2, "slow endpoint: %d deliveries queued, receiver takes %s, max_in_flight %d; "+
			"%d delivered and %d left when the others were done", f.SlowBacklog, f.SlowDelay, f.SlowCap,
			f.SlowDelivered, f.SlowLeft)
		p.line(2, "%d other endpoints, %s events/s among them for %s: %d published, %d missing; "+
			"publish->receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms", f.Others, n(f.OthersOffered), f.Duration,
			f.OthersSent, f.OthersMissing, ms(f.OthersLatency.P50), ms(f.OthersLatency.P99), ms(f.OthersLatency.Max))
	}
	if len(r.Ratios) > 0 {
		p.head("ratios")
		for _, x := range r.Ratios {
			p.line(2, "%.3f  %s", x.Value, x.Name)
			p.line(8, "= %s / %s", x.Of, x.Over)
		}
	}
	fmt.Fprintln(w)
	p.line(0, "CPU split: %s.", r.CPUMethod)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (p printer) leg(l Leg) {
	name := fmt.Sprintf("%d live endpoints", l.LiveEndpoints)
	if l.QuietEndpoints > 0 {
		name = fmt.Sprintf("scale: %s quiet + %d live endpoints", n(float64(l.QuietEndpoints)), l.LiveEndpoints)
	}
	if l.Tenants > 0 {
		name += fmt.Sprintf(", %s tenants", n(float64(l.Tenants)))
	}
	p.head(name)
	if l.QuietEndpoints > 0 {
		p.line(2, "made in %s: %s", l.SetupTime, l.Setup)
	}
	ic := l.IdleClaim
	switch {
	case ic.Note != "" && ic.MeanMS < 0:
		p.line(2, "idle claim: %s", ic.Note)
	default:
		p.line(2, "idle claim (nothing due, %s watched): lane statement %.3f ms mean over %d calls "+
			"(pg_stat_statements), EXPLAIN ANALYZE %.3f ms; all statements %.2f ms of database time "+
			"per second", ic.Window, ic.MeanMS, ic.Calls, ic.ExplainMS, ic.DBMSPerSec)
	}
	b := l.Burndown
	p.line(2, "burn-down: %s deliveries/s end to end (%s/s until recorded), %d workers, %d events; "+
		"%d duplicates, %d rejected", n(b.PerSec), n(b.RecordedPerSec), b.Workers, b.Events, b.Duplicates, b.Rejected)
	if b.CPUBound > 0 {
		c := b.Cost.CPU
		p.line(2, "CPU-bound estimate: %s deliveries/s (this machine's CPUs / the %.0f µs of CPU each "+
			"delivery took in this process and PostgreSQL; what other processes took left out)",
			n(b.CPUBound), 1e6*(c.Bench+c.PostgreSQL)/float64(max(b.Events, 1)))
	}
	p.line(2, "publishing first: %s events/s with PublishBatch (%d a call, %d at once)",
		n(b.Publish.PerSec), b.Publish.PerCall, b.Publish.Concurrency)
	if b.Publish.Cost != nil {
		p.cost(4, *b.Publish.Cost)
	}
	p.line(2, "delivering:")
	p.cost(4, b.Cost)
	p.line(2, "publishing and delivering together (as the baseline's burn-down counts):")
	p.costBrief(4, b.Total)
	h := l.HTTPBatch
	switch {
	case !h.Available || h.PerSec == 0:
		p.line(2, "HTTP batch: %s", h.Note)
	default:
		p.line(2, "HTTP batch: %s events/s through POST %s (%d a request, %d at once)", n(h.PerSec),
			batchRoute, h.PerCall, h.Concurrency)
		if h.Cost != nil {
			p.costBrief(4, *h.Cost)
		}
	}
	if s := l.Single; s.Events > 0 {
		p.line(2, "one event per transaction: %s events/s (Publish, %d at once)", n(s.PerSec), s.Concurrency)
		if s.Cost != nil {
			p.costBrief(4, *s.Cost)
		}
	}
}

func (p printer) latency(indent int, st Steady) {
	if w := st.WarmupLatency; w != nil {
		p.line(indent, "after %s at the same rate, not counted: the phase's connections start cold "+
			"(its publish->receipt p50 %.1f ms, p99 %.1f ms)", st.Warmup, ms(w.P50), ms(w.P99))
	}
	p.line(indent, "publish->receipt p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; "+
		"the PublishBatch call p50 %.1f ms, p99 %.1f ms; its return->receipt p50 %.1f ms, p99 %.1f ms",
		ms(st.Latency.P50), ms(st.Latency.P90), ms(st.Latency.P99), ms(st.Latency.Max),
		ms(st.Commit.P50), ms(st.Commit.P99), ms(st.AfterCommit.P50), ms(st.AfterCommit.P99))
	if st.ToClaim.N > 0 {
		p.line(indent, "return->receipt in parts, p50 / p99 ms: to the claim's return %.1f / %.1f | claim->request start %.1f / %.1f | "+
			"request->receipt %.1f / %.1f", ms(st.ToClaim.P50), ms(st.ToClaim.P99), ms(st.ClaimToRequest.P50), ms(st.ClaimToRequest.P99),
			ms(st.Request.P50), ms(st.Request.P99))
	}
	p.line(indent, "longest stall (nothing received while a committed event waited): %.1f ms", ms(st.LongestStall))
}

// costBrief prints the PostgreSQL figures per unit on one line or two.
func (p printer) costBrief(indent int, c Cost) {
	if c.Units <= 0 {
		return
	}
	u := float64(c.Units)
	d := c.DB
	p.line(indent, "per %s: %.3f write xacts, %s B WAL, %.3f WAL fsyncs (%.2f ms each)", c.Per,
		float64(d.WriteXacts)/u, n(float64(d.WALBytes)/u), float64(d.WALSyncs)/u, d.WALSyncMS/float64(max(d.WALSyncs, 1)))
	p.cpu(indent, c.CPU, u, c.Per)
}

// cost prints everything measured about a phase.
func (p printer) cost(indent int, c Cost) {
	if c.Units <= 0 {
		return
	}
	p.costBrief(indent, c)
	u := float64(c.Units)
	var rows []string
	for _, t := range statTables {
		x := c.DB.Tables[t]
		var parts []string
		if x.Read > 0 {
			parts = append(parts, fmt.Sprintf("read %.2f", float64(x.Read)/u))
		}
		if x.Inserted > 0 {
			parts = append(parts, fmt.Sprintf("ins %.2f", float64(x.Inserted)/u))
		}
		if x.Updated > 0 {
			parts = append(parts, fmt.Sprintf("upd %.2f (HOT %.2f)", float64(x.Updated)/u, float64(x.HOT)/u))
		}
		if x.Deleted > 0 {
			parts = append(parts, fmt.Sprintf("del %.2f", float64(x.Deleted)/u))
		}
		if len(parts) > 0 {
			rows = append(rows, t+" "+strings.Join(parts, " "))
		}
	}
	if len(rows) > 0 {
		p.line(indent, "rows per %s: %s", c.Per, strings.Join(rows, "; "))
	}
	if d := c.DB; d.WaitSamples > 0 {
		var parts []string
		for _, k := range topWaits(d.Waits, 4) {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*d.Waits[k]))
		}
		p.line(indent, "active backends %.2f on average (%d samples): %s", d.AvgActive, d.WaitSamples,
			strings.Join(parts, ", "))
	}
	for i, s := range c.DB.Statements {
		if i == 0 {
			p.line(indent, "statements by total time (ms, calls, query):")
		}
		what := s.Query
		if s.Does != "" {
			what = "[" + s.Does + "] " + s.Query
		}
		p.raw(fmt.Sprintf("%s%7.0f %7d  %s", strings.Repeat(" ", indent+2), s.TotalMS, s.Calls, what))
	}
}

// cpu prints a phase's CPU seconds by process and part, and per unit
// when units is positive.
func (p printer) cpu(indent int, c CPU, units float64, per string) {
	type part struct {
		name string
		s    float64
	}
	var parts []part
	if c.PostgreSQL >= 0 {
		parts = append(parts, part{"PostgreSQL", c.PostgreSQL})
	}
	if c.Split != nil {
		names := make([]string, 0, len(c.Split))
		for k := range c.Split {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			parts = append(parts, part{k, c.Split[k]})
		}
	} else {
		parts = append(parts, part{"bench process", c.Bench})
	}
	parts = append(parts, part{"other processes", c.Other})
	var s []string
	for _, x := range parts {
		if units > 0 {
			s = append(s, fmt.Sprintf("%s %.0f", x.name, 1e6*x.s/units))
		} else {
			s = append(s, fmt.Sprintf("%s %.2f", x.name, x.s))
		}
	}
	unit := "CPU-s"
	if units > 0 {
		unit = "CPU µs per " + per
	}
	p.line(indent, "%s over %.1f s, machine %.0f%% busy: %s", unit, c.Wall, c.MachineBusy, strings.Join(s, ", "))
}

// sustainedProbe is the probes' length, as the report knows it.
func (r Report) sustainedProbe() string {
	if r.Sustained == nil || r.Sustained.ProbeLength == 0 {
		return "?"
	}
	return r.Sustained.ProbeLength.String()
}
