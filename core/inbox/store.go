package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// This file holds the queries on hookd.inbox and hookd.intake_minutes that
// are not the consumer's claim.

// NotifyChannel is the NOTIFY channel that wakes consumers when an inbox
// event becomes due (stored, or replayed). Sent inside the writing
// transaction, so it arrives on commit.
const NotifyChannel = "hookd_inbox"

// State is an inbox event's processing state.
type State string

// Inbox states.
const (
	// StatePending waits for a consumer (sources without forward_to).
	StatePending State = "pending"
	// StateProcessed: a consumer's Handle committed.
	StateProcessed State = "processed"
	// StateForwarded: handed to the delivery engine in the transaction that
	// stored it; the forward endpoint's delivery tells the rest.
	StateForwarded State = "forwarded"
	// StateDead: Handle failed MaxAttempts times; Replay re-queues it.
	StateDead State = "dead"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateProcessed, StateForwarded, StateDead:
		return true
	}
	return false
}

// Event is one stored inbound webhook.
type Event struct {
	ID int64 `json:"id"`
	// Source is the name of the source it came through.
	Source string `json:"source"`
	// EventID is the sender's id, unique per source.
	EventID string `json:"event_id"`
	// Type is the body's "type" or GitHub's X-GitHub-Event; may be "".
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"received_at"`
	// Headers and Body are as received (credentials redacted); List leaves
	// them empty, Get fills them.
	Headers http.Header `json:"headers,omitempty"`
	Body    []byte      `json:"-"`
	// Verification says how the request was verified, e.g.
	// "standard: signature matched secret 1 of 2".
	Verification  string     `json:"verification"`
	State         State      `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	Duplicates    int        `json:"duplicates"`
	ProcessedAt   *time.Time `json:"processed_at,omitempty"`
}

// MarshalJSON writes Body as "body" when it is UTF-8 text, else as
// "body_base64".
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	out := struct {
		plain
		Body       *string `json:"body,omitempty"`
		BodyBase64 []byte  `json:"body_base64,omitempty"`
	}{plain: plain(e)}
	if e.Body != nil {
		if utf8.Valid(e.Body) {
			s := string(e.Body)
			out.Body = &s
		} else {
			out.BodyBase64 = e.Body
		}
	}
	return json.Marshal(out)
}

const summaryColumns = `id, source, event_id, event_type, received_at, verification, state, attempts,
	next_attempt_at, last_error, duplicates, processed_at`

