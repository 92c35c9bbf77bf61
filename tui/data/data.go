// Package data is the console's window on hookd: one interface, Source,
// with everything the views read and every action they take, and a
// PostgreSQL implementation that calls the same core packages as the HTTP
// API and the CLI (delivery, endpoint, outbox, inbox, audit, retention),
// so the console and the engine agree on what a replay, a skip or a
// disable is.
//
// Views never call a Source from Update: they call it inside tea.Cmds.
// Every method must honour ctx and return an error rather than panic.
//
// # Cost
//
// What a view reads on every refresh costs the same with ten endpoints or
// tenants as with a hundred thousand, and the same with a day of history
// as with a year: counts come from the queue's partial indexes, rates from
// the minute rollups of the window shown, lists from index ranges read
// newest first with a LIMIT, and the endpoints and tenants in trouble from
// bounded reads of what is failing, dead, held or waiting (overview.go).
// The console's own reads, which the engine's packages do not offer, are
// listed in engine.go, search.go, overview.go, tenants.go and inbox.go,
// each with the index it uses; the EXPLAIN test (plans_test.go) checks
// on a database with history that none reads history by sequential scan.
//
// # Actions and the audit trail
//
// Every method that changes state records itself in the audit trail, in
// the transaction of the change, as the actor found in ctx
// (audit.FromContext; the console puts its operator there). Refused
// records an action the console refused (read-only).
package data

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/retention"
)

// Source is what the console reads and does.
type Source interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Info describes the database the console is on, for its header.
	Info() Info

	// Overview returns the dashboard's figures anchored at now.
	Overview(ctx context.Context, now time.Time) (*Overview, error)

	// Endpoints pages through webhook and forward endpoints with their
	// health; its cost follows the page, not the number of endpoints.
	Endpoints(ctx context.Context, q EndpointQuery) (EndpointPage, error)
	// FindEndpoints returns up to limit endpoints whose id, description or
	// URL contains text (case-insensitive; "" for any) and, when tenant is
	// set, that belong to that tenant: for filters, resolved once.
	FindEndpoints(ctx context.Context, text, tenant string, limit int) ([]Label, error)
	// Labels names the given endpoints, keyed by id.
	Labels(ctx context.Context, ids []string) (map[string]Label, error)
	// Endpoint returns one endpoint's page: settings, health over time,
	// recent deliveries and errors grouped by reason.
	Endpoint(ctx context.Context, id string, now time.Time) (*EndpointDetail, error)

	// Deliveries pages through deliveries newest first (keyset pagination).
	Deliveries(ctx context.Context, q DeliveryQuery) (DeliveryPage, error)
	// Delivery returns one delivery (delivery.Get).
	Delivery(ctx context.Context, id int64) (*delivery.Delivery, error)
	// Event returns one event and its deliveries.
	Event(ctx context.Context, id string) (*outbox.Event, []delivery.Delivery, error)
	// Attempts returns a delivery's attempts, oldest first.
	Attempts(ctx context.Context, deliveryID int64) ([]delivery.Attempt, error)
	// DeadGroups groups the dead letters matching q (its State is dead) by
	// endpoint and reason, largest group first.
	DeadGroups(ctx context.Context, q DeliveryQuery) (Groups, error)
	// Preview counts what ReplayQuery(q) would replay, grouped, with the
	// health of the endpoints concerned.
	Preview(ctx context.Context, q DeliveryQuery, now time.Time) (*Preview, error)
	// PreviewMarked is the preview of a replay of the given deliveries
	// (the marked rows; see Marked), with the health of the endpoints
	// concerned. Ids that no longer exist are left out.
	PreviewMarked(ctx context.Context, ids []int64, now time.Time) (*Preview, error)
	// Lookup finds what an id pasted by the operator names: a delivery
	// (a number), an endpoint, an event or a tenant. An event retention
	// dropped is an *outbox.AgedOutError.
	Lookup(ctx context.Context, id string) (Found, error)

	// Tenants pages through tenants with their trouble; the tenants in
	// trouble come first, found by bounded reads (see TenantPage).
	Tenants(ctx context.Context, q TenantQuery) (TenantPage, error)
	// FindTenants returns up to limit tenant ids whose id or name contains
	// text (case-insensitive), for the tenants view's filter.
	FindTenants(ctx context.Context, text string, limit int) ([]string, error)

	// Storage describes what hookd keeps on disk (retention.ReadStats):
	// read at a slow cadence, not on every refresh.
	Storage(ctx context.Context, now time.Time) (*retention.Stats, error)

	// Replay re-queues one delivery (delivery.Replay).
	Replay(ctx context.Context, id int64) error
	// Skip gives up on a delivery still to do (delivery.Skip): the head
	// that blocks a fifo endpoint's line.
	Skip(ctx context.Context, id int64) error
	// ReplayQuery re-queues what the preview counted: the dead letters
	// that had died by the preview's time (by filter), or the ids it
	// listed. target names the filter in the audit trail.
	ReplayQuery(ctx context.Context, pv *Preview, target string) (int64, error)
	// EnableEndpoint and DisableEndpoint call endpoint.Enable/Disable.
	EnableEndpoint(ctx context.Context, id string) error
	DisableEndpoint(ctx context.Context, id, reason string) error
	// SendTestEvent publishes a test event directed to one endpoint and
	// returns its id.
	SendTestEvent(ctx context.Context, endpointID string) (string, error)
	// RotateSecret makes a new signing secret, the old one signing for
	// overlap (0: endpoint.DefaultSecretOverlap), and returns the new one:
	// the only time the console shows it.
	RotateSecret(ctx context.Context, endpointID string, overlap time.Duration) (string, error)
	// UpdateEndpoint changes an endpoint (endpoint.Update).
	UpdateEndpoint(ctx context.Context, id string, p endpoint.UpdateParams) error
	// Refused records, in the audit trail, an action the console refused.
	Refused(ctx context.Context, action, target string) error

	// Inbox pages through intake events newest first.
	Inbox(ctx context.Context, q InboxQuery) (InboxPage, error)
	// InboxEvent returns one intake event with its headers, body and
	// forward delivery.
	InboxEvent(ctx context.Context, id int64) (*InboxEvent, error)
	// ReplayInbox re-queues one dead intake event for processing.
	ReplayInbox(ctx context.Context, id int64) error

	// Audit pages through the audit trail newest first.
	Audit(ctx context.Context, p audit.ListParams) (audit.Page, error)
}

