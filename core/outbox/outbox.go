// Package outbox publishes events through a transactional outbox and fans
// them out into deliveries.
//
// # Publishing
//
// An event is written into hookd.events by the producer's own transaction:
//
//	tx, _ := pool.Begin(ctx)
//	// ... the business write ...
//	_, err := pub.PublishTx(ctx, tx, outbox.Event{Type: "invoice.paid", Tenant: "cus_42", Data: data})
//	// ... tx.Commit(ctx): the event exists if and only if the business write does.
//
// Fan-out (one delivery per matching endpoint, see delivery.FanOutCTE)
// happens in the same statement, so a committed event always has its
// deliveries. [Publisher.PublishBatch] writes many events in one statement.
// Events written by other means (plain SQL producers, which leave
// fanned_out false) are completed by the [Fanout] service.
//
// # Tenants
//
// An event for a tenant reaches only that tenant's endpoints; one without a
// tenant only endpoints without one; a broadcast event every matching
// endpoint. Publishing for a tenant that does not exist fails with
// *UnknownTenantError (the API answers 404): tenants are made explicitly,
// so a typo never creates one. Publishing takes a shared lock on the
// tenant that erasing it takes exclusively, so no event slips in while a
// tenant is erased. A plain SQL producer's insert is refused alike, by
// the events table's trigger (foreign_key_violation on tenant_id).
//
// # Ids
//
// Event ids are unique across the whole system (hookd.event_ids, kept as
// long as the events). Publishing an id that exists returns the first event
// with Duplicate set and writes nothing.
//
// All SQL on hookd.events and hookd.event_ids lives in this package.
package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/validate"
)

// DefaultMaxPayloadBytes caps an event's data (delivery.max_payload_bytes).
const DefaultMaxPayloadBytes = 256 << 10

// MaxBatch is the most events one PublishBatch takes.
const MaxBatch = 1000

// WorkChannel is the NOTIFY channel that wakes dispatchers (see
// delivery.WorkChannel).
const WorkChannel = delivery.WorkChannel

// Event is one published event.
type Event struct {
	// ID is the stable id receivers dedupe on. Optional when publishing: a new
	// "evt_..." id is made when empty.
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Created defaults to the publishing transaction's time.
	Created time.Time `json:"created"`
	// Tenant is the tenant whose endpoints receive the event; empty for
	// none (then it reaches endpoints without a tenant).
	Tenant string `json:"tenant,omitempty"`
	// Broadcast sends the event to every matching endpoint of every tenant
	// and of none; Tenant must be empty.
	Broadcast bool `json:"broadcast,omitempty"`
	// EndpointID directs the event to one endpoint only (intake forwarding,
	// alerts); empty means every matching webhook endpoint.
	EndpointID string `json:"-"`
	// Seq orders events by insertion; informative only.
	Seq int64 `json:"-"`
	// StoredAt is when the row was written: the partition key.
	StoredAt time.Time `json:"-"`
}

// Result tells what Publish did.
type Result struct {
	Event Event `json:"event"`
	// Deliveries is how many deliveries this call created.
	Deliveries int `json:"deliveries"`
	// Duplicate is true when an event with this id already existed: Event is
	// the earlier one and nothing was written.
	Duplicate bool `json:"duplicate"`
}

// UnknownTenantError is publishing for a tenant that does not exist.
type UnknownTenantError struct{ Tenant string }

func (e *UnknownTenantError) Error() string {
	return fmt.Sprintf("tenant %q does not exist; create it first (PUT /v1/tenants/%s or hookd tenants add %s)", e.Tenant, e.Tenant, e.Tenant)
}

// Is makes errors.Is(err, db.ErrNotFound) hold.
func (e *UnknownTenantError) Is(target error) bool { return target == db.ErrNotFound }

// In is the index of the first of events that names the tenant (the one a
// batch's answer names), or -1.
func (e *UnknownTenantError) In(events []Event) int {
	return slices.IndexFunc(events, func(ev Event) bool { return ev.Tenant == e.Tenant })
}

// IDTakenError is publishing an event under an id that an event for
// another tenant (or for none, or a tenant's where none is given) has:
// event ids are unique across hookd, and answered as a duplicate such an
// event was dropped while its publisher was told it was kept.
type IDTakenError struct {
	Field string // "id", or "events[i].id" in a batch
	ID    string
	// Broadcast is set when the events differ in broadcast rather than in
	// tenant.
	Broadcast bool
}

