// Package outbox publishes events through a transactional outbox and fans
// them out into deliveries.
//
// # Publishing
//
// An event is written into hookd.events by the producer's own transaction:
//
//	tx, _ := pool.Begin(ctx)
//	// ... the business write ...
//	_, err := pub.PublishTx(ctx, tx, outbox.Event{Type: "invoice.paid", Data: data})
//	// ... tx.Commit(ctx): the event exists if and only if the business write does.
//
// Fan-out (one delivery per matching endpoint) happens in the same statement,
// so a committed event always has its deliveries. Events written by other
// means (plain SQL producers, or an interrupted fan-out) have fanned_out =
// false and are completed by the [Fanout] service.
//
// All SQL on hookd.events lives in this package.
package outbox

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/validate"
)

// DefaultMaxPayloadBytes caps an event's data (delivery.max_payload_bytes).
const DefaultMaxPayloadBytes = 256 << 10

// WorkChannel is the NOTIFY channel that wakes dispatchers when deliveries
// become due. Notifications are sent inside the publishing transaction, so
// they arrive on commit and never for a rolled-back event.
const WorkChannel = "hookd_work"

// Event is one published event.
type Event struct {
	// ID is the stable id receivers dedupe on. Optional when publishing: a new
	// "evt_..." id is made when empty.
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Created defaults to the publishing transaction's time.
	Created time.Time `json:"created"`
	// EndpointID directs the event to one endpoint only (intake forwarding,
	// alerts); empty means every matching webhook endpoint.
	EndpointID string `json:"-"`
	// Seq orders events by insertion; informative only.
	Seq int64 `json:"-"`
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

// Publisher writes events. It is safe for concurrent use.
type Publisher struct {
	pool            *pgxpool.Pool
	maxPayloadBytes int64
}

// Options configure a Publisher.
type Options struct {
	// MaxPayloadBytes caps Data. Defaults to DefaultMaxPayloadBytes.
	MaxPayloadBytes int64
}

// NewPublisher returns a Publisher on pool.
func NewPublisher(pool *pgxpool.Pool, opts Options) *Publisher {
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	return &Publisher{pool: pool, maxPayloadBytes: opts.MaxPayloadBytes}
}

// Publish writes ev in a transaction of its own.
func (p *Publisher) Publish(ctx context.Context, ev Event) (Result, error) {
	return p.publish(ctx, p.pool, ev)
}

// PublishTx writes ev in the caller's transaction: it commits or rolls back
// with tx. Publishing an id that exists returns the existing event with
// Duplicate set.
func (p *Publisher) PublishTx(ctx context.Context, tx pgx.Tx, ev Event) (Result, error) {
	return p.publish(ctx, tx, ev)
}

var (
	typePattern = regexp.MustCompile(`^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+)*$`)
	idPattern   = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
)

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

// Validate checks an event before it is written; maxPayload caps Data.
func Validate(ev *Event, maxPayload int64) error {
	if ev.Type == "" {
		return validate.Errorf("type", "is required")
	}
	if len(ev.Type) > 255 || !typePattern.MatchString(ev.Type) {
		return validate.Errorf("type", "%q is not an event type (letters, digits, _ : - separated by dots, such as invoice.paid)", ev.Type)
	}
	if ev.ID != "" && !idPattern.MatchString(ev.ID) {
		return validate.Errorf("id", "must be 1 to 255 printable ASCII characters without spaces")
	}
	if ev.EndpointID == "" && strings.HasPrefix(ev.ID, ReservedIDPrefix) {
		return validate.Errorf("id", "must not start with %q: hookd keeps that prefix for the ids of forwarded intake events", ReservedIDPrefix)
	}
	if !ev.Created.IsZero() {
		if c := ev.Created.UTC(); c.Before(MinCreated) || c.After(MaxCreated) {
			return validate.Errorf("created", "%s is out of range: it must lie between %s and %s (in UTC)",
				ev.Created.Format(time.RFC3339), MinCreated.Format(time.RFC3339), MaxCreated.Format(time.RFC3339))
		}
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage(`{}`)
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

func (p *Publisher) publish(ctx context.Context, ex db.Executor, ev Event) (Result, error) {
	if err := Validate(&ev, p.maxPayloadBytes); err != nil {
		return Result{}, err
	}
	if ev.ID == "" {
		ev.ID = ids.New("evt")
	}
	var created *time.Time
	if !ev.Created.IsZero() {
		c := ev.Created.UTC()
		created = &c
	}
	var endpointID *string
	if ev.EndpointID != "" {
		endpointID = &ev.EndpointID
	}
	res := Result{Event: ev}
	err := ex.QueryRow(ctx, publishSQL, ev.ID, ev.Type, string(ev.Data), created, endpointID).
		Scan(&res.Event.Seq, &res.Event.Created, &res.Deliveries)
	if err == nil {
		return res, nil
	}
	if err != pgx.ErrNoRows {
		return Result{}, db.Interpret(err)
	}
	// The id exists: report the first event.
	first, err := Get(ctx, ex, ev.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{Event: *first, Duplicate: true}, nil
}

// publishSQL inserts the event and its deliveries in one round trip. A
// directed event goes to its endpoint (held if that endpoint is disabled);
// any other to every enabled webhook endpoint whose filter matches.
const publishSQL = `
WITH ev AS (
	INSERT INTO hookd.events (id, type, data, created_at, endpoint_id, fanned_out)
	VALUES ($1, $2, $3::json, coalesce($4::timestamptz, now()), $5, true)
	ON CONFLICT (id) DO NOTHING
	RETURNING seq, id, type, created_at, endpoint_id
), fan AS (
	INSERT INTO hookd.deliveries (event_id, endpoint_id, event_type, state)
	SELECT ev.id, e.id, ev.type, CASE WHEN e.enabled THEN 'pending' ELSE 'held' END
	FROM ev JOIN hookd.endpoints e ON CASE
		WHEN ev.endpoint_id IS NULL THEN e.kind = 'webhook' AND e.enabled AND hookd.type_matches(e.event_types, ev.type)
		ELSE e.id = ev.endpoint_id END
	ON CONFLICT (event_id, endpoint_id) DO NOTHING
	RETURNING 1
)
SELECT ev.seq, ev.created_at, (SELECT count(*) FROM fan)::int
FROM ev, LATERAL (SELECT pg_notify('` + WorkChannel + `', '')) n`

const eventColumns = `seq, id, type, data, created_at, coalesce(endpoint_id, '')`

func scanEvent(row pgx.Row) (*Event, error) {
	var ev Event
	var data string
	if err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &data, &ev.Created, &ev.EndpointID); err != nil {
		return nil, db.Interpret(err)
	}
	ev.Data = json.RawMessage(data)
	ev.Created = ev.Created.UTC()
	return &ev, nil
}

// Get returns one event or db.ErrNotFound.
func Get(ctx context.Context, ex db.Executor, id string) (*Event, error) {
	return scanEvent(ex.QueryRow(ctx, `SELECT `+eventColumns+` FROM hookd.events WHERE id = $1`, id))
}
