// Package api serves hookd's HTTP API: tenants and their tokens,
// endpoints, events (publish, batch, show, the cursor feed), deliveries,
// replay and skip under /v1, plus /healthz, /readyz, /metrics and the
// OpenAPI document.
//
// # Authentication
//
// Every /v1 route requires "Authorization: Bearer <credential>": one of
// Options.APIKeys, compared in constant time, which sees everything, or
// a tenant token (hkt_..., core/tenant), which sees only its tenant's
// slice: the routes marked tenant in routeTable, each limited to the
// tenant's objects (scope.go). A tenant token on any other route,
// Options.Extra's included, is answered 403; another tenant's ids 404,
// exactly as ids that do not exist. With no keys configured the API is
// locked to operators (401, and New logs a warning once); tenant tokens
// still work. /healthz, /readyz, /metrics and /v1/openapi.json need no
// credential (keep /metrics private with the reverse proxy), and /in/
// (intake) verifies each source's signatures itself.
//
// # Errors
//
// Errors are JSON, {"error":{"code":"...","message":"..."}}, with the
// codes of package httpx: 400 invalid_input, 401 unauthorized, 403
// forbidden, 404 not_found (also for unknown routes, unknown tenants and
// events retention dropped, with messages saying so), 405
// method_not_allowed, 409 conflict, 413 too_large, 500 internal, 503
// unavailable (the database is unreachable; with Retry-After). What a
// client sends is never a 500: path ids and query values that cannot name
// anything, text PostgreSQL cannot store and values past the documented
// limits are 400s naming the field. A refused credential is answered
// before the body is read.
//
// # Audit
//
// Every change (replay, skip, enable, disable, edit, delete, rotate,
// create, tenant erasure, token create and revoke) is recorded with
// core/audit in the transaction that makes it, the caller as actor.
//
// # Secrets
//
// Only creation and rotation show an endpoint's secret, and only creation
// a tenant token's; no answer shows a custom header's value (lists,
// attempts: [redacted]).
//
// # Routes
//
// routeTable lists them; openapi.yaml (OpenAPIYAML, served as JSON at
// OpenAPIPath) describes every route with its answers and errors, and the
// tests check real answers against it.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/clientip"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// DefaultMaxBodyBytes caps request bodies when Options.MaxBodyBytes is 0
// (the default of http.max_body_bytes).
const DefaultMaxBodyBytes = 1 << 20

// Options configure the API.
type Options struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Publisher writes events for POST /v1/events. Required.
	Publisher *outbox.Publisher
	// APIKeys are the accepted bearer keys (api.keys). None locks /v1.
	APIKeys []string
	// MaxBodyBytes caps request bodies (http.max_body_bytes). Defaults to
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// SecretOverlap is how long a rotated-out secret keeps signing when the
	// request names no overlap. Defaults to endpoint.DefaultSecretOverlap.
	SecretOverlap time.Duration
	// Metrics are counted into and served on /metrics. Optional: without
	// them /metrics is not served.
	Metrics *metrics.Metrics
	// Intake, when set, is mounted at /in/ without bearer auth: it verifies
	// each source's signatures itself. It sees the full path (/in/...).
	Intake http.Handler
	// Extra, when set, registers more /v1 routes on the API's mux, behind
	// the same bearer auth and JSON 404/405 answers, for example the intake
	// owner's "GET /v1/sources" and "GET /v1/inbox/{id}". Patterns must
	// start with /v1/ and must not collide with the routes above.
	Extra func(mux *http.ServeMux)
	// Logger receives request logs (debug) and errors. Defaults to discarding.
	Logger *slog.Logger
	// TrustedProxies are the proxies (http.trusted_proxies) whose
	// X-Forwarded-For and X-Real-IP name the client in request logs; see
	// clientip.From. Defaults to none: the TCP peer is logged.
	TrustedProxies []netip.Prefix
	// Version is reported by /healthz.
	Version string
	// AllowedNetworks are delivery.allowed_networks. An endpoint URL whose
	// host the outbound address guard blocks otherwise (an IP literal,
	// localhost, a metadata name) is refused when it is set (400 naming
	// delivery.allowed_networks); names are checked again at every dial.
	AllowedNetworks []netip.Prefix
}

type server struct {
	opts   Options
	pool   *pgxpool.Pool
	logger *slog.Logger
	guard  *netguard.Guard
	keys   *httpx.KeySet
}

// New returns the API handler. It panics when Pool or Publisher is nil,
// which is a wiring mistake, not a runtime condition.
func New(opts Options) http.Handler {
	if opts.Pool == nil || opts.Publisher == nil {
		panic("api.New: Options.Pool and Options.Publisher are required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.SecretOverlap <= 0 {
		opts.SecretOverlap = endpoint.DefaultSecretOverlap
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{opts: opts, pool: opts.Pool, logger: opts.Logger.With("component", "api"),
		guard: netguard.New(opts.AllowedNetworks), keys: httpx.NewKeySet(opts.APIKeys)}
	if s.keys.Empty() {
		s.logger.Warn("the HTTP API is locked for operators: no api.keys are configured, so every /v1 request but a tenant token's is answered 401 (the CLI and console work without it)")
	}

	v1 := http.NewServeMux()
	for _, rt := range routeTable {
		handle := rt.handle
		v1.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { handle(s, w, r) })
	}
	if opts.Extra != nil {
		opts.Extra(v1)
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", s.healthz)
	root.HandleFunc("GET /readyz", s.readyz)
	root.HandleFunc("GET "+OpenAPIPath, serveOpenAPI)
	// Another method on the document's path is a 405, as on every other
	// path: "/v1/" below would take it for a /v1 route (401, or 404).
	root.HandleFunc(OpenAPIPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, http.StatusMethodNotAllowed, httpx.CodeMethodNotAllowed,
			r.Method+" is not allowed on "+r.URL.Path+" (allowed: GET, HEAD)")
	})
	if opts.Metrics != nil {
		root.Handle("GET /metrics", opts.Metrics.Handler())
	}
	if opts.Intake != nil {
		root.Handle("/in/", opts.Intake)
	}
	root.Handle("/v1/", s.authenticate(v1, s.checkQuery(v1, httpx.JSONFallback(v1))))
	return s.logRequests(httpx.JSONFallback(root))
}

