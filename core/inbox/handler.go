package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/clientip"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/service"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// Handler defaults.
const (
	DefaultCacheTTL      = 2 * time.Second
	DefaultFlushInterval = time.Second
	DefaultLogInterval   = 10 * time.Second
)

// BodyKey is the config key that caps intake bodies, named in 413 answers.
const BodyKey = "intake.max_body_bytes"

// HandlerOptions configure a Handler. Every field is optional.
type HandlerOptions struct {
	// MaxBodyBytes caps request bodies. Defaults to config.DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Publisher writes forwarded events. Defaults to a publisher on the
	// handler's pool with outbox defaults; pass one configured with
	// delivery.max_payload_bytes.
	Publisher *outbox.Publisher
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives intake counters; nil counts nothing.
	Metrics *metrics.Metrics
	// CacheTTL is how long a looked-up source (or its absence) is reused.
	// Defaults to 2s, so API changes apply within that.
	CacheTTL time.Duration
	// FlushInterval is how often rejection counts are written to the
	// database once Start has been called. Defaults to 1s.
	FlushInterval time.Duration
	// LogInterval is the least time between two rejection log lines; the
	// rejections in between are counted in the next line. Defaults to 10s.
	LogInterval time.Duration
	// TrustedProxies are the proxies (http.trusted_proxies) whose
	// X-Forwarded-For and X-Real-IP name the client in rejection logs; see
	// clientip.From. Defaults to none: the TCP peer is logged.
	TrustedProxies []netip.Prefix
	// Now defaults to time.Now; tests move it.
	Now func() time.Time
}

// Handler receives webhooks at POST /in/{source}: it reads the body up to
// a cap (413), finds the source (404), verifies the signature and
// timestamp (401, nothing stored), then in one transaction stores the
// event in the inbox, deduplicated on (source, event id), and for a
// forwarding source publishes it to the forward endpoint. It answers 200
// only after that transaction committed, and 503 when the database fails,
// so a sender never sees success for an event that was not stored.
//
// Mount it with the pattern "POST /in/{source}", or use ForSource. Call
// Start so rejection counts are written in batches rather than one
// statement per rejected request; Stop writes what is left.
type Handler struct {
	pool    *pgxpool.Pool
	pub     *outbox.Publisher
	logger  *slog.Logger
	metrics *metrics.Metrics
	maxBody int64
	now     func() time.Time
	opts    HandlerOptions

	cache   sourceCache
	rejects rejectCounter
	logLim  logLimiter

	runner service.Runner // the rejection-count flusher
}

// NewHandler returns a Handler on pool.
func NewHandler(pool *pgxpool.Pool, opts HandlerOptions) *Handler {
	opts.MaxBodyBytes = cmp.Or(opts.MaxBodyBytes, config.DefaultMaxBodyBytes)
	opts.CacheTTL = cmp.Or(opts.CacheTTL, DefaultCacheTTL)
	opts.FlushInterval = cmp.Or(opts.FlushInterval, DefaultFlushInterval)
	opts.LogInterval = cmp.Or(opts.LogInterval, DefaultLogInterval)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Publisher == nil {
		opts.Publisher = outbox.NewPublisher(pool, outbox.Options{})
	}
	return &Handler{
		pool: pool, pub: opts.Publisher, logger: opts.Logger.With(slog.String("service", "intake")),
		metrics: opts.Metrics, maxBody: opts.MaxBodyBytes, now: opts.Now, opts: opts,
		cache:   sourceCache{ttl: opts.CacheTTL, entries: map[string]cacheEntry{}},
		rejects: rejectCounter{counts: map[string]int64{}},
		logLim:  logLimiter{interval: opts.LogInterval},
	}
}

// ServeHTTP serves POST /in/{source}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	if name == "" {
		name = strings.TrimPrefix(r.URL.Path, "/in/")
	}
	h.serve(w, r, name)
}

// ForSource returns a handler that receives every request as source name,
// for applications that mount intake at a path of their own.
func (h *Handler) ForSource(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, name) })
}

// Invalidate forgets the cached copy of source name, so a change made
// through this process applies to the next request.
func (h *Handler) Invalidate(name string) { h.cache.drop(name) }

