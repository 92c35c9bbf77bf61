package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/validate"
)

// deliveryPage is the answer of GET /v1/deliveries, newest first. Next is
// the before= of the following page, empty on the last page.
type deliveryPage struct {
	Deliveries []delivery.Delivery `json:"deliveries"`
	Next       string              `json:"next,omitempty"`
}

func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	p, err := listParams(r.URL.Query())
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	page, err := delivery.List(r.Context(), s.pool, p)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	out := deliveryPage{Deliveries: page.Deliveries}
	if page.Next > 0 {
		out.Next = strconv.FormatInt(page.Next, 10)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// listParams reads the query of GET /v1/deliveries; a bad value is a
// *validate.Error naming its parameter.
func listParams(q url.Values) (delivery.ListParams, error) {
	var p delivery.ListParams
	var err error
	p.State = delivery.State(q.Get("state"))
	p.EndpointID = q.Get("endpoint_id")
	p.EventType = q.Get("event_type")
	p.EventID = q.Get("event_id")
	if err := checkFilterText(p.Filter); err != nil {
		return p, err
	}
	if p.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return p, err
	}
	if p.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return p, err
	}
	if b := q.Get("before"); b != "" {
		if p.Before, err = strconv.ParseInt(b, 10, 64); err != nil || p.Before <= 0 {
			return p, validate.Errorf("before", "%q must be the next value of a previous page (a positive number)", b)
		}
	}
	if p.Limit, err = intParam(q.Get("limit"), "limit", 1, 1000); err != nil {
		return p, err
	}
	return p, p.Filter.Validate()
}

// checkFilterText refuses filter values that cannot name anything (a NUL,
// invalid UTF-8, a space in an id) before they reach the database.
func checkFilterText(f delivery.Filter) error {
	for _, c := range []struct{ name, value string }{{"endpoint_id", f.EndpointID}, {"event_id", f.EventID}} {
		if c.value != "" {
			if err := validate.ID(c.name, c.value); err != nil {
				return err
			}
		}
	}
	if f.EventType != "" {
		return validate.ID("event_type", f.EventType)
	}
	return nil
}

func timeParam(raw, name string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, validate.Errorf(name, "%q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", raw)
	}
	return t, nil
}

// deliveryID parses {id}; a value that is not a number names no delivery.
func (s *server) deliveryID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no delivery with id "+strconv.Quote(raw)+" (delivery ids are numbers)")
		return 0, false
	}
	return id, true
}

func (s *server) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := s.deliveryID(w, r)
	if !ok {
		return
	}
	d, err := delivery.Get(r.Context(), s.pool, id)
	if err != nil {
		s.fail(w, err, "delivery", r.PathValue("id"))
		return
	}
	attempts, err := delivery.Attempts(r.Context(), s.pool, id)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	for i := range attempts {
		attempts[i].RequestHeaders = endpoint.RedactRequestHeaders(attempts[i].RequestHeaders)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"delivery": d, "attempts": attempts})
}

// replayDelivery re-queues one delivery for an immediate attempt with a
// fresh retry budget; a delivery in flight is refused with 409.
func (s *server) replayDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := s.deliveryID(w, r)
	if !ok {
		return
	}
	d, err := delivery.Replay(r.Context(), s.pool, id)
	if err != nil {
		if validate.Is(err) {
			// The only input error Replay has is a delivery in flight: a
			// conflict with its current state, not a malformed request.
			httpx.WriteError(w, http.StatusConflict, httpx.CodeConflict, err.Error())
			return
		}
		s.fail(w, err, "delivery", r.PathValue("id"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// replayRequest is the body of POST /v1/replay; empty fields match all,
// except state, which defaults to dead.
type replayRequest struct {
	State      string `json:"state"`
	EndpointID string `json:"endpoint_id"`
	EventType  string `json:"event_type"`
	EventID    string `json:"event_id"`
	Since      string `json:"since"`
	Until      string `json:"until"`
	// CompletedBefore bounds the replay to deliveries that died (or
	// succeeded) by then: replay exactly what a dry run counted.
	CompletedBefore string `json:"completed_before"`
	DryRun          bool   `json:"dry_run"`
}

type replayResult struct {
	Matched  int64 `json:"matched"`
	Replayed int64 `json:"replayed"`
	DryRun   bool  `json:"dry_run"`
}

func (s *server) replayMatching(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	if err := decodeOptional(w, r, s.opts.MaxBodyBytes, &req); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	p := delivery.ReplayParams{DryRun: req.DryRun, Filter: delivery.Filter{
		State: delivery.State(req.State), EndpointID: req.EndpointID, EventType: req.EventType, EventID: req.EventID,
	}}
	if err := checkFilterText(p.Filter); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	var err error
	if p.Since, err = timeParam(req.Since, "since"); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if p.Until, err = timeParam(req.Until, "until"); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if p.CompletedBefore, err = timeParam(req.CompletedBefore, "completed_before"); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	n, err := delivery.ReplayMatching(r.Context(), s.pool, p)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	res := replayResult{Matched: n, Replayed: n, DryRun: req.DryRun}
	if req.DryRun {
		res.Replayed = 0
	}
	httpx.WriteJSON(w, http.StatusOK, res)
}
