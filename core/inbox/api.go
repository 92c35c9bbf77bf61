package inbox

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/validate"
)

// APIDeps are what the intake API routes need.
type APIDeps struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Handler, when set, forgets its cached copy of a source changed
	// through the API, so the change applies at once in this process.
	Handler *Handler
	// MaxBodyBytes caps request bodies (http.max_body_bytes). Defaults to 1 MiB.
	MaxBodyBytes int64
	// Logger receives errors. Defaults to slog.Default().
	Logger *slog.Logger
	// AllowedNetworks are delivery.allowed_networks: a forward_to whose
	// host the address guard blocks otherwise is refused (400).
	AllowedNetworks []netip.Prefix
}

// APIRoutes registers the intake routes on mux. Mount them behind the
// API's bearer auth (api.Options.Extra). Secrets are shown only by
// creation and by GET /v1/sources/{name}?show_secrets=true.
//
//	GET    /v1/sources                      {"sources":[...]}
//	POST   /v1/sources                      CreateParams; 201 source with secrets
//	GET    /v1/sources/{name}[?show_secrets=true]
//	PATCH  /v1/sources/{name}               UpdateParams; the source (400 for config sources)
//	DELETE /v1/sources/{name}               204 (400 for config sources)
//	GET    /v1/inbox?source=&state=&before=&limit=   {"events":[...],"next":<before>}
//	GET    /v1/inbox/{id}                   the event with headers and body
//	POST   /v1/inbox/{id}/replay            the re-queued event (400 unless dead)
//	POST   /v1/inbox/replay                 ReplayParams; {"replayed":n,"dry_run":b}
//	GET    /v1/intake/stats?since=1h        {"since":...,"sources":[{source,accepted,duplicates,rejected}]}
func APIRoutes(mux *http.ServeMux, d APIDeps) {
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	a := &api{APIDeps: d, guard: netguard.New(d.AllowedNetworks)}
	mux.HandleFunc("GET /v1/sources", a.listSources)
	mux.HandleFunc("POST /v1/sources", a.createSource)
	mux.HandleFunc("GET /v1/sources/{name}", a.getSource)
	mux.HandleFunc("PATCH /v1/sources/{name}", a.updateSource)
	mux.HandleFunc("DELETE /v1/sources/{name}", a.deleteSource)
	mux.HandleFunc("GET /v1/inbox", a.listInbox)
	mux.HandleFunc("GET /v1/inbox/{id}", a.getEvent)
	mux.HandleFunc("POST /v1/inbox/{id}/replay", a.replayEvent)
	mux.HandleFunc("POST /v1/inbox/replay", a.replayMatching)
	mux.HandleFunc("GET /v1/intake/stats", a.stats)
}

type api struct {
	APIDeps
	guard *netguard.Guard
}

// sourceView is a source as the API shows it by default: secrets left out.
type sourceView struct {
	*Source
	SecretCount int `json:"secret_count"`
}

func view(s *Source, secrets bool) sourceView {
	v := sourceView{Source: s, SecretCount: len(s.Secrets)}
	if !secrets {
		c := *s
		c.Secrets, c.ForwardSecret = nil, ""
		v.Source = &c
	}
	return v
}

func (a *api) fail(w http.ResponseWriter, err error, what, id string) {
	if errors.Is(err, db.ErrNotFound) {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, what+" "+strconv.Quote(id)+" not found")
		return
	}
	httpx.WriteDomainError(w, a.Logger, err)
}

func (a *api) listSources(w http.ResponseWriter, r *http.Request) {
	ss, err := ListSources(r.Context(), a.Pool)
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	out := make([]sourceView, len(ss))
	for i, s := range ss {
		out[i] = view(s, false)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"sources": out})
}

