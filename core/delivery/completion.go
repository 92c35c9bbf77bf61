package delivery

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
)

// Completion is CompleteTx in its two round trips, for a caller that
// sends other statements with them: QueueCompletion queues the lock on
// the results' deliveries, and once that batch has been read, Queue
// queues the writes. Applied and Dropped are CompleteTx's results once
// the second batch has been sent.
type Completion struct {
	policy  Policy
	results []Result
	present map[int64]time.Time // the deliveries that exist, with their partition key now
	leased  map[int64]bool      // and those still leased to the result's worker for its attempt

	Applied, Dropped []Result
}

// QueueCompletion queues into batch the statement that locks the queue
// rows of results, so that a concurrent delete waits for this batch, and
// reads which deliveries exist and which are still leased to the result's
// worker for the result's attempt.
func QueueCompletion(batch *pgx.Batch, policy Policy, results []Result) *Completion {
	// A stable order keeps concurrent batches from deadlocking: queue rows
	// by id, then lanes by endpoint.
	results = slices.Clone(results)
	slices.SortFunc(results, func(a, b Result) int { return cmp.Compare(a.DeliveryID, b.DeliveryID) })
	c := &Completion{policy: policy, results: results, present: map[int64]time.Time{}, leased: map[int64]bool{}}
	ids := make([]int64, len(results))
	workers := make([]string, len(results))
	attempts := make([]int32, len(results))
	for i, r := range results {
		ids[i], workers[i], attempts[i] = r.DeliveryID, r.Worker, int32(r.Attempt)
	}
	batch.Queue(`
		SELECT q.id, q.event_stored_at, q.state = 'in_flight' AND q.leased_by = i.worker AND q.attempts = i.attempt
		FROM hookd.queue q JOIN unnest($1::bigint[], $2::text[], $3::int[]) AS i(id, worker, attempt) ON i.id = q.id
		ORDER BY q.id
		FOR UPDATE OF q`, ids, workers, attempts).Query(c.scanPresent)
	return c
}

// Queue queues into batch the writes that record the results: each
// delivery's move to hookd.finished or its next state, its attempt, its
// lane's freed slot and its endpoint's health. A result whose delivery
// finished meanwhile (another worker's, after this one's lease expired)
// still has its attempt logged: it is looked for in hookd.finished first,
// in tx, for the few that are not in the queue.
func (c *Completion) Queue(ctx context.Context, tx db.Executor, batch *pgx.Batch) error {
	var late []int64
	var lateAt []time.Time
	for _, r := range c.results {
		if _, ok := c.present[r.DeliveryID]; !ok {
			late, lateAt = append(late, r.DeliveryID), append(lateAt, r.EventStoredAt)
		}
	}
	if len(late) > 0 {
		rows, err := tx.Query(ctx, `
			SELECT f.id, f.event_stored_at, false
			FROM hookd.finished f JOIN unnest($1::bigint[], $2::timestamptz[]) AS i(id, stored_at)
			  ON i.id = f.id AND i.stored_at = f.event_stored_at
			FOR KEY SHARE OF f`, late, lateAt)
		if err != nil {
			return db.Interpret(err)
		}
		if err := c.scanPresent(rows); err != nil {
			return db.Interpret(err)
		}
	}
	var kept []Result
	freed := map[string]int{}
	for _, r := range c.results {
		stored, ok := c.present[r.DeliveryID]
		if !ok {
			c.Dropped = append(c.Dropped, r)
			continue
		}
		// Where the delivery is now: retention may have carried its
		// event forward into a newer partition during the attempt.
		r.EventStoredAt = stored
		if c.leased[r.DeliveryID] {
			c.Applied = append(c.Applied, r)
			freed[r.EndpointID]++
		}
		kept = append(kept, r)
	}
	queueOutcomes(batch, c.Applied)
	queueAttempts(batch, kept)
	queueFreedLanes(batch, freed, kept)
	queueHealth(batch, c.policy, endpointsOwn(kept))
	return nil
}

func (c *Completion) scanPresent(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var id int64
		var at time.Time
		var l bool
		if err := rows.Scan(&id, &at, &l); err != nil {
			return err
		}
		c.present[id] = at
		c.leased[id] = c.leased[id] || l
	}
	return rows.Err()
}
