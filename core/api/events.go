package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// publishRequest is the body of POST /v1/events and one event of POST
// /v1/events/batch.
type publishRequest struct {
	// ID is the caller's event id; the Idempotency-Key header may give it
	// instead. Generated when neither does; given, it is not empty.
	ID   *string         `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Created is RFC 3339; defaults to the time of publishing.
	Created string `json:"created"`
	// Tenant directs the event to that tenant's endpoints; it must exist.
	// Given, it is not empty.
	Tenant *string `json:"tenant"`
	// Broadcast sends it to every matching endpoint of every tenant.
	Broadcast bool `json:"broadcast"`
}

// DecodeEvent reads one event as POST /v1/events takes it ({"id","type",
// "data","created","tenant","broadcast"}), refusing unknown fields; an
// error is a *validate.Error naming the field. The event is not checked
// further (outbox.Validate does that). hookd publish --file reads its
// lines with it.
func DecodeEvent(b []byte) (outbox.Event, error) {
	return decodeEvent(b, httpx.Unmarshal)
}

// decodeEvent is DecodeEvent with the decoder given: a batch's events
// were scanned with the batch (httpx.UnmarshalPart).
func decodeEvent(b []byte, unmarshal func([]byte, any) error) (outbox.Event, error) {
	var p publishRequest
	if err := unmarshal(b, &p); err != nil {
		return outbox.Event{}, err
	}
	return p.event()
}

// event turns the request into an event; errors name the field.
func (p publishRequest) event() (outbox.Event, error) {
	if p.ID != nil && *p.ID == "" {
		// "" would have the id generated, as if it had been left out.
		return outbox.Event{}, validate.Errorf("id", "is empty; give an id of 1 to %d characters, or leave it out for a generated one", validate.MaxIDBytes)
	}
	if p.Tenant != nil && *p.Tenant == "" {
		// "" would be no tenant, as if it had been left out.
		return outbox.Event{}, validate.Errorf("tenant", "is empty; give a tenant id, or leave it out for an event of no tenant")
	}
	ev := outbox.Event{ID: deref(p.ID), Type: p.Type, Data: p.Data, Tenant: deref(p.Tenant), Broadcast: p.Broadcast}
	t, err := timeParam(p.Created, "created")
	ev.Created = t
	return ev, err
}

// publishEvent answers 202 with {"event","deliveries","duplicate":false}
// for a new event and 200 with the first event and "duplicate":true when
// the id was published before (nothing is written then). An unknown
// tenant is a 404 naming it: tenants are never made implicitly.
func (s *server) publishEvent(w http.ResponseWriter, r *http.Request) {
	var p publishRequest
	if err := httpx.DecodeJSON(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) > 1 {
		// Which one would be the id? Refused as a query parameter given
		// twice is, before anything is read into the event.
		httpx.WriteDomainError(w, s.logger, validate.Errorf("Idempotency-Key", "is given %d times; give it once", len(keys)))
		return
	}
	ev, err := p.event()
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	fromHeader := false
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		fromHeader = ev.ID == ""
		if ev.ID != "" && ev.ID != key {
			httpx.WriteDomainError(w, s.logger, validate.Errorf("id",
				"%q differs from the Idempotency-Key header %q; give the event id in one of them, or the same in both", ev.ID, key))
			return
		}
		ev.ID = key
	}
	res, err := s.opts.Publisher.Publish(r.Context(), ev)
	if err != nil {
		// An id from the header is blamed on the header.
		var ve *validate.Error
		var taken *outbox.IDTakenError
		switch {
		case fromHeader && errors.As(err, &ve) && ve.Field == "id":
			err = &validate.Error{Field: "Idempotency-Key", Message: ve.Message}
		case fromHeader && errors.As(err, &taken):
			t := *taken
			t.Field = "Idempotency-Key"
			err = &t
		}
		s.fail(w, err, "tenant", ev.Tenant)
		return
	}
	if res.Duplicate {
		httpx.WriteJSON(w, http.StatusOK, res)
		return
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.EventsPublished.Inc()
	}
	w.Header().Set("Location", "/v1/events/"+url.PathEscape(res.Event.ID))
	httpx.WriteJSON(w, http.StatusAccepted, res)
}

// getEvent shows an event with its deliveries; with a tenant token, its
// tenant's deliveries only (a broadcast event has deliveries of others).
func (s *server) getEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	p := caller(r)
	ev, err := visibleEvent(r.Context(), s.pool, p, id)
	if err != nil {
		s.fail(w, err, "event", id)
		return
	}
	var ds []delivery.Delivery
	if p.tenant == "" {
		ds, err = delivery.ForEvent(r.Context(), s.pool, id)
	} else {
		var page delivery.Page
		page, err = delivery.List(r.Context(), s.pool, delivery.ListParams{
			Filter: delivery.Filter{EventID: id, Tenant: p.tenant}, Limit: 1000})
		ds = page.Deliveries
		slices.Reverse(ds) // oldest first, as ForEvent
	}
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"event": ev, "deliveries": ds})
}

// feedPage is the answer of GET /v1/events. NextCursor is the after= of
// the following poll; it equals the given cursor when nothing new is
// visible yet. AgedOut says that the cursor was older than what
// retention keeps: the page continues from the oldest event kept.
type feedPage struct {
	Events     []outbox.Event `json:"events"`
	NextCursor string         `json:"next_cursor"`
	AgedOut    bool           `json:"aged_out"`
	Message    string         `json:"message,omitempty"`
}

// agedOutMessage explains a feed page whose cursor retention overtook.
const agedOutMessage = "the cursor is older than retention.period: events after it were dropped, and this page continues from the oldest event kept"

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
	t, err := s.tenantQuery(r)
	if err != nil {
		s.fail(w, err, "tenant", "")
		return
	}
	page, err := outbox.Feed(r.Context(), s.pool, outbox.FeedParams{After: after, Tenant: t, Types: types, Limit: limit})
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	out := feedPage{Events: page.Events, NextCursor: page.Next.String(), AgedOut: page.AgedOut}
	if out.Events == nil {
		out.Events = []outbox.Event{}
	}
	if page.AgedOut {
		out.Message = agedOutMessage
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
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
