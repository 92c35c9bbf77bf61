package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/validate"
)

// endpointView is an endpoint as GET /v1/endpoints/{id} shows it.
type endpointView struct {
	*endpoint.Endpoint
	Health *delivery.Health `json:"health,omitempty"`
}

// redact drops the signing secret and the custom header values: only
// creation and rotation show the secret; nothing shows a header's value.
func redact(e *endpoint.Endpoint) *endpoint.Endpoint { return e.Redacted() }

// createEndpoint makes an endpoint; one made with a tenant token belongs
// to its tenant (a body naming another is refused). The address guard
// applies to every caller alike.
func (s *server) createEndpoint(w http.ResponseWriter, r *http.Request) {
	var p endpoint.CreateParams
	if err := s.decodeEndpoint(w, r, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if c := caller(r); c.tenant != "" {
		t, err := s.scopedTenant(r.Context(), c, p.Tenant, "tenant")
		if err != nil {
			httpx.WriteDomainError(w, s.logger, err)
			return
		}
		p.Tenant = t
	}
	p.Guard = s.guard
	var e *endpoint.Endpoint
	entry := audit.Entry{Action: audit.ActionCreate}
	err := s.audited(r, &entry, func(tx pgx.Tx) (int64, error) {
		var err error
		if e, err = endpoint.Create(r.Context(), tx, p); err != nil {
			return 0, err
		}
		entry.Target = e.ID
		if e.Tenant != "" {
			entry.Detail = "tenant " + e.Tenant
		}
		return 1, nil
	})
	if err != nil {
		s.fail(w, err, "tenant", p.Tenant)
		return
	}
	w.Header().Set("Location", "/v1/endpoints/"+url.PathEscape(e.ID))
	httpx.WriteJSON(w, http.StatusCreated, e.RedactedHeaders())
}

func (s *server) listEndpoints(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantQuery(r)
	if err != nil {
		s.fail(w, err, "tenant", "")
		return
	}
	es, err := endpoint.List(r.Context(), s.pool, endpoint.ListParams{Tenant: t})
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	out := make([]*endpoint.Endpoint, len(es))
	for i, e := range es {
		out[i] = redact(e)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"endpoints": out})
}

// getEndpoint shows the endpoint with its health: success rates, queue
// counts, the circuit breaker and, for a fifo endpoint, the failing head
// that blocks its line.
func (s *server) getEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	e, err := visibleEndpoint(r.Context(), s.pool, caller(r), id)
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	health, err := delivery.HealthOf(r.Context(), s.pool, []string{id}, time.Now())
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, endpointView{Endpoint: redact(e), Health: health[id]})
}

// changeEndpoint runs change on endpoint id if the caller may see it,
// recorded as e in the audit trail, and answers what change returns shown
// with view, or 204 when it returns nil.
func (s *server) changeEndpoint(w http.ResponseWriter, r *http.Request, id string, e audit.Entry,
	change func(tx pgx.Tx, id string) (*endpoint.Endpoint, error), view func(*endpoint.Endpoint) *endpoint.Endpoint) {
	e.Target = id
	var out *endpoint.Endpoint
	err := s.audited(r, &e, func(tx pgx.Tx) (int64, error) {
		if _, err := visibleEndpoint(r.Context(), tx, caller(r), id); err != nil {
			return 0, err
		}
		var err error
		out, err = change(tx, id)
		return 1, err
	})
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, view(out))
}

func (s *server) updateEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var p endpoint.UpdateParams
	if err := s.decodeEndpoint(w, r, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	fields := updatedFields(p)
	if len(fields) == 0 {
		// Nothing to change ({}): the endpoint as it is, written to and
		// audited as an edit no more.
		e, err := visibleEndpoint(r.Context(), s.pool, caller(r), id)
		if err != nil {
			s.fail(w, err, "endpoint", id)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, redact(e))
		return
	}
	p.Guard = s.guard
	e := audit.Entry{Action: audit.ActionEdit, Detail: "changed " + strings.Join(fields, ", ")}
	s.changeEndpoint(w, r, id, e, func(tx pgx.Tx, id string) (*endpoint.Endpoint, error) {
		return endpoint.Update(r.Context(), tx, id, p)
	}, redact)
}

