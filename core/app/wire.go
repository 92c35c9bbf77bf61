package app

import (
	"context"
	"net/http"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/httpx"
)

// wireEngine adds the engine's consumers of work to s.services, in start
// order: maintenance (leader-elected periodic jobs), then the dispatcher.
func (s *Server) wireEngine() error {
	return nil
}

// wireIntake builds the /in/{source} handler after syncing the sources of
// intake.sources into the database. It returns nil when there is no
// intake to serve.
func (s *Server) wireIntake() (http.Handler, error) {
	return nil, nil
}

// wireAPI builds the handler of http.listen.
func (s *Server) wireAPI() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	return mux, nil
}

// readyz answers 200 when the database answers and its schema is current.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	current, err := db.SchemaCurrent(ctx, s.db.Pool)
	switch {
	case err != nil:
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable, "database unavailable: "+err.Error())
	case !current:
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeUnavailable, "database schema is not current: run `hookd migrate`")
	default:
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}
