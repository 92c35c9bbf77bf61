package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// batchRequest is the body of POST /v1/events/batch. The events are
// decoded one by one so that an error names events[i].
type batchRequest struct {
	Events []batchEvent `json:"events"`
}

// batchEvent is one event of a batch as sent, decoded later; its keys are
// checked with the batch's (see httpx.Shaped).
type batchEvent json.RawMessage

func (e *batchEvent) UnmarshalJSON(b []byte) error {
	*e = append((*e)[:0], b...)
	return nil
}

func (batchEvent) JSONShape() reflect.Type { return reflect.TypeFor[publishRequest]() }

// batchResult is one event's outcome in a batch: the event without its
// data (the caller has it), how many deliveries it made, and whether its
// id was taken already (then nothing was written for it).
type batchResult struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Created    time.Time `json:"created"`
	Tenant     string    `json:"tenant,omitempty"`
	Broadcast  bool      `json:"broadcast,omitempty"`
	Deliveries int       `json:"deliveries"`
	Duplicate  bool      `json:"duplicate"`
}

// batchAnswer is the answer of POST /v1/events/batch.
type batchAnswer struct {
	Results []batchResult `json:"results"`
	// Published counts the events written; Duplicates those whose id was
	// taken.
	Published  int `json:"published"`
	Duplicates int `json:"duplicates"`
}

// publishBatch writes up to outbox.MaxBatch events in one transaction, all
// or none: any invalid event (a 400 naming events[i].field) or unknown
// tenant (404) writes nothing. It answers 202 with one result per event,
// in order, or 200 when every event was a duplicate.
func (s *server) publishBatch(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Idempotency-Key") != "" {
		httpx.WriteDomainError(w, s.logger, validate.Errorf("Idempotency-Key",
			"is for a single event; give each event of a batch its id in events[i].id"))
		return
	}
	var req batchRequest
	if err := httpx.DecodeJSON(w, r, s.opts.MaxBodyBytes, &req); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if req.Events == nil {
		httpx.WriteDomainError(w, s.logger, validate.Errorf("events", "is required: a list of 1 to %d events", outbox.MaxBatch))
		return
	}
	if len(req.Events) > outbox.MaxBatch {
		httpx.WriteDomainError(w, s.logger, validate.Errorf("events", "has %d events; at most %d go in one batch", len(req.Events), outbox.MaxBatch))
		return
	}
	events := make([]outbox.Event, len(req.Events))
	for i, raw := range req.Events {
		var err error
		if events[i], err = decodeEvent(raw, httpx.UnmarshalPart); err != nil {
			httpx.WriteDomainError(w, s.logger, inEvent(err, i))
			return
		}
	}
	rs, err := s.opts.Publisher.PublishBatch(r.Context(), nil, events)
	if err != nil {
		if len(events) == 1 {
			err = inEvent(err, 0) // PublishBatch names events[i] for longer batches only
		}
		var unknown *outbox.UnknownTenantError
		if errors.As(err, &unknown) {
			// Named by the first event that gives it.
			httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("events[%d].tenant: %s", max(unknown.In(events), 0), unknown.Error()))
			return
		}
		s.fail(w, err, "tenant", "")
		return
	}
	out := batchAnswer{Results: make([]batchResult, len(rs))}
	for i, res := range rs {
		ev := res.Event
		out.Results[i] = batchResult{ID: ev.ID, Type: ev.Type, Created: ev.Created, Tenant: ev.Tenant, Broadcast: ev.Broadcast,
			Deliveries: res.Deliveries, Duplicate: res.Duplicate}
		if res.Duplicate {
			out.Duplicates++
		} else {
			out.Published++
		}
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.EventsPublished.Add(float64(out.Published))
	}
	status := http.StatusAccepted
	if out.Published == 0 {
		status = http.StatusOK
	}
	httpx.WriteJSON(w, status, out)
}

// inEvent names event i of a batch in an input error's field.
func inEvent(err error, i int) error {
	var v *validate.Error
	if errors.As(err, &v) && v.Field == "body" {
		// The event itself is malformed: name the event, not a field of it.
		return &validate.Error{Field: fmt.Sprintf("events[%d]", i), Message: v.Message}
	}
	var taken *outbox.IDTakenError
	if errors.As(err, &taken) {
		return &outbox.IDTakenError{Field: fmt.Sprintf("events[%d].%s", i, taken.Field), ID: taken.ID, Broadcast: taken.Broadcast}
	}
	return validate.Within(err, fmt.Sprintf("events[%d].", i))
}
