// Package delivery owns the delivery state machine: it creates deliveries
// for events, claims due work fairly under a lease, records outcomes in
// batches, reaps expired leases, holds and resumes an endpoint's work,
// replays, skips, lists and erases.
//
// This package alone writes hookd.queue (unfinished deliveries),
// hookd.finished (finished ones, partitioned with their event),
// hookd.attempts, hookd.lanes, hookd.lane_wakes and the health rollups
// (hookd.endpoint_health, hookd.endpoint_minutes). Other packages call its
// transitions inside their own transactions. Reads of deliveries go through the hookd.deliveries
// view, which shows both tables. Sending requests is core/dispatch's job.
//
// # States
//
//	pending   --claim-->   in_flight --complete--> succeeded | retrying | dead | held
//	retrying  --due-->     pending                (Promote)
//	held      --Resume-->  pending                (the endpoint was disabled)
//	dead, succeeded --Replay--> pending           (a fresh retry budget)
//	pending, retrying, held --Skip--> skipped     (an operator gave up on it)
//
// Succeeded, dead and skipped deliveries leave the queue for
// hookd.finished; the others stay in the queue.
//
// # Lanes and fairness
//
// Every endpoint with work in the queue has a lane (hookd.lanes). A claim
// takes the lanes whose ready_at has come, oldest first, locking them with
// SKIP LOCKED, and from each at most the endpoint's free slots (its
// max_in_flight less what is in flight anywhere), the requests its
// rate_limit allows, one probe while its breaker is open, or the head of
// the line for a fifo endpoint (its oldest pending or retrying delivery:
// while the head waits out a backoff, so does its line). A served lane
// goes to the back (ready_at = now), so capacity is shared round-robin
// among endpoints with due work and a backlog never delays the others; a
// claim costs what it takes, not the number of endpoints.
//
// A lane is dropped when its endpoint has nothing due and nothing in
// flight. Writers that make work due for an endpoint never insert its
// lane themselves: their transactions may be long (a producer's) and may
// touch many endpoints in any order, and two of them inserting the same
// missing lane would wait for each other's commit, or deadlock. Instead
// hookd.needing_wakes takes a shared advisory lock on the endpoint's lane
// bucket, held to commit, then looks for the lane, and for a wake row
// already left, with a fresh snapshot; if there is neither the writer
// leaves a wake row (hookd.lane_wakes) and a notification, and a
// dispatcher turns wake rows into lanes ([AdmitWakes]). A wake row seen
// is either admitted later or was admitted with its lane in one
// transaction, and the bucket lock keeps that lane until the writer's
// work is visible. The claimer drops a lane only under the bucket's
// exclusive lock, taken without waiting, and after looking again for due
// work, so no due delivery is ever left without a lane or a wake. A sweep
// by the maintenance leader ([Sweep]) re-creates lanes as a last safety
// net.
package delivery

import (
	"encoding/json"
	"net/http"
	"time"
)

// State of a delivery.
type State string

const (
	StatePending   State = "pending"
	StateRetrying  State = "retrying"
	StateInFlight  State = "in_flight"
	StateSucceeded State = "succeeded"
	StateDead      State = "dead"
	StateHeld      State = "held"
	StateSkipped   State = "skipped"
)

// States lists every state, for validation and help texts.
var States = []State{StatePending, StateRetrying, StateInFlight, StateHeld, StateSucceeded, StateDead, StateSkipped}

// Finished reports whether s is a final state (the delivery left the queue).
func (s State) Finished() bool { return s == StateSucceeded || s == StateDead || s == StateSkipped }

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Error classes recorded on attempts.
const (
	ClassTimeout = "timeout"
	ClassConnect = "connect"
	// ClassNoResponse: the request was sent whole, then the connection
	// ended without a response; the endpoint may have acted on it.
	ClassNoResponse  = "no_response"
	ClassDNS         = "dns"
	ClassTLS         = "tls"
	ClassBlocked     = "blocked"
	ClassHTTPStatus  = "http_status"
	ClassInterrupted = "interrupted" // the worker died or lost its lease before recording a result
	ClassMissing     = "missing"     // the event no longer existed: nothing was sent
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         int64  `json:"id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	TenantID   string `json:"tenant,omitempty"`
	EventType  string `json:"event_type"`
	// EventStoredAt is the partition key the delivery shares with its event.
	EventStoredAt  time.Time  `json:"-"`
	State          State      `json:"state"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	LeasedBy       string     `json:"leased_by,omitempty"`
	LastStatus     *int       `json:"last_status,omitempty"`
	LastErrorClass string     `json:"last_error_class,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	Replays        int        `json:"replays"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
}

// AwaitsAttempt reports whether the delivery has a next attempt to come,
// at NextAttemptAt: it is pending or retrying.
func (d *Delivery) AwaitsAttempt() bool {
	return d.State == StatePending || d.State == StateRetrying
}