func (e *IDTakenError) Error() string {
	if e.Broadcast {
		return fmt.Sprintf("%s: %q is the id of an event that differs in broadcast (it reaches other endpoints); give this event an id of its own", e.Field, e.ID)
	}
	return fmt.Sprintf("%s: %q is the id of an event for another tenant; event ids are unique across all tenants, so give this event an id of its own", e.Field, e.ID)
}

// Is makes errors.Is(err, db.ErrConflict) hold.
func (e *IDTakenError) Is(target error) bool { return target == db.ErrConflict }

// Publisher writes events. It is safe for concurrent use.
type Publisher struct {
	pool            *pgxpool.Pool
	maxPayloadBytes int64
	span            time.Duration
}

// Options configure a Publisher.
type Options struct {
	// MaxPayloadBytes caps Data. Defaults to DefaultMaxPayloadBytes.
	MaxPayloadBytes int64
	// PartitionSpan is the span of history partitions (from
	// retention.period, see partition.SpanFor), used to make a missing
	// partition on the spot. Defaults to one day.
	PartitionSpan time.Duration
}

// NewPublisher returns a Publisher on pool.
func NewPublisher(pool *pgxpool.Pool, opts Options) *Publisher {
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if opts.PartitionSpan < time.Minute {
		opts.PartitionSpan = 24 * time.Hour
	}
	return &Publisher{pool: pool, maxPayloadBytes: opts.MaxPayloadBytes, span: opts.PartitionSpan}
}

// Publish writes ev in a transaction of its own.
func (p *Publisher) Publish(ctx context.Context, ev Event) (Result, error) {
	rs, err := p.PublishBatch(ctx, nil, []Event{ev})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// PublishTx writes ev in the caller's transaction: it commits or rolls back
// with tx. Publishing an id that exists returns the existing event with
// Duplicate set. At REPEATABLE READ or SERIALIZABLE every endpoint it
// makes work due for gets a wake and a notification (hookd.needing_wakes
// cannot see a lane dropped after the transaction's snapshot), so such
// transactions commit one at a time on PostgreSQL's notification lock.
func (p *Publisher) PublishTx(ctx context.Context, tx pgx.Tx, ev Event) (Result, error) {
	rs, err := p.PublishBatch(ctx, tx, []Event{ev})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// PublishBatch writes up to MaxBatch events with one statement in tx (in
// a transaction of its own when tx is nil), all or none: an invalid event
// (a *validate.Error naming "events[i].field") or an unknown tenant fails
// the whole batch. It returns one Result per event, in order; an id that
// exists already, or repeats an earlier one of the batch, is a Duplicate,
// unless that event is for another tenant: then the batch fails with an
// *IDTakenError.
func (p *Publisher) PublishBatch(ctx context.Context, tx pgx.Tx, events []Event) ([]Result, error) {
	if len(events) == 0 {
		return nil, validate.Errorf("events", "is empty; send at least one event")
	}
	if len(events) > MaxBatch {
		return nil, validate.Errorf("events", "has %d events; at most %d go in one batch", len(events), MaxBatch)
	}
	events = slices.Clone(events)
	for i := range events {
		if err := Validate(&events[i], p.maxPayloadBytes); err != nil {
			if len(events) > 1 {
				return nil, validate.Within(err, fmt.Sprintf("events[%d].", i))
			}
			return nil, err
		}
		if events[i].ID == "" {
			events[i].ID = ids.New("evt")
		}
	}
	if tx != nil {
		return p.publish(ctx, tx, events)
	}
	var out []Result
	err := p.withPartitions(ctx, func() (err error) {
		out, err = p.publishOwn(ctx, events)
		return err
	})
	return out, err
}

// PublishAll publishes any number of events, in batches of MaxBatch within
// one transaction of its own, so that a refusal of any batch (an unknown
// tenant, an id another tenant's event has) leaves none published. An
// invalid event is named "events[i].field" within its batch: callers that
// number their events check each with Validate first.
func (p *Publisher) PublishAll(ctx context.Context, events []Event) ([]Result, error) {
	var out []Result
	err := p.withPartitions(ctx, func() error {
		out = nil
		return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			for start := 0; start < len(events); start += MaxBatch {
				rs, err := p.PublishBatch(ctx, tx, events[start:min(start+MaxBatch, len(events))])
				if err != nil {
					return err
				}
				out = append(out, rs...)
			}
			return nil
		})
	})
	return out, err
}