// decodeEndpoint reads the body of an endpoint's creation or PATCH into
// dst as httpx.DecodeJSON does (which refuses null in every field), and
// refuses a tenant of "", which the schema does not take and decoding
// reads as none.
func (s *server) decodeEndpoint(w http.ResponseWriter, r *http.Request, dst any) error {
	b, err := httpx.ReadBody(w, r, s.opts.MaxBodyBytes, httpx.APIBodyKey)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return httpx.ErrEmptyBody
	}
	if err := httpx.Unmarshal(b, dst); err != nil {
		return err
	}
	var fields struct {
		Tenant *string `json:"tenant"`
	}
	if err := json.Unmarshal(b, &fields); err == nil && fields.Tenant != nil && *fields.Tenant == "" {
		return validate.Errorf("tenant", "is empty; give a tenant id, or leave it out for an endpoint of no tenant")
	}
	return nil
}

// updatedFields names the fields a PATCH sets, for the audit trail (names
// only: a header value may be a credential).
func updatedFields(p endpoint.UpdateParams) []string {
	var names []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"url", p.URL != nil}, {"description", p.Description != nil}, {"event_types", p.EventTypes != nil},
		{"headers", p.Headers != nil}, {"rate_limit", p.RateLimit != nil}, {"max_in_flight", p.MaxInFlight != nil},
		{"timeout", p.Timeout != nil}, {"body_format", p.BodyFormat != nil}, {"ordering", p.Ordering != nil},
		{"signatures", p.Signatures != nil}, {"enabled", p.Enabled != nil},
	} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

func (s *server) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !s.noFields(w, r) {
		return
	}
	s.changeEndpoint(w, r, id, audit.Entry{Action: audit.ActionDelete}, func(tx pgx.Tx, id string) (*endpoint.Endpoint, error) {
		return nil, endpoint.Delete(r.Context(), tx, id)
	}, nil)
}

type rotateRequest struct {
	// Secret is the new secret; generated when empty.
	Secret string `json:"secret"`
	// Overlap keeps the old secret signing; Options.SecretOverlap when empty.
	Overlap endpoint.Duration `json:"overlap"`
}

// rotateSecret answers the endpoint with its new secret and
// previous_secret_expires_at.
func (s *server) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var p rotateRequest
	if err := httpx.DecodeOptional(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	overlap := time.Duration(p.Overlap)
	if overlap == 0 {
		overlap = s.opts.SecretOverlap
	}
	e := audit.Entry{Action: audit.ActionRotate, Detail: "previous secret signs for " + overlap.String()}
	s.changeEndpoint(w, r, id, e, func(tx pgx.Tx, id string) (*endpoint.Endpoint, error) {
		return endpoint.RotateSecret(r.Context(), tx, id, p.Secret, overlap)
	}, (*endpoint.Endpoint).RedactedHeaders)
}

func (s *server) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !s.noFields(w, r) {
		return
	}
	s.changeEndpoint(w, r, id, audit.Entry{Action: audit.ActionEnable}, func(tx pgx.Tx, id string) (*endpoint.Endpoint, error) {
		return endpoint.Enable(r.Context(), tx, id)
	}, redact)
}

type disableRequest struct {
	Reason string `json:"reason"`
}

func (s *server) disableEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var p disableRequest
	if err := httpx.DecodeOptional(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if p.Reason == "" {
		p.Reason = "disabled by an operator"
	}
	s.changeEndpoint(w, r, id, audit.Entry{Action: audit.ActionDisable, Detail: p.Reason}, func(tx pgx.Tx, id string) (*endpoint.Endpoint, error) {
		return endpoint.Disable(r.Context(), tx, id, p.Reason)
	}, redact)
}

// noFields refuses a body with fields (see httpx.NoFields).
func (s *server) noFields(w http.ResponseWriter, r *http.Request) bool {
	return httpx.NoFields(w, r, s.opts.MaxBodyBytes, s.logger)
}
