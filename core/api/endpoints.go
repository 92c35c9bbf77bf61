package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
)

// endpointView is an endpoint as GET /v1/endpoints/{id} shows it.
type endpointView struct {
	*endpoint.Endpoint
	Health *delivery.Health `json:"health,omitempty"`
}

// redact drops the signing secret and the custom header values: only
// creation and rotation show the secret; nothing shows a header's value.
func redact(e *endpoint.Endpoint) *endpoint.Endpoint { return e.Redacted() }

func (s *server) createEndpoint(w http.ResponseWriter, r *http.Request) {
	var p endpoint.CreateParams
	if err := httpx.DecodeJSON(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	p.Guard = s.guard
	e, err := endpoint.Create(r.Context(), s.pool, p)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	w.Header().Set("Location", "/v1/endpoints/"+e.ID)
	httpx.WriteJSON(w, http.StatusCreated, e.RedactedHeaders())
}

func (s *server) listEndpoints(w http.ResponseWriter, r *http.Request) {
	es, err := endpoint.List(r.Context(), s.pool, endpoint.ListParams{})
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

func (s *server) getEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	e, err := endpoint.Get(r.Context(), s.pool, id)
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

func (s *server) updateEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var p endpoint.UpdateParams
	if err := httpx.DecodeJSON(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	p.Guard = s.guard
	e, err := endpoint.Update(r.Context(), s.pool, id, p)
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, redact(e))
}

func (s *server) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	if err := endpoint.Delete(r.Context(), s.pool, id); err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
	if err := decodeOptional(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	overlap := time.Duration(p.Overlap)
	if overlap == 0 {
		overlap = s.opts.SecretOverlap
	}
	e, err := endpoint.RotateSecret(r.Context(), s.pool, id, p.Secret, overlap)
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, e.RedactedHeaders())
}

func (s *server) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	e, err := endpoint.Enable(r.Context(), s.pool, id)
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, redact(e))
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
	if err := decodeOptional(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if p.Reason == "" {
		p.Reason = "disabled by an operator"
	}
	e, err := endpoint.Disable(r.Context(), s.pool, id, p.Reason)
	if err != nil {
		s.fail(w, err, "endpoint", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, redact(e))
}

// decodeOptional is httpx.DecodeJSON for bodies that may be left out.
func decodeOptional(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	err := httpx.DecodeJSON(w, r, maxBytes, dst)
	if errors.Is(err, httpx.ErrEmptyBody) {
		return nil
	}
	return err
}