func scanSummary(row pgx.Row, extra ...any) (*Event, error) {
	var e Event
	var state string
	dest := append([]any{&e.ID, &e.Source, &e.EventID, &e.Type, &e.ReceivedAt, &e.Verification, &state,
		&e.Attempts, &e.NextAttemptAt, &e.LastError, &e.Duplicates, &e.ProcessedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, db.Interpret(err)
	}
	e.State = State(state)
	return &e, nil
}

func scanFull(row pgx.Row) (*Event, error) {
	var headers []byte
	var body []byte
	e, err := scanSummary(row, &headers, &body)
	if err != nil {
		return nil, err
	}
	e.Body = body
	if err := json.Unmarshal(headers, &e.Headers); err != nil {
		return nil, fmt.Errorf("inbox event %d: headers: %w", e.ID, err)
	}
	return e, nil
}

// Get returns one inbox event with its headers and body, or db.ErrNotFound.
func Get(ctx context.Context, ex db.Executor, id int64) (*Event, error) {
	return scanFull(ex.QueryRow(ctx, `SELECT `+summaryColumns+`, headers, body FROM hookd.inbox WHERE id = $1`, id))
}

// ListParams page through inbox events newest first. Zero fields match all.
type ListParams struct {
	Source string
	State  State
	// Before is the id to continue below (the previous page's Next).
	Before int64
	// Limit defaults to 50, at most 1000.
	Limit int
}

// Page is one page of inbox events; Next is 0 when there are no more.
type Page struct {
	Events []*Event `json:"events"`
	Next   int64    `json:"next,omitempty"`
}

// List returns inbox events matching p without headers and body, newest
// first, by keyset pagination.
func List(ctx context.Context, ex db.Executor, p ListParams) (Page, error) {
	if p.Source != "" {
		if err := checkName("source", p.Source); err != nil {
			return Page{}, err
		}
	}
	if p.State != "" && !p.State.Valid() {
		return Page{}, validate.Errorf("state", "%q is not a state (allowed: pending, processed, forwarded, dead)", p.State)
	}
	if p.Limit == 0 {
		p.Limit = 50
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return Page{}, validate.Errorf("limit", "must be between 1 and 1000")
	}
	rows, err := ex.Query(ctx, `SELECT `+summaryColumns+` FROM hookd.inbox
		WHERE ($1 = '' OR source = $1) AND ($2 = '' OR state = $2) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, p.Source, string(p.State), p.Before, p.Limit+1)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	page := Page{Events: []*Event{}}
	for rows.Next() {
		e, err := scanSummary(rows)
		if err != nil {
			return Page{}, err
		}
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(page.Events) > p.Limit {
		page.Events = page.Events[:p.Limit]
		page.Next = page.Events[p.Limit-1].ID
	}
	return page, nil
}

// replaySet gives a dead event a fresh processing budget, due now.
const replaySet = `state = 'pending', attempts = 0, next_attempt_at = now(), last_error = '', processed_at = NULL`

// Replay re-queues one dead inbox event for its consumers with a fresh
// budget. It fails with db.ErrNotFound for an unknown id and a
// *validate.Error for an event that is not dead.
func Replay(ctx context.Context, ex db.Executor, id int64) (*Event, error) {
	e, err := scanSummary(ex.QueryRow(ctx, `UPDATE hookd.inbox SET `+replaySet+`
		WHERE id = $1 AND state = 'dead' RETURNING `+summaryColumns, id))
	if err == nil {
		return e, notifyConsumers(ctx, ex)
	}
	if err != db.ErrNotFound {
		return nil, err
	}
	cur, err := Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	hint := ""
	if cur.State == StateForwarded {
		hint = " (a forwarded event is replayed through its delivery to the forward endpoint)"
	}
	return nil, validate.Errorf("id", "inbox event %d is %s; only dead events can be replayed%s", id, cur.State, hint)
}

// ReplayParams select dead inbox events to re-queue.
type ReplayParams struct {
	// Source limits the replay to one source; "" means every source.
	Source string `json:"source,omitempty"`
	// DryRun counts what would be replayed and changes nothing.
	DryRun bool `json:"dry_run"`
}

// ReplayMatching re-queues every dead inbox event matching p and returns
// how many matched.
func ReplayMatching(ctx context.Context, ex db.Executor, p ReplayParams) (int64, error) {
	if p.Source != "" {
		if err := checkName("source", p.Source); err != nil {
			return 0, err
		}
	}
	var n int64
	if p.DryRun {
		err := ex.QueryRow(ctx, `SELECT count(*) FROM hookd.inbox WHERE state = 'dead' AND ($1 = '' OR source = $1)`,
			p.Source).Scan(&n)
		return n, err
	}
	tag, err := ex.Exec(ctx, `UPDATE hookd.inbox SET `+replaySet+` WHERE state = 'dead' AND ($1 = '' OR source = $1)`, p.Source)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	return tag.RowsAffected(), notifyConsumers(ctx, ex)
}

// ReplayIDs re-queues the given inbox events (the console's marked rows)
// and returns how many were re-queued; unknown and non-dead ids are skipped.
func ReplayIDs(ctx context.Context, ex db.Executor, ids []int64) (int64, error) {
	tag, err := ex.Exec(ctx, `UPDATE hookd.inbox SET `+replaySet+` WHERE id = ANY($1) AND state = 'dead'`, ids)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	return tag.RowsAffected(), notifyConsumers(ctx, ex)
}

// notifyConsumers wakes the consumers on commit.
func notifyConsumers(ctx context.Context, ex db.Executor) error {
	_, err := ex.Exec(ctx, `SELECT pg_notify('`+NotifyChannel+`', '')`)
	return err
}

// SourceStats are one source's intake counters over a period.
type SourceStats struct {
	Source     string `json:"source"`
	Accepted   int64  `json:"accepted"`
	Duplicates int64  `json:"duplicates"`
	Rejected   int64  `json:"rejected"`
}

// Stats returns intake counters per source from the minute that contains
// since onwards, ordered by source. Every stored source appears, with
// zeros when it received nothing. Rejections are written in batches (see
// Handler), so the latest second of them may not show yet.
func Stats(ctx context.Context, ex db.Executor, since time.Time) ([]SourceStats, error) {
	rows, err := ex.Query(ctx, `
		WITH m AS (
			SELECT source, sum(accepted) AS a, sum(duplicates) AS d, sum(rejected) AS r
			FROM hookd.intake_minutes WHERE minute >= date_trunc('minute', $1::timestamptz)
			GROUP BY source
		)
		SELECT coalesce(s.name, m.source), coalesce(m.a, 0)::bigint, coalesce(m.d, 0)::bigint, coalesce(m.r, 0)::bigint
		FROM hookd.sources s FULL JOIN m ON m.source = s.name
		ORDER BY 1`, since)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SourceStats, error) {
		var s SourceStats
		err := row.Scan(&s.Source, &s.Accepted, &s.Duplicates, &s.Rejected)
		return s, err
	})
}

// countSQL adds to a source's counters for the current minute.
const countSQL = `INSERT INTO hookd.intake_minutes (source, minute, accepted, duplicates, rejected)
	VALUES ($1, date_trunc('minute', now()), $2, $3, $4)
	ON CONFLICT (source, minute) DO UPDATE SET accepted = hookd.intake_minutes.accepted + excluded.accepted,
		duplicates = hookd.intake_minutes.duplicates + excluded.duplicates,
		rejected = hookd.intake_minutes.rejected + excluded.rejected`

// CarryForward moves the inbox events stored in [lower, upper) that are
// still to be processed (pending) to the partition key to, so that their
// partition can be dropped (core/retention). It returns how many.
func CarryForward(ctx context.Context, tx pgx.Tx, lower, upper, to time.Time) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, `
		WITH moved AS (
			UPDATE hookd.inbox SET stored_at = $3
			WHERE state = 'pending' AND stored_at >= $1 AND stored_at < $2
			RETURNING source, event_id
		), keys AS (
			UPDATE hookd.inbox_ids i SET stored_at = $3 FROM moved m
			WHERE i.source = m.source AND i.event_id = m.event_id
			RETURNING 1
		)
		SELECT count(*) + 0 * (SELECT count(*) FROM keys) FROM moved`, lower, upper, to).Scan(&n)
	return n, err
}

// ExpireIDs frees, in one batch of at most limit, the dedupe keys of inbox
// events stored before before, and returns how many.
func ExpireIDs(ctx context.Context, ex db.Executor, before time.Time, limit int) (int64, error) {
	tag, err := ex.Exec(ctx, `DELETE FROM hookd.inbox_ids WHERE (source, event_id) IN (
		SELECT source, event_id FROM hookd.inbox_ids WHERE stored_at < $1 ORDER BY stored_at LIMIT $2)`, before, limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
