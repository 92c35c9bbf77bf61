package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/inbox"
)

// Summary is what the demo has done so far, read from hookd's database.
type Summary struct {
	// Elapsed is the time the demo has run (until Stop, for Final).
	Elapsed time.Duration
	// Events is the number of distinct events published.
	Events int64
	// RepeatedPublishes is publishes of an id that existed (stored once).
	RepeatedPublishes int64
	// Delivered is deliveries that succeeded.
	Delivered int64
	// Retrying is deliveries that failed at least once and wait for (or
	// are making) another attempt.
	Retrying int64
	// Dead is deliveries whose retry budget is spent: dead letters.
	Dead int64
	// Held is deliveries held for a disabled endpoint.
	Held int64
	// DisabledEndpoints is endpoints disabled (by a 410 Gone, here).
	DisabledEndpoints int64
	// IntakeAccepted, IntakeDuplicates and IntakeRejected count requests
	// to the demo's intake source: stored, acknowledged as duplicates, and
	// refused with 401.
	IntakeAccepted, IntakeDuplicates, IntakeRejected int64
}

// summarySQL reads the delivery side of the summary in one statement.
const summarySQL = `
	SELECT
		(SELECT count(*) FROM hookd.events),
		count(*) FILTER (WHERE state = 'succeeded'),
		count(*) FILTER (WHERE state IN ('pending', 'in_flight') AND attempts > 0),
		count(*) FILTER (WHERE state = 'dead'),
		count(*) FILTER (WHERE state = 'held'),
		(SELECT count(*) FROM hookd.endpoints WHERE kind = 'webhook' AND NOT enabled)
	FROM hookd.deliveries`

// Summary reads the current summary; valid while the demo runs.
func (d *Demo) Summary(ctx context.Context) (Summary, error) { return d.summary(ctx) }

func (d *Demo) summary(ctx context.Context) (Summary, error) {
	s, err := readSummary(ctx, d.db.Pool, d.started)
	if d.stream != nil {
		s.RepeatedPublishes = d.stream.repeats.Load()
	}
	switch {
	case d.ran > 0:
		s.Elapsed = d.ran
	case !d.started.IsZero():
		s.Elapsed = time.Since(d.started)
	}
	return s, err
}

// readSummary reads the counters from the database; intake counts are
// those since the minute of since (the database is fresh for each run).
func readSummary(ctx context.Context, ex db.Executor, since time.Time) (Summary, error) {
	var s Summary
	err := ex.QueryRow(ctx, summarySQL).Scan(&s.Events, &s.Delivered, &s.Retrying, &s.Dead, &s.Held, &s.DisabledEndpoints)
	if err != nil {
		return s, fmt.Errorf("read the demo's summary: %w", err)
	}
	stats, err := inbox.Stats(ctx, ex, since.Add(-time.Minute))
	if err != nil {
		return s, fmt.Errorf("read the demo's intake counters: %w", err)
	}
	for _, st := range stats {
		if st.Source == SourceName {
			s.IntakeAccepted, s.IntakeDuplicates, s.IntakeRejected = st.Accepted, st.Duplicates, st.Rejected
		}
	}
	return s, nil
}

// Line renders s on one line, for the live headless display.
func (s Summary) Line() string {
	return fmt.Sprintf("%5s  events %d · delivered %d · retrying %d · dead %d · disabled endpoints %d · intake %d accepted, %d duplicates, %d rejected",
		s.Elapsed.Truncate(time.Second), s.Events, s.Delivered, s.Retrying, s.Dead, s.DisabledEndpoints,
		s.IntakeAccepted, s.IntakeDuplicates, s.IntakeRejected)
}

// Table renders s as "name  value" lines, one counter per line; the names
// are stable, for people and scripts alike.
func (s Summary) Table() string {
	var b strings.Builder
	for _, row := range []struct {
		name string
		n    int64
	}{
		{"events", s.Events},
		{"repeated publishes", s.RepeatedPublishes},
		{"delivered", s.Delivered},
		{"retrying", s.Retrying},
		{"dead", s.Dead},
		{"held", s.Held},
		{"disabled endpoints", s.DisabledEndpoints},
		{"intake accepted", s.IntakeAccepted},
		{"intake duplicates", s.IntakeDuplicates},
		{"intake rejected", s.IntakeRejected},
	} {
		fmt.Fprintf(&b, "  %-20s %d\n", row.name+":", row.n)
	}
	return b.String()
}