// Info describes where the console is connected.
type Info struct {
	// Database is "user@host:port/name", without the password.
	Database string
}

// Label names an endpoint for people.
type Label struct {
	ID          string
	Description string
	URL         string
	// Tenant owns the endpoint; "" for none.
	Tenant  string
	Enabled bool
	// DataOnly: the endpoint receives the event's data alone, not hookd's
	// envelope (body format "data").
	DataOnly bool
	// BreakerOpen: the endpoint's circuit breaker is open, so its pending
	// deliveries wait on it rather than being due.
	BreakerOpen bool
}

// Name is the endpoint's description, or its URL's host and path when it
// has none, or its id.
func (l Label) Name() string { return endpointName(l.ID, l.Description, l.URL) }

// EndpointRow is an endpoint with its health.
type EndpointRow struct {
	Endpoint *endpoint.Endpoint
	Health   *delivery.Health
	// P95 is the upper bound of the 5-minute p95 latency's bucket; P95Over
	// says the p95 lies beyond the last bucket (see common.LatencyBound).
	P95     time.Duration
	P95Over bool
}

// Name is the endpoint's name for people (see Label.Name).
func (r EndpointRow) Name() string {
	e := r.Endpoint
	return endpointName(e.ID, e.Description, e.URL)
}

// Trouble ranks how badly an endpoint needs attention; higher is worse:
// disabled, then a blocked fifo line, an open breaker, failing now (under
// 90% over 5 minutes), then by failures in a row, dead letters and
// deliveries waiting out a backoff. 0 is no trouble.
func (r EndpointRow) Trouble() int {
	t := 0
	if !r.Endpoint.Enabled {
		t += 1_000_000_000
	}
	if h := r.Health; h != nil {
		if h.Blocked != nil {
			t += 400_000_000
		}
		if h.Breaker.State == delivery.BreakerOpen {
			t += 300_000_000
		}
		if h.Last5m.Attempts > 0 && h.Last5m.SuccessRate < 0.9 {
			t += 200_000_000
		}
		t += min(h.ConsecutiveFailures, 99_999)*1000 + min(h.Dead, 999) + min(h.Retrying, 1)
	}
	return t
}

// EndpointQuery selects a page of endpoints, ordered by id.
type EndpointQuery struct {
	// IDs, when not nil, restricts the page to these endpoints (a filter,
	// by name or tenant, resolved once with FindEndpoints).
	IDs []string
	// After continues past this id (the previous page's Next).
	After string
	// Limit defaults to 200, at most 1000.
	Limit int
	// Now anchors the health windows.
	Now time.Time
}

// EndpointPage is one page of endpoints; Next is "" at the end.
type EndpointPage struct {
	Rows []EndpointRow
	// Trouble are the endpoints in trouble, worst first, whatever page
	// they are on (as Overview.Trouble finds them), for the first page of
	// an unfiltered query; nil otherwise.
	Trouble []EndpointRow
	Next    string
	// Total counts every webhook and forward endpoint, up to TotalCap+1.
	Total int
}