func (a *api) createSource(w http.ResponseWriter, r *http.Request) {
	var p CreateParams
	if err := httpx.DecodeJSON(w, r, a.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	p.Guard = a.guard
	s, err := CreateSource(r.Context(), a.Pool, p)
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	a.invalidate(s.Name)
	w.Header().Set("Location", "/v1/sources/"+s.Name)
	httpx.WriteJSON(w, http.StatusCreated, view(s, true))
}

func (a *api) getSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	show := false
	if raw := r.URL.Query().Get("show_secrets"); raw != "" {
		var err error
		if show, err = strconv.ParseBool(raw); err != nil {
			httpx.WriteDomainError(w, a.Logger, validate.Errorf("show_secrets", "%q is not true or false", raw))
			return
		}
	}
	s, err := GetSource(r.Context(), a.Pool, name)
	if err != nil {
		a.fail(w, err, "source", name)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, view(s, show))
}

func (a *api) updateSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var p UpdateParams
	if err := httpx.DecodeJSON(w, r, a.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	if p.Scheme == nil && p.Secrets == nil && p.Tolerance == nil && p.ForwardTo == nil && p.ForwardSecret == nil {
		// Nothing to change (null is left as it is): the source as it is,
		// not rewritten.
		s, err := GetSource(r.Context(), a.Pool, name)
		if err != nil {
			a.fail(w, err, "source", name)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, view(s, false))
		return
	}
	p.Guard = a.guard
	s, err := UpdateSource(r.Context(), a.Pool, name, p)
	if err != nil {
		a.fail(w, err, "source", name)
		return
	}
	a.invalidate(name)
	httpx.WriteJSON(w, http.StatusOK, view(s, false))
}

func (a *api) deleteSource(w http.ResponseWriter, r *http.Request) {
	if !httpx.NoFields(w, r, a.MaxBodyBytes, a.Logger) {
		return
	}
	name := r.PathValue("name")
	if err := DeleteSource(r.Context(), a.Pool, name); err != nil {
		a.fail(w, err, "source", name)
		return
	}
	a.invalidate(name)
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) invalidate(name string) {
	if a.Handler != nil {
		a.Handler.Invalidate(name)
	}
}

func (a *api) listInbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := ListParams{Source: q.Get("source"), State: State(q.Get("state"))}
	var err error
	if p.Before, err = intParam(q.Get("before"), "before"); err == nil {
		var limit int64
		limit, err = intParam(q.Get("limit"), "limit")
		p.Limit = int(limit)
	}
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	page, err := List(r.Context(), a.Pool, p)
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

func intParam(s, name string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, validate.Errorf(name, "%q is not a non-negative whole number", s)
	}
	return n, nil
}

func (a *api) pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := httpx.PathID(r, "id")
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "inbox event "+strconv.Quote(r.PathValue("id"))+" not found (ids are positive numbers)")
	}
	return id, ok
}

func (a *api) getEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	ev, err := Get(r.Context(), a.Pool, id)
	if err != nil {
		a.fail(w, err, "inbox event", r.PathValue("id"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ev)
}

func (a *api) replayEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok || !httpx.NoFields(w, r, a.MaxBodyBytes, a.Logger) {
		return
	}
	ev, err := Replay(r.Context(), a.Pool, id)
	if err != nil {
		a.fail(w, err, "inbox event", r.PathValue("id"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ev)
}

func (a *api) replayMatching(w http.ResponseWriter, r *http.Request) {
	var p ReplayParams
	if err := httpx.DecodeOptional(w, r, a.MaxBodyBytes, &p); err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	n, err := ReplayMatching(r.Context(), a.Pool, p)
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"replayed": n, "dry_run": p.DryRun})
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	window := time.Hour
	if s := r.URL.Query().Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			httpx.WriteDomainError(w, a.Logger, validate.Errorf("since", "%q is not a positive duration (examples: 15m, 24h)", s))
			return
		}
		window = d
	}
	since := time.Now().Add(-window).UTC()
	st, err := Stats(r.Context(), a.Pool, since)
	if err != nil {
		httpx.WriteDomainError(w, a.Logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"since": since, "sources": st})
}
