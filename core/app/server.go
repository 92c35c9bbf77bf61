package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/core/alert"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/maintenance"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/notify"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
)

// service is a background loop: dispatcher, fan-out, maintenance...
type service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// namedService keeps a name for logs next to each service.
type namedService struct {
	name string
	svc  service
	// untilStop: it runs on after ctx ends, until Stop reaches it. The
	// listening connection does, as the dispatcher's liveness lock lives
	// on it: dropped while the dispatcher still finishes its requests,
	// other processes would take them again.
	untilStop bool
}

// Server is everything `hookd serve` runs on one database: the HTTP API
// (and intake) and the engine's services. Build it with [NewServer], run it
// with Start and Stop (or Run). The Database stays the caller's: close it
// after Stop.
type Server struct {
	cfg    *config.Config
	db     *Database
	logger *slog.Logger

	// Metrics is this process's registry, served at /metrics.
	Metrics *metrics.Metrics
	// Publisher publishes events through the outbox.
	Publisher *outbox.Publisher
	// Fanout repairs events whose fan-out was interrupted.
	Fanout *outbox.Fanout
	// Notifier is the process's one LISTEN connection; the dispatcher
	// subscribes to it, and so can an inbox consumer run in the process.
	Notifier *notify.Notifier
	// Dispatcher claims due deliveries and sends them.
	Dispatcher *dispatch.Dispatcher
	// Alerter records and sends operational alerts (alerts.*).
	Alerter *alert.Alerter
	// Maintenance runs the leader-elected periodic jobs.
	Maintenance *maintenance.Service
	// Intake verifies and stores inbound webhooks at /in/{source}.
	Intake *inbox.Handler
	// Handler serves http.listen: the API, /healthz, /readyz, /metrics,
	// and /in/ unless intake.listen is set.
	Handler http.Handler
	// IntakeHandler serves intake.listen when it is set (nil otherwise).
	IntakeHandler http.Handler

	// Services in start order: consumers of work first, producers last,
	// so that Stop (in reverse) stops producers before consumers.
	services []namedService

	mu        sync.Mutex
	started   bool
	stopped   bool
	cancel    context.CancelFunc
	http      []*httpServer
	serveErrs chan error
}

// httpServer is one listener and its server.
type httpServer struct {
	name string
	addr string
	srv  *http.Server
	ln   *cappedListener
}

// NewServer builds every service of `hookd serve` on d. Nothing runs
// until Start.
func NewServer(cfg *config.Config, d *Database, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, db: d, logger: logger}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	// Secrets stored before encryption at rest, or under a key since
	// rotated out, are sealed under the current key before anything runs.
	if _, _, err := ResealSecrets(ctx, d.Pool, logger); err != nil {
		return nil, err
	}
	s.Metrics = metrics.New()
	s.Metrics.WatchDatabase(d.Pool, logger)
	s.Publisher = outbox.NewPublisher(d.Pool, outbox.Options{MaxPayloadBytes: cfg.Delivery.MaxPayloadBytes,
		PartitionSpan: partition.SpanFor(cfg.Retention.Period)})
	s.Fanout = outbox.NewFanout(d.Pool, logger, cfg.Delivery.PollInterval)

	if err := s.wireEngine(); err != nil {
		return nil, err
	}
	// Producers of work start last and stop first.
	s.services = append(s.services, namedService{name: "fanout", svc: s.Fanout})
	intake, err := s.wireIntake()
	if err != nil {
		return nil, err
	}
	s.Handler = s.wireAPI(intake)
	if cfg.Intake.Listen != "" {
		s.IntakeHandler = intake
	}
	return s, nil
}

// Start binds the listeners (failing at once when an address is taken),
// starts the services, then serves HTTP. ctx bounds the services' lives;
// Stop ends them in order.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("app: server already started")
	}
	s.started = true
	if err := s.listen(); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	for i, ns := range s.services {
		svcCtx := ctx
		if ns.untilStop {
			svcCtx = context.WithoutCancel(ctx)
		}
		if err := ns.svc.Start(svcCtx); err != nil {
			for j := i - 1; j >= 0; j-- {
				s.stopService(s.services[j])
			}
			s.closeListeners()
			s.cancel()
			s.cancel = nil
			return fmt.Errorf("start %s: %w", ns.name, err)
		}
	}
	s.serveErrs = make(chan error, len(s.http))
	for _, h := range s.http {
		s.logger.Info("listening", slog.String("server", h.name), slog.String("addr", h.ln.Addr().String()))
		go func() {
			if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.serveErrs <- fmt.Errorf("%s server: %w", h.name, err)
			}
		}()
	}
	return nil
}

