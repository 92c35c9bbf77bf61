package bench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Dist summarises latencies.
type Dist struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Dist{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, PostgreSQL %s (synchronous_commit=%s, fsync=%s), load before %q after %q\n",
		m.CPUs, m.GoVersion, m.PostgreSQL, m.SynchronousCommit, m.Fsync, m.LoadBefore, m.LoadAfter)
	c := r.Ceiling
	fmt.Fprintf(w, "ceiling (signed POSTs, no database): %d requests, %d concurrent: %.0f req/s, rtt p50 %.2f ms p99 %.2f ms, %d errors; machine %.0f%% busy\n",
		c.Requests, c.Concurrency, c.PerSec, ms(c.RTT.P50), ms(c.RTT.P99), c.Errors, c.MachineBusy)
	b := r.Burndown
	fmt.Fprintf(w, "hookd burn-down: %d events to %d endpoints, %d workers: %.0f deliveries/s end to end (%.0f/s until recorded), published at %.0f/s; %d duplicates, %d rejected; machine %.0f%% busy\n",
		b.Events, b.Endpoints, b.Workers, b.PerSec, b.RecordedPerSec, b.PublishRate, b.Duplicates, b.Rejected, b.MachineBusy)
	fmt.Fprintf(w, "ratio to the ceiling: %.3f\n", r.Ratio)
	if s := r.Steady; s != nil {
		fmt.Fprintf(w, "hookd steady: %.0f events/s offered for %s: %d published (%d not offered: publishers saturated), %d received, %d missing; publish->receipt p50 %.2f ms p99 %.2f ms max %.2f ms; machine %.0f%% busy\n",
			s.OfferedPerSec, s.Duration, s.Published, s.Dropped, s.Received, s.Missing, ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.Max), s.MachineBusy)
		fmt.Fprintf(w, "  of which the publishing transaction p50 %.2f ms p99 %.2f ms; commit->receipt p50 %.2f ms p99 %.2f ms\n",
			ms(s.Commit.P50), ms(s.Commit.P99), ms(s.CommitToReceipt.P50), ms(s.CommitToReceipt.P99))
	}
}