// EndpointDetail is an endpoint's page.
type EndpointDetail struct {
	Row EndpointRow
	// Minutes is the last hour, oldest first, one entry a minute.
	Minutes []Minute
	// Recent are its newest deliveries.
	Recent []delivery.Delivery
	// Errors groups its dead and retrying deliveries by reason.
	Errors Groups
	// OldestDue is how long its oldest due delivery has waited, reckoned
	// as Overview.OldestDue; 0 when none is due or its breaker is open.
	OldestDue time.Duration
}

// Minute is an endpoint's activity in one minute.
type Minute struct {
	At                  time.Time
	Attempts, Successes int
	// P95 is the upper bound of the minute's p95 latency bucket.
	P95     time.Duration
	P95Over bool
}

// Group is deliveries sharing an endpoint and a reason.
type Group struct {
	EndpointID string
	Endpoint   Label
	// State is dead, or retrying on an endpoint page.
	State string
	// Class is the last error class (connect, timeout, http_status...),
	// Status the last HTTP status (0 when none).
	Class  string
	Status int
	// Sample is the newest delivery's last error.
	Sample string
	Count  int64
	Newest time.Time // when the newest of them died or failed
	// Health is the endpoint's health now (Preview fills it).
	Health *delivery.Health
}

// Reason renders the group's reason: "connect: connection refused",
// "HTTP 503".
func (g Group) Reason() string { return reasonText(g.Class, g.Status, g.Sample) }

// Groups are groups of deliveries; Scanned counts the deliveries read to
// make them and Capped says the newest ScanLimit were read, not all.
type Groups struct {
	Groups  []Group
	Scanned int64
	Capped  bool
}

// ScanLimit bounds the deliveries one grouping or search reads.
const ScanLimit = 10_000

// GroupDeliveries groups ds, newest first, by endpoint, state and reason,
// largest group first; each group's sample is its newest's last error.
func GroupDeliveries(ds []delivery.Delivery) Groups {
	var out Groups
	idx := map[string]int{}
	for _, d := range ds {
		out.Scanned++
		status := 0
		if d.LastStatus != nil {
			status = *d.LastStatus
		}
		state := string(d.State)
		k := fmt.Sprint(d.EndpointID, "\x00", state, "\x00", d.LastErrorClass, "\x00", status)
		j, ok := idx[k]
		if !ok {
			j = len(out.Groups)
			idx[k] = j
			at := d.UpdatedAt
			if d.CompletedAt != nil {
				at = *d.CompletedAt
			}
			out.Groups = append(out.Groups, Group{EndpointID: d.EndpointID, State: state, Class: d.LastErrorClass,
				Status: status, Sample: d.LastError, Newest: at})
		}
		out.Groups[j].Count++
	}
	slices.SortStableFunc(out.Groups, func(a, b Group) int { return int(b.Count - a.Count) })
	return out
}

// Marked is the preview of a replay of the deliveries ds (the marked
// rows, newest first): those in flight are left alone, the others are
// listed by id and grouped.
func Marked(ds []delivery.Delivery) *Preview {
	pv := &Preview{Marked: true, IDs: []int64{}}
	var replayable []delivery.Delivery
	for _, d := range ds {
		if d.State == delivery.StateInFlight {
			pv.InFlight++
			continue
		}
		replayable = append(replayable, d)
		pv.IDs = append(pv.IDs, d.ID)
	}
	pv.Count = int64(len(pv.IDs))
	pv.Groups = GroupDeliveries(replayable)
	return pv
}

// Preview is what a bulk replay will touch, shown before it is confirmed.
type Preview struct {
	// Count is how many deliveries the replay re-queues.
	Count int64
	// Groups break the count down by endpoint and reason (of the newest
	// ScanLimit when Groups.Capped).
	Groups Groups
	// IDs are the deliveries to replay when q needs them listed (a filter
	// the engine's replay does not take); nil when the replay goes by
	// filter.
	IDs []int64
	// Query is what ReplayQuery must be given: q with CompletedBefore set.
	Query DeliveryQuery
	// Marked says the preview is of marked rows (PreviewMarked), whatever
	// their state; InFlight counts those left alone, their attempt under
	// way.
	Marked   bool
	InFlight int
}

// Found is what Lookup found.
type Found struct {
	Kind string // "delivery", "event" or "endpoint"
	ID   string
}

// SparkMinutes is the span of the overview's sparklines.
const SparkMinutes = 30

