package delivery

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsRead are the claimed deliveries' events, by the job's index.
type eventsRead struct {
	found []bool
}

// queueEvents queues the read of the jobs' events into batch: one key
// lookup per delivery, never a scan of a partition (a new one has no
// statistics yet and looks empty), and bounded by the range of the jobs'
// event times, so that only the partitions holding them are opened. Had
// the claiming statement joined the events, its plan would open every
// partition on every claim, and a claim's cost would grow with the days
// retention.period keeps (about 4 µs a partition).
func queueEvents(batch *pgx.Batch, jobs []Job) *eventsRead {
	read := &eventsRead{found: make([]bool, len(jobs))}
	if len(jobs) == 0 {
		return read
	}
	ids := make([]string, len(jobs))
	at := make([]time.Time, len(jobs))
	lo, hi := jobs[0].EventStoredAt, jobs[0].EventStoredAt
	for i, j := range jobs {
		ids[i], at[i] = j.EventID, j.EventStoredAt
		lo, hi = minTime(lo, j.EventStoredAt), maxTime(hi, j.EventStoredAt)
	}
	batch.Queue(`
		SELECT u.n - 1, ev.type, ev.data::text, ev.created_at
		FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS u(id, stored_at, n)
		CROSS JOIN LATERAL (
			SELECT e.type, e.data, e.created_at FROM hookd.events e
			WHERE e.id = u.id AND e.stored_at = u.stored_at AND e.stored_at >= $3 AND e.stored_at <= $4
			LIMIT 1
		) ev`, ids, at, lo, hi).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var i int
			var data string
			var j Job
			if err := rows.Scan(&i, &j.EventType, &data, &j.EventCreated); err != nil {
				return err
			}
			if i < 0 || i >= len(jobs) {
				return fmt.Errorf("event read: row %d of %d", i, len(jobs))
			}
			jobs[i].EventType, jobs[i].EventData, jobs[i].EventCreated = j.EventType, json.RawMessage(data), j.EventCreated.UTC()
			read.found[i] = true
		}
		return rows.Err()
	})
	return read
}

// split parts the jobs into those whose event was read and those whose
// event no longer exists.
func (r *eventsRead) split(jobs []Job) (withEvent, missing []Job) {
	for i, j := range jobs {
		if r.found[i] {
			withEvent = append(withEvent, j)
		} else {
			missing = append(missing, j)
		}
	}
	return withEvent, missing
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
