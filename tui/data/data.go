// Package data is the console's window on hookd: one interface, Source,
// with everything the views read and every action they take, and a
// PostgreSQL implementation that calls the same core packages as the HTTP
// API and the CLI (delivery, endpoint, outbox, inbox), so the console and
// the engine agree on what a replay or a disable is.
//
// Views never call a Source from Update: they call it inside tea.Cmds.
// Every method must honour ctx and return an error rather than panic.
package data

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// Source is what the console reads and does.
type Source interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Overview returns the dashboard's figures anchored at now.
	Overview(ctx context.Context, now time.Time) (*Overview, error)
	// Endpoints returns every webhook and forward endpoint with its health.
	Endpoints(ctx context.Context, now time.Time) ([]EndpointRow, error)
	// Deliveries pages through deliveries newest first (keyset pagination).
	Deliveries(ctx context.Context, p delivery.ListParams) (delivery.Page, error)
	// Delivery returns one delivery (delivery.Get).
	Delivery(ctx context.Context, id int64) (*delivery.Delivery, error)
	// Event returns one event and its deliveries.
	Event(ctx context.Context, id string) (*outbox.Event, []delivery.Delivery, error)
	// Attempts returns a delivery's attempts, oldest first.
	Attempts(ctx context.Context, deliveryID int64) ([]delivery.Attempt, error)
	// CountMatching counts deliveries matching f (dead when f.State is "").
	CountMatching(ctx context.Context, f delivery.Filter) (int64, error)

	// Replay re-queues one delivery (delivery.Replay).
	Replay(ctx context.Context, id int64) error
	// ReplayIDs re-queues the given deliveries (delivery.ReplayIDs).
	ReplayIDs(ctx context.Context, ids []int64) (int64, error)
	// ReplayMatching re-queues every delivery matching f, dead when
	// f.State is "" (delivery.ReplayMatching).
	ReplayMatching(ctx context.Context, f delivery.Filter) (int64, error)
	// EnableEndpoint and DisableEndpoint call endpoint.Enable/Disable.
	EnableEndpoint(ctx context.Context, id string) error
	DisableEndpoint(ctx context.Context, id, reason string) error

	// Inbox pages through intake events newest first.
	Inbox(ctx context.Context, q InboxQuery) (InboxPage, error)
	// InboxEvent returns one intake event with its headers and body.
	InboxEvent(ctx context.Context, id int64) (*InboxEvent, error)
	// ReplayInbox re-queues one dead intake event for processing.
	ReplayInbox(ctx context.Context, id int64) error
}

// EndpointRow is an endpoint with its health.
type EndpointRow struct {
	Endpoint *endpoint.Endpoint
	Health   *delivery.Health
}

// Trouble ranks how badly an endpoint needs attention; higher is worse.
func (r EndpointRow) Trouble() int {
	t := 0
	if !r.Endpoint.Enabled {
		t += 1_000_000
	}
	if r.Health != nil {
		t += r.Health.ConsecutiveFailures*1000 + r.Health.Dead
		if r.Health.Last5m.Attempts > 0 && r.Health.Last5m.SuccessRate < 0.9 {
			t += 500_000
		}
	}
	return t
}

// Overview is the dashboard: rates, queue, intake and the endpoints in
// trouble.
type Overview struct {
	At time.Time
	// EventsPerSec and AttemptsPerSec average the last minute, or the time
	// since the first event when hookd is younger than that.
	EventsPerSec   float64
	AttemptsPerSec float64
	// SuccessRate is successes/attempts over the last 5 minutes; Attempts5m
	// tells whether there were any.
	SuccessRate float64
	Attempts5m  int
	// Queue counts across endpoints.
	// Pending counts every pending delivery; Retrying those among them
	// scheduled for a later try (backing off after a failure), counted on
	// the due-work index rather than by reading each row.
	Pending, Retrying, InFlight, Dead, Held int
	// OldestDue is the age of the oldest delivery that is due and not yet
	// sent; 0 when nothing is waiting.
	OldestDue time.Duration
	// Intake counters over the last hour.
	Accepted, Duplicates, Rejected int64
	// Per-minute series over the last SparkMinutes minutes, oldest first.
	EventsPerMinute   []int
	AttemptsPerMinute []int
	FailuresPerMinute []int
	// Trouble lists the endpoints most in need of attention, worst first
	// (only those with a problem).
	Trouble []EndpointRow
	// Endpoints counts endpoints, enabled and total.
	EndpointsEnabled, EndpointsTotal int
}

// SparkMinutes is the span of the overview's sparklines.
const SparkMinutes = 30

// InboxQuery selects intake events.
type InboxQuery struct {
	Source string
	State  string // pending, processed, forwarded, dead; "" for all
	Before int64
	Limit  int
}

// InboxPage is one page of intake events; Next is 0 at the end.
type InboxPage struct {
	Events []InboxEvent
	Next   int64
}

// InboxEvent is one intake event. List results leave Headers and Body
// empty.
type InboxEvent struct {
	ID           int64
	Source       string
	EventID      string
	Type         string
	ReceivedAt   time.Time
	Verification string
	State        string
	Attempts     int
	LastError    string
	Duplicates   int
	ProcessedAt  *time.Time
	Headers      http.Header
	Body         []byte
}

// PrettyJSON indents a JSON document for display, keeping its key order;
// anything else is returned as it is.
func PrettyJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}