// route is one /v1 route: its ServeMux pattern, whether a tenant token may
// use it (limited to its tenant), and its handler.
type route struct {
	pattern string
	tenant  bool
	handle  func(*server, http.ResponseWriter, *http.Request)
}

// routeTable lists every /v1 route of this package. A tenant token may use
// only those marked tenant; every other route (and every route of
// Options.Extra) answers it 403.
var routeTable = []route{
	{"POST /v1/endpoints", true, (*server).createEndpoint},
	{"GET /v1/endpoints", true, (*server).listEndpoints},
	{"GET /v1/endpoints/{id}", true, (*server).getEndpoint},
	{"PATCH /v1/endpoints/{id}", true, (*server).updateEndpoint},
	{"DELETE /v1/endpoints/{id}", true, (*server).deleteEndpoint},
	{"POST /v1/endpoints/{id}/rotate-secret", true, (*server).rotateSecret},
	{"POST /v1/endpoints/{id}/enable", true, (*server).enableEndpoint},
	{"POST /v1/endpoints/{id}/disable", true, (*server).disableEndpoint},

	{"POST /v1/events", false, (*server).publishEvent},
	{"POST /v1/events/batch", false, (*server).publishBatch},
	{"GET /v1/events", true, (*server).feed},
	{"GET /v1/events/{id}", true, (*server).getEvent},

	{"GET /v1/deliveries", true, (*server).listDeliveries},
	{"GET /v1/deliveries/{id}", true, (*server).getDelivery},
	{"POST /v1/deliveries/{id}/replay", true, (*server).replayDelivery},
	{"POST /v1/deliveries/{id}/skip", true, (*server).skipDelivery},
	{"POST /v1/replay", true, (*server).replayMatching},

	{"PUT /v1/tenants/{id}", false, (*server).putTenant},
	{"GET /v1/tenants", false, (*server).listTenants},
	{"GET /v1/tenants/{id}", false, (*server).getTenant},
	{"DELETE /v1/tenants/{id}", false, (*server).eraseTenant},
	{"POST /v1/tenants/{id}/tokens", false, (*server).createToken},
	{"GET /v1/tenants/{id}/tokens", false, (*server).listTokens},
	{"DELETE /v1/tenants/{id}/tokens/{token_id}", false, (*server).revokeToken},
}

// tenantRoutes are the patterns of routeTable a tenant token may use.
var tenantRoutes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range routeTable {
		if r.tenant {
			m[r.pattern] = true
		}
	}
	return m
}()

// Route describes one route of the API, for documentation and tests.
type Route struct {
	Method string
	Path   string
	// Tenant routes may be used with a tenant token, limited to its tenant.
	Tenant bool
	// Public routes need no credential.
	Public bool
}

// Routes lists the routes New serves itself, /v1 and public ones (not
// those of Options.Extra or Options.Intake).
func Routes() []Route {
	var out []Route
	for _, r := range routeTable {
		method, path, _ := strings.Cut(r.pattern, " ")
		out = append(out, Route{Method: method, Path: path, Tenant: r.tenant})
	}
	for _, p := range []string{"/healthz", "/readyz", OpenAPIPath, "/metrics"} {
		out = append(out, Route{Method: "GET", Path: p, Public: true})
	}
	return out
}

// logRequests logs each request at debug level: method, path, status,
// duration and the client's address (clientip.From). Headers (API keys)
// and bodies (secrets) are never logged.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.logger.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.logger.Debug("request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
			slog.String("remote", clientip.From(r, s.opts.TrustedProxies)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

// readyz answers 200 when the database answers and its schema is current.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		s.logger.Warn("readyz: database unreachable", slog.String("error", err.Error()))
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable, "database unreachable")
		return
	}
	current, err := db.SchemaCurrent(ctx, s.pool)
	if err != nil {
		s.logger.Warn("readyz: cannot read the schema version", slog.String("error", err.Error()))
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot read the schema version; run hookd migrate")
		return
	}
	if !current {
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable, "database schema is not current; run hookd migrate")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// pathID returns the {id} of the request, answering 400 naming "id" when
// it cannot be an id at all (a NUL, invalid UTF-8, a space), which would
// otherwise reach the database.
func (s *server) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := validate.ID("id", id); err != nil {
		httpx.WriteDomainError(w, s.logger, err)
		return "", false
	}
	return id, true
}

// fail answers err; a db.ErrNotFound names the kind and id asked for,
// or says why it is not there when the error knows (an unknown tenant, an
// event retention dropped).
func (s *server) fail(w http.ResponseWriter, err error, kind, id string) {
	var (
		eventTenant    *outbox.UnknownTenantError
		endpointTenant *endpoint.UnknownTenantError
		filterTenant   *UnknownTenantError
		agedOut        *outbox.AgedOutError
	)
	switch {
	case errors.As(err, &eventTenant), errors.As(err, &endpointTenant), errors.As(err, &filterTenant), errors.As(err, &agedOut):
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, err.Error())
		return
	}
	if errors.Is(err, db.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no "+kind+" with id "+strconv.Quote(id))
		return
	}
	httpx.WriteDomainError(w, s.logger, err)
}
