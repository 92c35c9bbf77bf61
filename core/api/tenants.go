package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

// This file serves the tenants and their tokens, for API keys only.

// tenantID returns the {id} of a tenants route; an id that cannot be a
// tenant's is a 400 naming "id", as for every path id that cannot name
// anything.
func (s *server) tenantID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return "", false
	}
	return id, true
}

// putTenant creates the tenant (201) or updates the fields given (200).
// The body is optional: {"name", "metadata"}.
func (s *server) putTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok {
		return
	}
	var p tenant.PutParams
	if err := httpx.DecodeOptional(w, r, s.opts.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	var t *tenant.Tenant
	var did tenant.PutResult
	e := audit.Entry{Action: audit.ActionEdit, Target: "tenant " + id}
	err := pgx.BeginFunc(r.Context(), s.pool, func(tx pgx.Tx) error {
		var err error
		if t, did, err = tenant.Put(r.Context(), tx, id, p); err != nil || did.Unchanged() {
			return err // a put that changes nothing is no edit
		}
		e.Actor, e.Via, e.Rows = caller(r).actor, audit.ViaAPI, 1
		if did.Created {
			e.Action = audit.ActionCreate
		} else {
			e.Detail = "changed " + strings.Join(did.Changed, ", ")
		}
		return audit.Record(r.Context(), tx, e)
	})
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	if did.Created {
		w.Header().Set("Location", "/v1/tenants/"+url.PathEscape(t.ID))
		httpx.WriteJSON(w, http.StatusCreated, t)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, t)
}

// listTenants answers a page of tenants in id order, with their endpoint
// and dead-letter counts: {"tenants":[...],"next":"<after>"}.
func (s *server) listTenants(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	page, err := tenant.List(r.Context(), s.pool, tenant.ListParams{After: q.Get("after"), Limit: limit})
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

func (s *server) getTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok {
		return
	}
	t, err := tenant.GetSummary(r.Context(), s.pool, id)
	if err != nil {
		s.fail(w, err, "tenant", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, t)
}

// eraseTenant deletes the tenant and everything of it in one transaction
// and answers the counts removed.
func (s *server) eraseTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok || !s.noFields(w, r) {
		return
	}
	var erased *tenant.Erased
	err := s.audited(r, &audit.Entry{Action: audit.ActionErase, Target: "tenant " + id}, func(tx pgx.Tx) (int64, error) {
		var err error
		if erased, err = tenant.Erase(r.Context(), tx, id); err != nil {
			return 0, err
		}
		return erased.Endpoints + erased.Events + erased.Deliveries + erased.Attempts + erased.Tokens, nil
	})
	if err != nil {
		s.fail(w, err, "tenant", id)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, erased)
}

// tokenRequest is the body of POST /v1/tenants/{id}/tokens.
type tokenRequest struct {
	Name string `json:"name"`
	// ExpiresIn is a duration such as "720h"; empty for a token that
	// never expires.
	ExpiresIn string `json:"expires_in"`
}

// createToken makes a tenant token and answers it with its secret, shown
// this once.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok {
		return
	}
	var req tokenRequest
	if err := httpx.DecodeOptional(w, r, s.opts.MaxBodyBytes, &req); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	p := tenant.TokenParams{Name: req.Name}
	if req.ExpiresIn != "" {
		// One message for every value refused, too short or too long: 0
		// is no "never" here, as leaving the field out is.
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > tenant.MaxTokenLifetime {
			httpx.WriteDomainError(w, s.logger, validate.Errorf("expires_in",
				"%q is not a positive duration up to %dh (10 years), such as 720h; leave it out for a token that never expires",
				req.ExpiresIn, int(tenant.MaxTokenLifetime.Hours())))
			return
		}
		p.ExpiresIn = d
	}
	var tok *tenant.NewToken
	e := audit.Entry{Action: audit.ActionCreateToken, Target: "tenant " + id}
	err := s.audited(r, &e, func(tx pgx.Tx) (int64, error) {
		var err error
		if tok, err = tenant.CreateToken(r.Context(), tx, id, p); err != nil {
			return 0, err
		}
		e.Detail = "token " + tok.ID
		if tok.Name != "" {
			e.Detail += " (" + tok.Name + ")"
		}
		return 1, nil
	})
	if err != nil {
		s.fail(w, err, "tenant", id)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusCreated, tok)
}

// listTokens answers {"tokens":[...]}, never their secrets.
func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok {
		return
	}
	if _, err := tenant.Get(r.Context(), s.pool, id); err != nil {
		s.fail(w, err, "tenant", id)
		return
	}
	toks, err := tenant.ListTokens(r.Context(), s.pool, id)
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

// revokeToken deletes a token: it stops working at once. 204.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := s.tenantID(w, r)
	if !ok || !s.noFields(w, r) {
		return
	}
	tokenID := r.PathValue("token_id")
	if err := validate.ID("token_id", tokenID); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	e := audit.Entry{Action: audit.ActionRevokeToken, Target: "tenant " + id, Detail: "token " + tokenID}
	err := s.audited(r, &e, func(tx pgx.Tx) (int64, error) {
		return 1, tenant.RevokeToken(r.Context(), tx, id, tokenID)
	})
	if err == db.ErrNotFound {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("tenant %q has no token with id %q", id, tokenID))
		return
	}
	if err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
