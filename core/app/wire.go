package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/core/alert"
	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/maintenance"
	"github.com/hookd/hookd/core/notify"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/retention"
)

// syncTimeout bounds the work NewServer does on the database (syncing
// configured sources).
const syncTimeout = 30 * time.Second

// wireEngine builds the engine's consumers of work and appends them to
// s.services in start order: the shared LISTEN connection, the alerter
// (it owns the alert endpoint and sends what the others record),
// maintenance (leader-elected periodic jobs), then the dispatcher. Stop
// runs in reverse, so the dispatcher releases its unfinished work before
// maintenance and alerts stop, and the listener stops last.
func (s *Server) wireEngine() error {
	alerter, err := alert.New(s.db.Pool, s.Publisher, alert.Options{
		Config:  s.cfg.Alerts,
		Logger:  s.logger,
		Metrics: s.Metrics,
	})
	if err != nil {
		return err
	}
	s.Alerter = alerter
	s.Maintenance = maintenance.New(s.db.Pool, maintenance.Options{
		DisableAfter: s.cfg.Delivery.DisableAfter,
		Retention: retention.Options{Period: s.cfg.Retention.Period, AttemptBodies: s.cfg.Retention.AttemptBodies,
			Logger: s.logger},
		Alerter: alerter,
		Metrics: s.Metrics,
		Logger:  s.logger,
	})
	s.Notifier = notify.New(s.db.Pool, s.logger)
	s.Dispatcher = dispatch.New(s.db.Pool, dispatch.Options{
		Delivery:           s.cfg.Delivery,
		Notifier:           s.Notifier,
		Logger:             s.logger,
		Metrics:            s.Metrics,
		Version:            Version(),
		OnOutcome:          alerter.OnOutcome,
		OnOutcomeTx:        alerter.OnOutcomeTx,
		OnEndpointDisabled: alerter.OnEndpointDisabled,
		PartitionSpan:      partition.SpanFor(s.cfg.Retention.Period),
	})
	s.services = append(s.services,
		namedService{name: "notify", svc: s.Notifier, untilStop: true},
		namedService{name: "alert", svc: alerter},
		namedService{name: "maintenance", svc: s.Maintenance},
		namedService{name: "dispatch", svc: s.Dispatcher},
	)
	return nil
}

// wireIntake syncs intake.sources into the database and builds the
// /in/{source} handler. Sources added through the API or the CLI are
// served too, so the handler always exists.
func (s *Server) wireIntake() (http.Handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	if err := inbox.SyncConfig(ctx, s.db.Pool, s.cfg.Intake.Sources); err != nil {
		return nil, fmt.Errorf("intake.sources: %w", err)
	}
	s.Intake = inbox.NewHandler(s.db.Pool, inbox.HandlerOptions{
		MaxBodyBytes:   s.cfg.Intake.MaxBodyBytes,
		Publisher:      s.Publisher,
		Logger:         s.logger,
		Metrics:        s.Metrics,
		TrustedProxies: s.cfg.HTTP.TrustedProxies,
	})
	// Stopped right after HTTP: it writes the last rejection counts.
	s.services = append(s.services, namedService{name: "intake", svc: s.Intake})
	mux := http.NewServeMux()
	mux.Handle("POST /in/{source}", s.Intake)
	return httpx.JSONFallback(mux), nil
}

// wireAPI builds the handler of http.listen: the /v1 API with the intake
// management routes, /healthz, /readyz, /metrics, and /in/ unless it has
// a listener of its own.
func (s *Server) wireAPI(intake http.Handler) http.Handler {
	opts := api.Options{
		Pool:            s.db.Pool,
		Publisher:       s.Publisher,
		APIKeys:         s.cfg.API.Keys,
		MaxBodyBytes:    s.cfg.HTTP.MaxBodyBytes,
		SecretOverlap:   s.cfg.Delivery.SecretOverlap,
		Metrics:         s.Metrics,
		Logger:          s.logger,
		Version:         Version(),
		TrustedProxies:  s.cfg.HTTP.TrustedProxies,
		AllowedNetworks: s.cfg.Delivery.AllowedNetworks,
		Extra: func(mux *http.ServeMux) {
			inbox.APIRoutes(mux, inbox.APIDeps{Pool: s.db.Pool, Handler: s.Intake,
				MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes, Logger: s.logger, AllowedNetworks: s.cfg.Delivery.AllowedNetworks})
		},
	}
	if s.cfg.Intake.Listen == "" {
		opts.Intake = intake
	}
	return api.New(opts)
}
