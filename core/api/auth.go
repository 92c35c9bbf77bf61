package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/tenant"
)

// principal is who sent a request: an operator with one of api.keys, or a
// customer with a tenant token, whose requests see only its tenant.
type principal struct {
	// actor names the caller in the audit trail.
	actor audit.Actor
	// tenant is the tenant a token belongs to; empty for an API key.
	tenant string
}

type principalKey struct{}

// caller returns the principal authenticate put in the request.
func caller(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// authenticate lets through requests that carry one of api.keys or a
// live tenant token, and answers the others before their body is read: a
// missing, wrong, revoked or expired credential 401, a tenant token on a
// route outside its tenant's slice (mux's pattern not in tenantRoutes)
// 403. Tenant tokens work even when no api.keys are configured: an
// operator who made one meant it to be used.
func (s *server) authenticate(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := httpx.BearerToken(r)
		if !ok {
			if s.keys.Empty() {
				httpx.Unauthorized(w, "the API is locked: no api.keys are configured (a tenant token works all the same)")
				return
			}
			httpx.Unauthorized(w, "send an API key (or a tenant token, hkt_...) as Authorization: Bearer <key>")
			return
		}
		var p principal
		if tenant.IsToken(token) {
			tok, err := tenant.Authenticate(r.Context(), s.pool, token)
			switch {
			case errors.Is(err, tenant.ErrTokenUnknown), errors.Is(err, tenant.ErrTokenExpired):
				httpx.Unauthorized(w, err.Error())
				return
			case err != nil:
				httpx.RefuseBody(w)
				httpx.WriteDomainError(w, s.logger, err)
				return
			}
			p = principal{actor: audit.TenantToken(tok.ID, tok.TenantID), tenant: tok.TenantID}
			if _, pattern := mux.Handler(r); pattern != "" && !tenantRoutes[pattern] {
				httpx.Forbidden(w, "a tenant token cannot use "+pattern+": it sees only its tenant's endpoints, events and deliveries; this route needs an API key (api.keys)")
				return
			}
		} else {
			if s.keys.Empty() {
				httpx.Unauthorized(w, "the API is locked: no api.keys are configured")
				return
			}
			if !s.keys.Match(token) {
				httpx.Unauthorized(w, "the API key is not valid")
				return
			}
			p = principal{actor: audit.APIKey(token)}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}
