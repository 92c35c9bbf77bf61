// Package api serves hookd's HTTP API: endpoints, events (publish, show,
// the cursor feed), deliveries and replay under /v1, plus /healthz,
// /readyz and /metrics.
//
// # Authentication
//
// Every /v1 route requires "Authorization: Bearer <key>" with one of
// Options.APIKeys, compared in constant time. With no keys configured the
// API is locked: every /v1 request is answered 401 and New logs a warning
// once. That is a safe default, not a failure: the CLI and the console
// talk to the database directly, so the API is optional. /healthz, /readyz
// and /metrics need no key (keep /metrics private with the reverse proxy),
// and /in/ (intake) verifies each source's signatures itself.
//
// # Errors
//
// Errors are JSON, {"error":{"code":"...","message":"..."}}, with the
// codes of package httpx: 400 invalid_input, 401 unauthorized, 404
// not_found (also for unknown routes), 405 method_not_allowed, 409
// conflict, 413 too_large, 500 internal, 503 unavailable (the database is
// unreachable; with Retry-After). What a client sends is never a 500:
// path ids and query values that cannot name anything, text PostgreSQL
// cannot store and values past the documented limits are 400s naming the
// field. A refused key is answered before the body is read.
//
// # Secrets
//
// Only creation and rotation show an endpoint's secret; no answer shows a
// custom header's value (lists, attempts: [redacted]).
//
// # Routes
//
//	POST   /v1/endpoints                      201 endpoint, secret included
//	GET    /v1/endpoints                      {"endpoints":[...]}, secrets omitted
//	GET    /v1/endpoints/{id}                 endpoint with "health", secret omitted
//	PATCH  /v1/endpoints/{id}                 endpoint.UpdateParams; the endpoint
//	DELETE /v1/endpoints/{id}                 204
//	POST   /v1/endpoints/{id}/rotate-secret   optional {"secret","overlap"}; endpoint with
//	                                          the new secret and previous_secret_expires_at
//	POST   /v1/endpoints/{id}/enable          the endpoint
//	POST   /v1/endpoints/{id}/disable         optional {"reason"}; the endpoint
//	POST   /v1/events                         202 {"event","deliveries","duplicate":false};
//	                                          a repeated id answers 200 with the first
//	                                          event and "duplicate":true
//	GET    /v1/events?after=&type=&limit=     {"events":[...],"next_cursor":"..."}
//	GET    /v1/events/{id}                    {"event","deliveries":[...]}
//	GET    /v1/deliveries?state=&endpoint_id=&event_type=&event_id=&since=&until=&before=&limit=
//	                                          {"deliveries":[...],"next":"<before>"}
//	GET    /v1/deliveries/{id}                {"delivery","attempts":[...]}
//	POST   /v1/deliveries/{id}/replay         the re-queued delivery; 409 while in flight
//	POST   /v1/replay                         {"matched","replayed","dry_run"}
//	GET    /healthz /readyz /metrics
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
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
	s := &server{opts: opts, pool: opts.Pool, logger: opts.Logger.With("component", "api"), guard: netguard.New(opts.AllowedNetworks)}
	if len(opts.APIKeys) == 0 {
		s.logger.Warn("the HTTP API is locked: no api.keys are configured, so every /v1 request is answered 401 (the CLI and console work without it)")
	}

	v1 := http.NewServeMux()
	s.routes(v1)
	if opts.Extra != nil {
		opts.Extra(v1)
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", s.healthz)
	root.HandleFunc("GET /readyz", s.readyz)
	if opts.Metrics != nil {
		root.Handle("GET /metrics", opts.Metrics.Handler())
	}
	if opts.Intake != nil {
		root.Handle("/in/", opts.Intake)
	}
	root.Handle("/v1/", httpx.RequireBearer(opts.APIKeys, jsonFallback(v1)))
	return s.logRequests(jsonFallback(root))
}

func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/endpoints", s.createEndpoint)
	mux.HandleFunc("GET /v1/endpoints", s.listEndpoints)
	mux.HandleFunc("GET /v1/endpoints/{id}", s.getEndpoint)
	mux.HandleFunc("PATCH /v1/endpoints/{id}", s.updateEndpoint)
	mux.HandleFunc("DELETE /v1/endpoints/{id}", s.deleteEndpoint)
	mux.HandleFunc("POST /v1/endpoints/{id}/rotate-secret", s.rotateSecret)
	mux.HandleFunc("POST /v1/endpoints/{id}/enable", s.enableEndpoint)
	mux.HandleFunc("POST /v1/endpoints/{id}/disable", s.disableEndpoint)

	mux.HandleFunc("POST /v1/events", s.publishEvent)
	mux.HandleFunc("GET /v1/events", s.feed)
	mux.HandleFunc("GET /v1/events/{id}", s.getEvent)

	mux.HandleFunc("GET /v1/deliveries", s.listDeliveries)
	mux.HandleFunc("GET /v1/deliveries/{id}", s.getDelivery)
	mux.HandleFunc("POST /v1/deliveries/{id}/replay", s.replayDelivery)
	mux.HandleFunc("POST /v1/replay", s.replayMatching)
}

// jsonFallback answers requests mux has no route for with JSON 404 or 405
// instead of ServeMux's plain text.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux decide between 404 and 405 (and compute Allow), then
		// answer in JSON.
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			httpx.WriteError(w, http.StatusMethodNotAllowed, httpx.CodeMethodNotAllowed,
				r.Method+" is not allowed on "+r.URL.Path+" (allowed: "+probe.header.Get("Allow")+")")
			return
		}
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
}

// statusProbe records what a fallback handler would answer, discarding the body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
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

// fail answers err; a db.ErrNotFound names the kind and id asked for.
func (s *server) fail(w http.ResponseWriter, err error, kind, id string) {
	if errors.Is(err, db.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no "+kind+" with id "+strconv.Quote(id))
		return
	}
	httpx.WriteDomainError(w, s.logger, err)
}