// Answer is the body of a 200 answer.
type Answer struct {
	// Status is "accepted" for a new event, "duplicate" for one already stored.
	Status string `json:"status"`
	// ID is the inbox id of the stored event.
	ID int64 `json:"id"`
	// EventID is the sender's event id.
	EventID string `json:"event_id"`
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, http.StatusMethodNotAllowed, httpx.CodeMethodNotAllowed, "send webhooks with POST")
		return
	}
	ctx := r.Context()
	var src *Source
	err := db.ErrNotFound
	if namePattern.MatchString(name) {
		src, err = h.cache.get(ctx, h.pool, name, h.now())
	}
	if errors.Is(err, db.ErrNotFound) {
		// Unknown names are not used as metric labels: senders choose them.
		h.count("", "unknown_source")
		httpx.RefuseBody(w)
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("no intake source named %q", name))
		return
	}
	if err != nil {
		h.unavailable(w, name, "look up source", err)
		return
	}
	if r.ContentLength > h.maxBody {
		h.tooLarge(w, name, r.ContentLength)
		return
	}
	// A request without the scheme's signature headers is refused before
	// its body is read, and its connection closed, so that an
	// unauthenticated sender cannot hold the connection with a slow body.
	if err := signing.CheckHeaders(src.Scheme, r.Header); err != nil {
		var ve *signing.VerifyError
		if errors.As(err, &ve) {
			h.reject(ctx, src.Name, ve.Reason, clientip.From(r, h.opts.TrustedProxies))
			httpx.RefuseBody(w)
			httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, ve.Reason)
			return
		}
	}
	body, err := httpx.ReadBody(w, r, h.maxBody, BodyKey)
	if err != nil {
		var big *httpx.BodyTooLargeError
		if errors.As(err, &big) {
			h.tooLarge(w, name, -1)
			return
		}
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeInvalidInput, "could not read the request body")
		return
	}
	res, err := signing.Verify(src.Scheme, r.Header, body, src.Secrets, time.Duration(src.Tolerance), h.now())
	if err != nil {
		var ve *signing.VerifyError
		if errors.As(err, &ve) {
			h.reject(ctx, src.Name, ve.Reason, clientip.From(r, h.opts.TrustedProxies))
			httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, ve.Reason)
			return
		}
		// The source itself is unusable (bad secret, unknown scheme).
		h.count(src.Name, "error")
		h.logger.Error("intake: source cannot verify", slog.String("source", src.Name), slog.String("error", err.Error()))
		httpx.WriteError(w, http.StatusInternalServerError, httpx.CodeInternal, "source "+src.Name+" is misconfigured; the server log has the details")
		return
	}
	if reason := badEventID(res.EventID); reason != "" {
		// Authentic, but unstorable: say so rather than fail with 503 on
		// every retry.
		h.count(src.Name, "invalid")
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeInvalidInput, "event id "+reason)
		return
	}
	ans, err := h.store(ctx, src, res, r.Header, body)
	if err != nil {
		var tl *validate.TooLargeError
		if errors.As(err, &tl) {
			h.count(src.Name, "too_large")
			httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge,
				"the body is too large to forward: "+tl.Error())
			return
		}
		if validate.Is(err) {
			// Authentic, but its forward cannot be published: a 503
			// would be retried in vain.
			h.count(src.Name, "invalid")
			httpx.WriteError(w, http.StatusBadRequest, httpx.CodeInvalidInput, "the event cannot be forwarded: "+err.Error())
			return
		}
		h.unavailable(w, src.Name, "store event", err)
		return
	}
	h.count(src.Name, ans.Status)
	httpx.WriteJSON(w, http.StatusOK, ans)
}

func (h *Handler) tooLarge(w http.ResponseWriter, source string, size int64) {
	h.count(source, "too_large")
	msg := fmt.Sprintf("request body is over the limit of %d bytes (%s)", h.maxBody, BodyKey)
	if size > 0 {
		msg = fmt.Sprintf("request body is %d bytes, over the limit of %d bytes (%s)", size, h.maxBody, BodyKey)
	}
	// The rest of the body is not read; do not keep the connection.
	httpx.RefuseBody(w)
	httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, msg)
}

// unavailable answers 503: the sender must retry, since nothing was
// acknowledged.
func (h *Handler) unavailable(w http.ResponseWriter, source, what string, err error) {
	h.count(source, "error")
	if !errors.Is(err, context.Canceled) {
		h.logger.Error("intake: "+what+" failed", slog.String("source", source), slog.String("error", err.Error()))
	}
	w.Header().Set("Retry-After", "5")
	httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable,
		"the event could not be stored; retry later")
}

func (h *Handler) count(source, outcome string) {
	if h.metrics != nil {
		h.metrics.IntakeRequests.WithLabelValues(source, outcome).Inc()
	}
}

// reject counts and logs a failed verification. Log lines are limited to
// one per LogInterval, each saying how many were left out before it.
// client is the sender's address as clientip.From found it.
func (h *Handler) reject(ctx context.Context, source, reason, client string) {
	h.count(source, "rejected")
	if h.metrics != nil {
		h.metrics.IntakeVerifyFailures.WithLabelValues(source, reason).Inc()
	}
	h.rejects.add(source)
	if !h.isStarted() {
		// No flusher: write now so the count is not lost.
		if err := h.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
			h.logger.Warn("intake: count rejection", slog.String("error", err.Error()))
		}
	}
	if ok, suppressed := h.logLim.allow(h.now()); ok {
		h.logger.Warn("intake: request rejected", slog.String("source", source), slog.String("reason", reason),
			slog.String("remote", client), slog.Int("suppressed_since_last", suppressed))
	}
}