// withPartitions runs publish, a transaction of its own, and once more
// after making the partitions around now when they were missing (a first
// start, or a leader that paused for long).
func (p *Publisher) withPartitions(ctx context.Context, publish func() error) error {
	err := publish()
	if partition.IsMissing(err) {
		if _, perr := partition.Ensure(ctx, p.pool, p.span, time.Now()); perr != nil {
			return fmt.Errorf("%w (and making the partition failed: %v)", err, perr)
		}
		err = publish()
	}
	return err
}

var idPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// ReservedIDPrefix starts the ids hookd makes for its own events (intake
// forwards are "in:<source>:<id>"); published events may not use it, so a
// producer can never take the id of a forward before it arrives.
const ReservedIDPrefix = "in:"

// The range of created: RFC 3339 (and JSON) can write years 0000 to 9999
// only, and the feed must be able to write every event it serves.
var (
	MinCreated = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxCreated = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// CheckTime refuses, naming field, a time given outside MinCreated and
// MaxCreated: a created time, or a bound of a filter on them. Filters
// read the zero time as no bound, so given as a bound it matched
// everything (a replay until year 1 replayed every dead letter).
func CheckTime(field string, t time.Time) error {
	if c := t.UTC(); c.Before(MinCreated) || c.After(MaxCreated) {
		return validate.Errorf(field, "%s is out of range: it must lie between %s and %s (in UTC)",
			t.Format(time.RFC3339Nano), MinCreated.Format(time.RFC3339), MaxCreated.Format(time.RFC3339))
	}
	return nil
}

// Validate checks an event before it is written; maxPayload caps Data.
func Validate(ev *Event, maxPayload int64) error {
	if ev.Tenant != "" {
		if err := validate.TenantID("tenant", ev.Tenant); err != nil {
			return err
		}
	}
	if ev.Broadcast && (ev.Tenant != "" || ev.EndpointID != "") {
		return validate.Errorf("broadcast", "a broadcast event goes to every tenant; leave tenant empty")
	}
	if ev.Type == "" {
		return validate.Errorf("type", "is required")
	}
	if !validate.EventType(ev.Type) {
		return validate.Errorf("type", "%q is not an event type (at most %d bytes of letters, digits, _ : - separated by dots, such as invoice.paid)", ev.Type, validate.MaxEventTypeBytes)
	}
	if ev.ID != "" && !idPattern.MatchString(ev.ID) {
		return validate.Errorf("id", "must be 1 to 255 printable ASCII characters without spaces")
	}
	if ev.ID == "." || ev.ID == ".." {
		return validate.Errorf("id", "%q cannot be an id: as a path segment it names no event", ev.ID)
	}
	if ev.EndpointID == "" && strings.HasPrefix(ev.ID, ReservedIDPrefix) {
		return validate.Errorf("id", "must not start with %q: hookd keeps that prefix for the ids of forwarded intake events", ReservedIDPrefix)
	}
	if !ev.Created.IsZero() {
		if err := CheckTime("created", ev.Created); err != nil {
			return err
		}
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage(`{}`)
	}
	// Receivers read data as the event's payload; null is none (and the
	// API's answer would not match its own description of an event).
	if string(bytes.TrimSpace(ev.Data)) == "null" {
		return validate.Errorf("data", "is null; send a JSON value, or leave data out for {}")
	}
	if int64(len(ev.Data)) > maxPayload {
		return &validate.TooLargeError{Field: "data", Size: int64(len(ev.Data)), Limit: maxPayload, Key: "delivery.max_payload_bytes"}
	}
	// encoding/json accepts invalid UTF-8 inside strings; PostgreSQL does not.
	if !utf8.Valid(ev.Data) {
		return validate.Errorf("data", "is not valid UTF-8")
	}
	if !json.Valid(ev.Data) {
		return validate.Errorf("data", "is not valid JSON")
	}
	return nil
}

const eventColumns = `seq, id, type, data, created_at, coalesce(endpoint_id, ''), coalesce(tenant_id, ''), broadcast, stored_at`

func scanEvent(row pgx.Row) (*Event, error) {
	var ev Event
	var data string
	if err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &data, &ev.Created, &ev.EndpointID, &ev.Tenant, &ev.Broadcast, &ev.StoredAt); err != nil {
		return nil, db.Interpret(err)
	}
	ev.Data = json.RawMessage(data)
	ev.Created = ev.Created.UTC()
	return &ev, nil
}

