package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/outbox"
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
	if err == nil {
		p.Tenant, err = s.tenantQuery(r)
	}
	if err != nil {
		s.fail(w, err, "tenant", "")
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

// timeParam parses an RFC 3339 time named name; "" is the zero time.
func timeParam(raw, name string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, validate.Errorf(name, "%q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", raw)
	}
	if err := outbox.CheckTime(name, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// deliveryID parses {id}; a value that is not a number names no delivery.
func (s *server) deliveryID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := httpx.PathID(r, "id")
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no delivery with id "+strconv.Quote(r.PathValue("id"))+" (delivery ids are numbers)")
	}
	return id, ok
}

func (s *server) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := s.deliveryID(w, r)
	if !ok {
		return
	}
	d, err := visibleDelivery(r.Context(), s.pool, caller(r), id)
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

// changeDelivery runs change on delivery id if the caller may see it,
// recorded as e in the audit trail, and answers the delivery it returns.
// A refusal for the delivery's state (in flight, finished) is a 409.
func (s *server) changeDelivery(w http.ResponseWriter, r *http.Request, e audit.Entry,
	change func(tx pgx.Tx, id int64) (*delivery.Delivery, error)) {
	id, ok := s.deliveryID(w, r)
	if !ok {
		return
	}
	e.Target = "delivery " + strconv.FormatInt(id, 10)
	var d *delivery.Delivery
	err := s.audited(r, &e, func(tx pgx.Tx) (int64, error) {
		if _, err := visibleDelivery(r.Context(), tx, caller(r), id); err != nil {
			return 0, err
		}
		var err error
		d, err = change(tx, id)
		return 1, err
	})
	if err != nil {
		if validate.Is(err) {
			// The only input errors of Replay and Skip are about the
			// delivery's state: a conflict, not a malformed request.
			httpx.WriteError(w, http.StatusConflict, httpx.CodeConflict, err.Error())
			return
		}
		s.fail(w, err, "delivery", r.PathValue("id"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// replayDelivery re-queues one delivery for an immediate attempt with a
// fresh retry budget; a delivery in flight is refused with 409.
func (s *server) replayDelivery(w http.ResponseWriter, r *http.Request) {
	if !s.noFields(w, r) {
		return
	}
	s.changeDelivery(w, r, audit.Entry{Action: audit.ActionReplay}, func(tx pgx.Tx, id int64) (*delivery.Delivery, error) {
		return delivery.Replay(r.Context(), tx, id)
	})
}

// skipDelivery gives up on a delivery still to do (pending, retrying,
// held): it ends skipped, its attempts kept, and a fifo line it blocked
// moves on. In flight or finished is a 409.
func (s *server) skipDelivery(w http.ResponseWriter, r *http.Request) {
	if !s.noFields(w, r) {
		return
	}
	s.changeDelivery(w, r, audit.Entry{Action: audit.ActionSkip}, func(tx pgx.Tx, id int64) (*delivery.Delivery, error) {
		return delivery.Skip(r.Context(), tx, id)
	})
}

// replayRequest is the body of POST /v1/replay; empty fields match all,
// except state, which defaults to dead.
type replayRequest struct {
	State      string `json:"state"`
	EndpointID string `json:"endpoint_id"`
	Tenant     string `json:"tenant"`
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

// replayMatching re-queues every delivery matching the body; with a
// tenant token, of its tenant only. A dry run counts and changes nothing.
func (s *server) replayMatching(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	if err := httpx.DecodeOptional(w, r, s.opts.MaxBodyBytes, &req); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	p := delivery.ReplayParams{DryRun: req.DryRun, Filter: delivery.Filter{
		State: delivery.State(req.State), EndpointID: req.EndpointID, EventType: req.EventType, EventID: req.EventID,
	}}
	err := checkFilterText(p.Filter)
	if err == nil {
		p.Tenant, err = s.scopedTenant(r.Context(), caller(r), req.Tenant, "tenant")
	}
	if err == nil {
		p.Since, err = timeParam(req.Since, "since")
	}
	if err == nil {
		p.Until, err = timeParam(req.Until, "until")
	}
	if err == nil {
		p.CompletedBefore, err = timeParam(req.CompletedBefore, "completed_before")
	}
	if err != nil {
		s.fail(w, err, "tenant", "")
		return
	}
	var n int64
	if req.DryRun {
		n, err = delivery.ReplayMatching(r.Context(), s.pool, p)
	} else {
		err = s.audited(r, &audit.Entry{Action: audit.ActionReplay, Target: filterTarget(p.Filter)}, func(tx pgx.Tx) (int64, error) {
			var err error
			n, err = delivery.ReplayMatching(r.Context(), tx, p)
			return n, err
		})
	}
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

// filterTarget names a bulk replay's filter in the audit trail, in the
// console's filter syntax.
func filterTarget(f delivery.Filter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+":"+v)
		}
	}
	state := f.State
	if state == "" {
		state = delivery.StateDead
	}
	add("state", string(state))
	add("tenant", f.Tenant)
	add("endpoint", f.EndpointID)
	add("type", f.EventType)
	add("id", f.EventID)
	for _, t := range []struct {
		k string
		v time.Time
	}{{"since", f.Since}, {"until", f.Until}, {"completed_before", f.CompletedBefore}} {
		if !t.v.IsZero() {
			add(t.k, t.v.UTC().Format(time.RFC3339))
		}
	}
	return strings.Join(parts, " ")
}