func (s *Server) listen() error {
	h := s.cfg.HTTP
	add := func(name, addr string, handler http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
		}
		// Time limits so that slow or idle clients cannot hold connections
		// (a body trickled byte by byte, an idle keep-alive), and a cap on
		// the connections open at once.
		srv := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: cmp.Or(h.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
			ReadTimeout:       cmp.Or(h.ReadTimeout, config.DefaultReadTimeout),
			WriteTimeout:      cmp.Or(h.WriteTimeout, config.DefaultWriteTimeout),
			IdleTimeout:       cmp.Or(h.IdleTimeout, config.DefaultIdleTimeout),
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		}
		capped := capListener(ln, cmp.Or(h.MaxConnections, config.DefaultMaxConnections))
		s.http = append(s.http, &httpServer{name: name, addr: addr, srv: srv, ln: capped})
		return nil
	}
	if err := add("http.listen", s.cfg.HTTP.Listen, s.Handler); err != nil {
		return err
	}
	if s.IntakeHandler != nil {
		return add("intake.listen", s.cfg.Intake.Listen, s.IntakeHandler)
	}
	return nil
}

// PeakConnections returns the most connections that were open at once on
// the listener of key name ("http.listen" or "intake.listen"), at most
// http.max_connections; 0 for a listener that is not serving.
func (s *Server) PeakConnections(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.http {
		if h.name == name {
			return int(h.ln.peak.Load())
		}
	}
	return 0
}

func (s *Server) closeListeners() {
	for _, h := range s.http {
		_ = h.ln.Close()
	}
	s.http = nil
}

// Addr returns the address http.listen is bound to (useful with port 0),
// or "" before Start.
func (s *Server) Addr() string { return s.addr("http.listen") }

// IntakeAddr returns the address intake.listen is bound to, or "" when
// intake is served on http.listen.
func (s *Server) IntakeAddr() string { return s.addr("intake.listen") }

func (s *Server) addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.http {
		if h.name == name {
			return h.ln.Addr().String()
		}
	}
	return ""
}

// Stop shuts down in order: HTTP (API and intake, gracefully within
// http.shutdown_timeout), then the producers of work, then the consumers
// (the dispatcher releases what it did not finish), then maintenance.
// Safe to call twice and before Start.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil || s.stopped { // never started, or Start failed and cleaned up
		s.stopped = true
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	for _, h := range s.http {
		if err := h.srv.Shutdown(ctx); err != nil {
			s.logger.Warn("HTTP shutdown incomplete; closing", slog.String("server", h.name), slog.String("error", err.Error()))
			_ = h.srv.Close()
		}
	}
	for i := len(s.services) - 1; i >= 0; i-- {
		s.stopService(s.services[i])
	}
	s.cancel()
}

// stopService stops one service, giving it its shutdown timeout and a
// little more; one that does not stop in time is left to finish on its
// own (what it did not record is retried once its leases expire).
func (s *Server) stopService(ns namedService) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.Delivery.ShutdownTimeout+10*time.Second)
	defer cancel()
	if err := ns.svc.Stop(ctx); err != nil {
		s.logger.Warn("a service did not stop in time", slog.String("service", ns.name), slog.String("error", err.Error()))
		return
	}
	s.logger.Debug("stopped", slog.String("service", ns.name))
}

// Run starts the server, then Waits.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	return s.Wait(ctx)
}

// Wait blocks until ctx ends (SIGTERM in `hookd serve`) or an HTTP server
// fails, then stops the server. It returns nil after a shutdown asked for
// by ctx. Call it after Start.
func (s *Server) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
		s.logger.Info("shutting down")
	case err = <-s.serveErrs:
		s.logger.Error("HTTP server failed; shutting down", slog.String("error", err.Error()))
	}
	s.Stop()
	return err
}