// AgedOutError is an event that existed but is older than retention.period:
// its partition has been dropped. It matches db.ErrNotFound.
type AgedOutError struct {
	ID       string
	StoredAt time.Time
}

func (e *AgedOutError) Error() string {
	return fmt.Sprintf("event %q was stored at %s and has aged out: hookd keeps events and their deliveries for retention.period",
		e.ID, e.StoredAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, db.ErrNotFound) hold.
func (e *AgedOutError) Is(target error) bool { return target == db.ErrNotFound }

// Get returns one event, db.ErrNotFound, or *AgedOutError for an event
// retention dropped. The id's row in hookd.event_ids names the event's
// partition (and outlives it).
func Get(ctx context.Context, ex db.Executor, id string) (*Event, error) {
	ev, err := scanEvent(ex.QueryRow(ctx, `SELECT `+eventColumns+` FROM hookd.events
		WHERE id = $1 AND stored_at = (SELECT stored_at FROM hookd.event_ids WHERE id = $1)`, id))
	if !errors.Is(err, db.ErrNotFound) {
		return ev, err
	}
	var stored time.Time
	var kept bool
	err = ex.QueryRow(ctx, `SELECT i.stored_at, EXISTS (SELECT 1 FROM hookd.partitions p
			WHERE p.parent = 'events' AND i.stored_at >= p.lower_bound AND i.stored_at < p.upper_bound)
		FROM hookd.event_ids i WHERE i.id = $1`, id).Scan(&stored, &kept)
	switch {
	case err != nil:
		return nil, db.Interpret(err)
	case kept:
		return nil, db.ErrNotFound
	}
	return nil, &AgedOutError{ID: id, StoredAt: stored}
}

// EraseTenant deletes every event of a tenant and frees their ids, and
// returns how many. Call it in the transaction that erases the tenant,
// holding the tenant's lock exclusively (TenantLockClass), so no publish
// for it runs meanwhile.
func EraseTenant(ctx context.Context, tx pgx.Tx, tenantID string) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, `
		WITH gone AS (
			DELETE FROM hookd.events WHERE tenant_id = $1 RETURNING id
		), ids AS (
			DELETE FROM hookd.event_ids WHERE id IN (SELECT id FROM gone) RETURNING 1
		)
		SELECT count(*) + 0 * (SELECT count(*) FROM ids) FROM gone`, tenantID).Scan(&n)
	return n, err
}

// CarryForward moves the given events stored in [lower, upper) to the
// partition key to (with their ids' rows), so that their partition can be
// dropped while they still have work to do; core/delivery moves their
// deliveries in the same transaction. Feed positions do not change.
func CarryForward(ctx context.Context, tx pgx.Tx, eventIDs []string, lower, upper, to time.Time) error {
	_, err := tx.Exec(ctx, `
		WITH moved AS (
			UPDATE hookd.events SET stored_at = $4
			WHERE id = ANY($1) AND stored_at >= $2 AND stored_at < $3
			RETURNING id
		)
		UPDATE hookd.event_ids SET stored_at = $4 WHERE id IN (SELECT id FROM moved)`, eventIDs, lower, upper, to)
	return err
}

// FeedPosition is the newest feed position of events stored in [lower,
// upper), or the zero Cursor when there are none.
func FeedPosition(ctx context.Context, ex db.Executor, lower, upper time.Time) (Cursor, error) {
	var xid *string
	var seq *int64
	err := ex.QueryRow(ctx, `SELECT xid::text, seq FROM hookd.events
		WHERE stored_at >= $1 AND stored_at < $2 AND endpoint_id IS NULL
		ORDER BY xid DESC, seq DESC LIMIT 1`, lower, upper).Scan(&xid, &seq)
	if err != nil {
		if errors.Is(db.Interpret(err), db.ErrNotFound) {
			return Cursor{}, nil
		}
		return Cursor{}, err
	}
	return ParseCursor(*xid + "-" + strconv.FormatInt(*seq, 10))
}

// ExpireIDs frees, in one batch of at most limit, the ids of events stored
// before before, so an id may be used again once its event is long gone.
// It returns how many it freed.
func ExpireIDs(ctx context.Context, ex db.Executor, before time.Time, limit int) (int64, error) {
	tag, err := ex.Exec(ctx, `DELETE FROM hookd.event_ids WHERE id IN (
		SELECT id FROM hookd.event_ids WHERE stored_at < $1 ORDER BY stored_at LIMIT $2)`, before, limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
