// Package maintenance runs hookd's periodic jobs on exactly one process
// among those sharing a database.
//
// # Leader election
//
// Each process holds a dedicated connection (outside the pool) and tries
// pg_try_advisory_lock on it every Interval. The process holding the lock is
// the leader and runs the jobs; the others keep trying. When the leader's
// connection drops, PostgreSQL releases the lock with it, so another process
// (or the same one, reconnected) takes over at its next try.
//
// # Jobs
//
//   - auto-disable: enabled webhook endpoints failing with no success for
//     delivery.disable_after are disabled with a reason naming the duration
//     and the key, counted in hookd_endpoints_disabled_total{reason="unhealthy"}
//     and alerted;
//   - recovery: endpoints alerted about that are enabled (again) and
//     delivering get a hookd.endpoint.recovered alert;
//   - retention: history older than retention.period leaves by partition
//     drop, unfinished work carried forward (see core/retention), and the
//     partitions ahead of now are made;
//   - lanes: endpoints with due work but no lane get one (delivery.Sweep,
//     the safety net behind the claim's lanes).
package maintenance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/alert"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/core/service"
)

// Defaults.
const (
	DefaultInterval = 30 * time.Second
	// LockKey is the advisory lock the leader holds (in its database).
	LockKey int64 = 0x686f6f6b64_6d74 // "hookd" "mt"
)

// Options configure the Service.
type Options struct {
	// DisableAfter is delivery.disable_after: endpoints failing with no
	// success for this long are disabled. 0 never disables.
	DisableAfter time.Duration
	// Interval between election tries and job runs. Defaults to 30s.
	Interval time.Duration
	// Retention is how history is kept (retention.*).
	Retention retention.Options
	// Alerter, when set, is told about disabled and recovered endpoints.
	Alerter *alert.Alerter
	// Metrics, when set, counts disabled endpoints.
	Metrics *metrics.Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service elects a leader and runs the jobs on it.
type Service struct {
	pool   *pgxpool.Pool
	opts   Options
	logger *slog.Logger

	runner service.Runner
	conn   *pgx.Conn // the election connection, owned by the loop

	mu     sync.Mutex // guards leader
	leader bool
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, opts Options) *Service {
	opts.Interval = cmp.Or(opts.Interval, DefaultInterval)
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	return &Service{pool: pool, opts: opts, logger: opts.Logger.With(slog.String("service", "maintenance"))}
}

// Start begins electing and, once leader, running the jobs every Interval.
// The loop outlives ctx until Stop. Calling Start on a started Service is
// an error; a stopped one can be started again.
func (s *Service) Start(ctx context.Context) error {
	if s.opts.DisableAfter < 0 {
		return fmt.Errorf("maintenance: delivery.disable_after %s must not be negative (0 never disables)", s.opts.DisableAfter)
	}
	return s.runner.Start(context.WithoutCancel(ctx), "maintenance", s.loop)
}

// Stop ends the loop and gives up leadership, waiting up to ctx. Safe to
// call twice, and before Start.
func (s *Service) Stop(ctx context.Context) error { return s.runner.StopContext(ctx) }

// IsLeader reports whether this process currently holds the lock.
func (s *Service) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func (s *Service) loop(ctx context.Context) {
	defer s.resign()
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		if s.elect(ctx) {
			if err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("maintenance: jobs failed", slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// elect (re)connects and tries the lock; it reports whether this process
// leads. A leader checks its connection is still there, since losing it
// loses the lock.
func (s *Service) elect(ctx context.Context) bool {
	if s.conn != nil && s.IsLeader() {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.conn.Ping(pctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() == nil {
			s.logger.Warn("maintenance: lost the leader connection; electing again", slog.String("error", err.Error()))
		}
		s.dropConn()
	}
	if s.conn == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig.Copy())
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("maintenance: connect for election", slog.String("error", err.Error()))
			}
			return false
		}
		s.conn = conn
	}
	var got bool
	if err := s.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, LockKey).Scan(&got); err != nil {
		s.dropConn()
		return false
	}
	if got {
		s.logger.Info("maintenance: this process is the leader")
		s.setLeader(true)
	}
	return got
}

func (s *Service) setLeader(v bool) {
	s.mu.Lock()
	s.leader = v
	s.mu.Unlock()
}

func (s *Service) dropConn() {
	s.setLeader(false)
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.conn.Close(ctx)
		cancel()
		s.conn = nil
	}
}

// resign releases the lock (closing the session does) so another process
// takes over at its next try.
func (s *Service) resign() { s.dropConn() }

// RunOnce runs every job once, whether or not this process leads; the
// loop calls it on the leader only.
func (s *Service) RunOnce(ctx context.Context) error {
	var errs []error
	if err := s.disableUnhealthy(ctx); err != nil {
		errs = append(errs, fmt.Errorf("auto-disable: %w", err))
	}
	if s.opts.Alerter != nil {
		if _, err := s.opts.Alerter.CheckRecovered(ctx); err != nil {
			errs = append(errs, fmt.Errorf("recovery: %w", err))
		}
	}
	if _, err := retention.Run(ctx, s.pool, s.opts.Retention, time.Now()); err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	if n, err := delivery.Sweep(ctx, s.pool); err != nil {
		errs = append(errs, fmt.Errorf("lanes: %w", err))
	} else if n > 0 {
		s.logger.Info("maintenance: gave lanes to endpoints with due work that had none", slog.Int("lanes", n))
	}
	return errors.Join(errs...)
}

// disableUnhealthy applies delivery.disable_after.
func (s *Service) disableUnhealthy(ctx context.Context) error {
	if s.opts.DisableAfter <= 0 {
		return nil
	}
	ids, err := delivery.Unhealthy(ctx, s.pool, s.opts.DisableAfter)
	if err != nil {
		return err
	}
	reason := UnhealthyReason(s.opts.DisableAfter)
	for _, id := range ids {
		changed, err := endpoint.DisableIfEnabled(ctx, s.pool, id, reason)
		if err != nil {
			return err
		}
		if !changed {
			continue // someone else (an operator, a 410) got there first
		}
		s.logger.Warn("maintenance: endpoint disabled", slog.String("endpoint_id", id), slog.String("reason", reason))
		if s.opts.Metrics != nil {
			s.opts.Metrics.EndpointsDisabled.WithLabelValues("unhealthy").Inc()
		}
		if s.opts.Alerter != nil {
			if err := s.opts.Alerter.RecordDisabled(ctx, id, reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnhealthyReason is the disabled reason of the health rule.
func UnhealthyReason(after time.Duration) string {
	return fmt.Sprintf("failing with no successful delivery for %s (delivery.disable_after)", human(after))
}

// human writes whole days as days, anything else as a Go duration.
func human(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d > day && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
