package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// publishRequest is the body of POST /v1/events.
type publishRequest struct {
	// ID is the caller's event id; the Idempotency-Key header may give it
	// instead. Generated when neither does.
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Created is RFC 3339; defaults to the time of publishing.
	Created string `json:"created"`
}

// publishEvent answers 202 with {"event","deliveries","duplicate":false}
// for a new event and 200 with the first event and "duplicate":true when
// the id was published before (nothing is written then).
func (s *server) publishEvent(w http.ResponseWriter, r *http.Request) {
	var p publishRequest
	if err := httpx.DecodeJSON(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	ev := outbox.Event{ID: p.ID, Type: p.Type, Data: p.Data}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if p.ID != "" && p.ID != key {
			httpx.WriteDomainError(w, s.logger, validate.Errorf("id",
				"%q differs from the Idempotency-Key header %q; give the event id in one of them, or the same in both", p.ID, key))
			return
		}
		ev.ID = key
	}
	if p.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, p.Created)
		if err != nil {
			httpx.WriteDomainError(w, s.logger, validate.Errorf("created", "%q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", p.Created))
			return
		}
		ev.Created = t
	}
	res, err := s.opts.Publisher.Publish(r.Context(), ev)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if res.Duplicate {
		httpx.WriteJSON(w, http.StatusOK, res)
		return
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.EventsPublished.Inc()
	}
	w.Header().Set("Location", "/v1/events/"+res.Event.ID)
	httpx.WriteJSON(w, http.StatusAccepted, res)
}

func (s *server) getEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	ev, err := outbox.Get(r.Context(), s.pool, id)
	if err != nil {
		s.fail(w, err, "event", id)
		return
	}
	ds, err := delivery.ForEvent(r.Context(), s.pool, id)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"event": ev, "deliveries": ds})
}

// feedPage is the answer of GET /v1/events. NextCursor is the after= of
// the following poll; it equals the given cursor when nothing new is
// visible yet.
type feedPage struct {
	Events     []outbox.Event `json:"events"`
	NextCursor string         `json:"next_cursor"`
}

func (s *server) feed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := outbox.ParseCursor(q.Get("after"))
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	types, err := endpoint.NormalizeEventTypes(q["type"])
	if err != nil {
		var v *validate.Error
		if errors.As(err, &v) {
			err = &validate.Error{Field: "type", Message: v.Message}
		}
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	page, err := outbox.Feed(r.Context(), s.pool, outbox.FeedParams{After: after, Types: types, Limit: limit})
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	out := feedPage{Events: page.Events, NextCursor: page.Next.String()}
	if out.Events == nil {
		out.Events = []outbox.Event{}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// intParam parses an optional integer query parameter within [lo, hi];
// empty gives 0 (the callee's default).
func intParam(raw, name string, lo, hi int64) (int, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, validate.Errorf(name, "%q must be a whole number from %d to %d", raw, lo, hi)
	}
	return int(n), nil
}
