// Package delivery is the store of deliveries and their attempts: claiming
// due work under a lease, recording outcomes in batches, reaping expired
// leases, listing, and replay.
//
// All SQL on hookd.deliveries, hookd.attempts and the health rollups lives
// in this package. Sending requests is core/dispatch's job.
//
// # States
//
//	pending --claim--> in_flight --Complete--> succeeded | pending (retry) | dead | held
//	held:  the endpoint is disabled; Enable turns these back into pending.
//	dead:  the retry budget is spent; Replay re-queues with a fresh budget.
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
	StateInFlight  State = "in_flight"
	StateSucceeded State = "succeeded"
	StateDead      State = "dead"
	StateHeld      State = "held"
)

// States lists every state, for validation and help texts.
var States = []State{StatePending, StateInFlight, StateSucceeded, StateDead, StateHeld}

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
	ClassTimeout     = "timeout"
	ClassConnect     = "connect"
	ClassDNS         = "dns"
	ClassTLS         = "tls"
	ClassBlocked     = "blocked"
	ClassHTTPStatus  = "http_status"
	ClassInterrupted = "interrupted" // the worker died or lost its lease before recording a result
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID             int64      `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	EventType      string     `json:"event_type"`
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

// Retrying reports whether the delivery is pending after a failed attempt.
func (d *Delivery) Retrying() bool { return d.State == StatePending && d.Attempts > 0 }

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
	DeliveryID     int64
	Attempt        int // 1 for the first try of the current budget
	LeaseExpiresAt time.Time

	EventID      string
	EventType    string
	EventData    json.RawMessage
	EventCreated time.Time

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
	DeliveryID int64
	EndpointID string
	EventID    string
	Attempt    int
	Worker     string

	StartedAt       time.Time
	Duration        time.Duration
	RequestURL      string
	RequestHeaders  http.Header
	ResponseStatus  int // 0 when no response arrived
	ResponseHeaders http.Header
	ResponseBody    string
	ErrorClass      string // "" on success
	Error           string

	// Next is succeeded, pending (retry at NextAttemptAt), dead or held.
	Next          State
	NextAttemptAt time.Time
}

// Success reports whether the attempt succeeded.
func (r *Result) Success() bool { return r.ErrorClass == "" }