// Overview is the dashboard: rates, queue, intake and the endpoints in
// trouble.
type Overview struct {
	At time.Time
	// EventsPerSec and AttemptsPerSec average the previous minute and the
	// current one so far, or the time since the first event when hookd is
	// younger than that: RateWindow, between one and two minutes once
	// hookd is older than two.
	EventsPerSec   float64
	AttemptsPerSec float64
	RateWindow     time.Duration
	// SuccessRate is successes/attempts over the last 5 minutes; Attempts5m
	// tells whether there were any.
	SuccessRate float64
	Attempts5m  int
	// Queue counts across endpoints, disjoint, each up to TotalCap+1:
	// Pending is due now, BreakerHeld is pending but held by an open
	// breaker (due.go), Retrying waits out a backoff, InFlight is being
	// attempted, Held waits for its endpoint to be enabled; Dead counts
	// the dead letters kept.
	Pending, BreakerHeld, Retrying, InFlight, Dead, Held int
	// OldestDue is how long the oldest due delivery has waited since it
	// became due (due.go, as EndpointDetail.OldestDue); 0 when none is due.
	OldestDue time.Duration
	// BreakersOpen counts endpoints whose circuit breaker is open.
	BreakersOpen int
	// Intake counters over the last hour.
	Accepted, Duplicates, Rejected int64
	// Per-minute series over the last SparkMinutes minutes, oldest first.
	EventsPerMinute   []int
	AttemptsPerMinute []int
	FailuresPerMinute []int
	// Trouble lists the endpoints most in need of attention, worst first
	// (only those with a problem, at most MaxTrouble), found by bounded
	// reads: failing in the last 5 minutes, breakers open, the newest dead
	// letters, held, retrying and waiting work.
	Trouble []EndpointRow
	// EndpointsTotal counts webhook and forward endpoints and
	// EndpointsDisabled the disabled ones, both up to TotalCap: past it
	// EndpointsCapped is set and the counts are TotalCap+1 and unknown.
	EndpointsTotal, EndpointsDisabled int
	EndpointsCapped                   bool
}

// MaxTrouble bounds the endpoints Overview lists in trouble.
const MaxTrouble = 50

// InboxQuery selects intake events.
type InboxQuery struct {
	Source string
	State  string // pending, processed, forwarded, dead; "" for all
	// EventID is the sender's event id (or the inbox id as a number).
	EventID string
	Before  int64
	Limit   int
}

// InboxPage is one page of intake events; Next is 0 at the end.
type InboxPage struct {
	Events []InboxEvent
	Next   int64
	// Rejected counts, per source, the requests refused over the last
	// hour (they store nothing in the inbox).
	Rejected map[string]int64
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
	// Forward is the delivery that forwards the event (state forwarded),
	// nil when there is none.
	Forward *delivery.Delivery
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

// TenantQuery selects a page of tenants, ordered by id.
type TenantQuery struct {
	// IDs, when not nil, restricts the page to these tenants (a filter
	// resolved once with FindTenants).
	IDs []string
	// After continues past this id (the previous page's Next).
	After string
	// Limit defaults to 100, at most 1000.
	Limit int
	// Now anchors what "failing" means (the last 5 minutes).
	Now time.Time
}

// TenantRow is one tenant with what an operator looks at first. Counts
// past TenantCountCap read as TenantCountCap+1 (a tenant that large is
// shown as "10,000+").
type TenantRow struct {
	ID, Name string
	// Endpoints and Disabled count its endpoints.
	Endpoints, Disabled int
	// Failing counts its endpoints failing now (failures in a row, or the
	// breaker open); BreakersOpen those whose breaker is open.
	Failing, BreakersOpen int
	// Backlog counts its deliveries still to do (the queue), Dead its
	// dead letters.
	Backlog, Dead int64
}

// TenantCountCap bounds what one tenant's counts read.
const TenantCountCap = 10_000

// Trouble ranks how badly a tenant needs attention, like
// EndpointRow.Trouble: failing endpoints first, then dead letters, then
// backlog; 0 is no trouble.
func (r TenantRow) Trouble() int64 {
	return int64(r.Failing+r.Disabled)*1_000_000_000_000 + min(r.Dead, 999_999)*1_000_000 + min(r.Backlog, 999_999)
}

// TenantPage is one page of tenants; Next is "" at the end.
type TenantPage struct {
	Rows []TenantRow
	// Trouble are the tenants in trouble, worst first (at most
	// MaxTrouble), found from the endpoints in trouble (see
	// Overview.Trouble) and the newest dead letters, whatever page they
	// are on; empty when q.IDs is set.
	Trouble []TenantRow
	Next    string
	// Total counts tenants up to TotalCap+1.
	Total int
}