// Attempt is one try, as recorded.
type Attempt struct {
	ID              int64         `json:"id"`
	DeliveryID      int64         `json:"delivery_id"`
	EndpointID      string        `json:"endpoint_id"`
	Attempt         int           `json:"attempt"`
	StartedAt       time.Time     `json:"started_at"`
	Duration        time.Duration `json:"-"`
	DurationMS      float64       `json:"duration_ms"`
	RequestURL      string        `json:"request_url"`
	RequestHeaders  http.Header   `json:"request_headers"`
	ResponseStatus  *int          `json:"response_status,omitempty"`
	ResponseHeaders http.Header   `json:"response_headers,omitempty"`
	ResponseBody    string        `json:"response_body,omitempty"`
	ErrorClass      string        `json:"error_class,omitempty"`
	Error           string        `json:"error,omitempty"`
	Worker          string        `json:"worker,omitempty"`
}

// Succeeded reports whether the attempt got a 2xx.
func (a *Attempt) Succeeded() bool { return a.ErrorClass == "" && a.ResponseStatus != nil }

// Job is a claimed delivery with what is needed to send it.
type Job struct {
	DeliveryID int64
	Attempt    int // 1 for the first try of the current budget
	// LeaseExpiresAt is by the database's clock; a worker counts Lease
	// from its own clock before the claim (see ClaimParams.Lease).
	LeaseExpiresAt time.Time
	Lease          time.Duration // the lease's length (see LeaseFor)
	// StartIn is how long after the claim returned the request may start:
	// the slot the endpoint's rate_limit gave it (0 for at once). It counts
	// from the end of the claiming statement, not from the transaction's
	// start, so time spent before it (a pool connection, the completions
	// ahead of it) cannot make a request leave before its slot.
	StartIn time.Duration
	// Probe is set for the one attempt an open breaker lets through.
	Probe bool
	// Awaited is set when the job's lane waits for its result before it is
	// claimed again (the endpoint at its cap, a probe, a fifo head): record
	// that result at once.
	Awaited bool

	EventID       string
	EventType     string
	EventData     json.RawMessage
	EventCreated  time.Time
	EventStoredAt time.Time
	TenantID      string

	EndpointID      string
	URL             string
	Secret          string
	PreviousSecret  string
	PreviousExpires *time.Time
	Headers         map[string]string
	Timeout         time.Duration // 0 = the configured default
	MaxInFlight     int           // 0 = the configured default
	RateLimit       int           // requests per second, 0 = unlimited
	EndpointEnabled bool
	// BodyData sends the event's data alone instead of hookd's envelope
	// (the endpoint's body_format is "data").
	BodyData bool
	// Trusted is set for the operator's own targets from the configuration
	// file (alerts.url, forward_to of intake.sources), which the outbound
	// address guard exempts.
	Trusted bool
	// Signatures is the endpoint's signature versions (signing.Keys) and
	// SigningKey its whsk_ key for v1a ("" without one).
	Signatures string
	SigningKey string
}

// Secrets returns the secrets that sign the request at now (the current
// one, then the previous one during a rotation overlap).
func (j *Job) Secrets(now time.Time) []string {
	out := []string{j.Secret}
	if j.PreviousSecret != "" && j.PreviousExpires != nil && now.Before(*j.PreviousExpires) {
		out = append(out, j.PreviousSecret)
	}
	return out
}

// Result is what one attempt came to, with the state the dispatcher chose.
type Result struct {
	DeliveryID    int64
	EndpointID    string
	EventID       string
	EventStoredAt time.Time
	Attempt       int
	Worker        string

	// ClaimedAt is when the claim that leased the attempt returned to its
	// dispatcher (committed); zero for results no claim led to. Only
	// observers read it (it shows how long a delivery waited to be sent).
	ClaimedAt       time.Time
	StartedAt       time.Time
	Duration        time.Duration
	RequestURL      string
	RequestHeaders  http.Header
	ResponseStatus  int // 0 when no response arrived
	ResponseHeaders http.Header
	ResponseBody    string
	ErrorClass      string // "" on success
	Error           string

	// Next is succeeded, retrying (at NextAttemptAt), dead or held.
	Next          State
	NextAttemptAt time.Time
}

// ResultOf starts the Result of an attempt at job by worker.
func ResultOf(job Job, worker string) Result {
	return Result{
		DeliveryID: job.DeliveryID, EndpointID: job.EndpointID, EventID: job.EventID,
		EventStoredAt: job.EventStoredAt, Attempt: job.Attempt, Worker: worker, RequestURL: job.URL,
	}
}

// Success reports whether the attempt succeeded.
func (r *Result) Success() bool { return r.ErrorClass == "" }
