package bench

import (
	"context"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/tenant"
)

// bench holds what the phases share.
type bench struct {
	opts       Options
	admin      *pgxpool.Pool // measuring and setting up; never the engine's
	rcv        *receiver
	sends      *sendLog // what the phase's dispatcher sent, and when
	secret     string
	payload    []byte
	postmaster int    // the server's pid when it runs on this machine, else 0
	statsOK    bool   // pg_stat_statements is usable
	tenanted   bool   // events and live endpoints carry tenants
	profileOut []byte // the first burn-down's CPU profile, for Options.CPUProfile
	partitions int    // of the events table, after the last reset
}

// phaseApp is the application_name of the phases' connections.
const phaseApp = "hookd-bench"

// phasePool opens the pool one phase's engine and publishers share; the
// phase's meter closes it, so that its backends report their counters.
// Its commits are durable whatever the server's default.
func (b *bench) phasePool(ctx context.Context) (*pgxpool.Pool, error) {
	return openPool(ctx, b.opts.DatabaseURL, b.opts.MaxConns, phaseApp, map[string]string{"synchronous_commit": "on"})
}

// openAdmin opens the measuring pool.
func openAdmin(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return openPool(ctx, url, 4, adminApp, nil)
}

func openPool(ctx context.Context, url string, maxConns int32, app string, params map[string]string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bench: database URL: %w", err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	maps.Copy(cfg.ConnConfig.RuntimeParams, params)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("bench: connect: %w", err)
	}
	return pool, nil
}

// inParallel runs fn(ctx, w) for w in [0, conc) in goroutines labelled as
// the bench's load and returns the first error.
func inParallel(ctx context.Context, conc int, fn func(ctx context.Context, w int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	withPart(ctx, partLoad, func(ctx context.Context) {
		for w := range conc {
			wg.Go(func() {
				if err := fn(ctx, w); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
	return first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// reset gives the bench a fresh schema (its database is its own), with a
// checkpoint so that every phase starts from the same state of full-page
// writes, and forgets the receiver's receipts.
func (b *bench) reset(ctx context.Context) error {
	if _, err := b.admin.Exec(ctx, `DROP SCHEMA IF EXISTS hookd CASCADE`); err != nil {
		return err
	}
	if err := db.MigratePool(ctx, b.admin); err != nil {
		return err
	}
	span := partition.SpanFor(config.DefaultRetentionPeriod)
	if _, err := partition.Ensure(ctx, b.admin, span, time.Now()); err != nil {
		return err
	}
	if b.opts.History > 0 {
		if _, err := partition.Backfill(ctx, b.admin, span, time.Now().Add(-b.opts.History)); err != nil {
			return err
		}
	}
	if err := b.admin.QueryRow(ctx, `SELECT count(*) FROM hookd.partitions WHERE parent = 'events'`).Scan(&b.partitions); err != nil {
		return err
	}
	_, _ = b.admin.Exec(ctx, `CHECKPOINT`) // needs superuser; the figures are only less even without it
	b.forget()
	return nil
}

// tenantID names the i-th tenant; live endpoint i belongs to tenant i.
func tenantID(i int) string { return fmt.Sprintf("t%05d", i) }

// liveType is the event type live endpoint i subscribes to.
func liveType(i int) string { return fmt.Sprintf("bench.e%d", i) }

// liveEvent is the i-th event of a phase, for live endpoint i % live.
func (b *bench) liveEvent(i, live int) outbox.Event {
	ev := outbox.Event{Type: liveType(i % live), Data: b.payload}
	if b.tenanted {
		ev.Tenant = tenantID(i % live)
	}
	return ev
}

// addLive creates n live endpoints on the receiver (at url), endpoint i
// subscribed to liveType(i), in tenant i when the run is tenanted; the
// tenants are made when missing.
func (b *bench) addLive(ctx context.Context, n int, url string, maxInFlight int) ([]string, error) {
	out := make([]string, n)
	for i := range n {
		p := endpoint.CreateParams{URL: fmt.Sprintf("%s?endpoint=%d", url, i), Secret: b.secret,
			EventTypes: []string{liveType(i)}, MaxInFlight: maxInFlight}
		if b.tenanted {
			p.Tenant = tenantID(i)
			if _, _, err := tenant.Put(ctx, b.admin, p.Tenant, tenant.PutParams{}); err != nil {
				return nil, err
			}
		}
		e, err := endpoint.Create(ctx, b.admin, p)
		if err != nil {
			return nil, err
		}
		out[i] = e.ID
	}
	return out, nil
}

// addQuiet creates n quiet endpoints across tenants (none when tenants is
// 0), pointing at a closed loopback port and subscribed to types no event
// of the bench has, with endpoint.Create from several connections at once
// in transactions of createBatch. It returns a description of the method.
func (b *bench) addQuiet(ctx context.Context, n, tenants int) (string, error) {
	const workers, createBatch = 8, 500
	url, err := closedURL()
	if err != nil {
		return "", err
	}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := inBatches(ctx, pool, tenants, workers, 1000, func(tx pgx.Tx, i int) error {
		_, _, err := tenant.Put(ctx, tx, tenantID(i), tenant.PutParams{})
		return err
	}); err != nil {
		return "", fmt.Errorf("bench: make the tenants: %w", err)
	}
	if err := inBatches(ctx, pool, n, workers, createBatch, func(tx pgx.Tx, i int) error {
		p := endpoint.CreateParams{URL: fmt.Sprintf("%s/%d", url, i), Secret: b.secret,
			EventTypes: []string{fmt.Sprintf("quiet.e%d", i%100)}}
		if tenants > 0 {
			p.Tenant = tenantID(i % tenants)
		}
		_, err := endpoint.Create(ctx, tx, p)
		return err
	}); err != nil {
		return "", fmt.Errorf("bench: make the quiet endpoints: %w", err)
	}
	return fmt.Sprintf("tenant.Put and endpoint.Create, %d connections at once, "+
		"%d per transaction; quiet URLs on closed port %s", workers, createBatch, url), nil
}

// inBatches calls fn for i in [0, n), in transactions of batch calls
// spread over workers connections.
func inBatches(ctx context.Context, pool *pgxpool.Pool, n, workers, batch int, fn func(tx pgx.Tx, i int) error) error {
	starts := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for from := range starts {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					for i := from; i < min(from+batch, n); i++ {
						if err := fn(tx, i); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var first error
feed:
	for from := 0; from < n; from += batch {
		select {
		case starts <- from:
		case first = <-errs:
			break feed
		}
	}
	close(starts)
	wg.Wait()
	if first == nil {
		select {
		case first = <-errs:
		default:
		}
	}
	return first
}

// closedURL returns a loopback URL on a port nothing listens on.
func closedURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/quiet", nil
}

// dispatcher returns a dispatcher on pool, with every live endpoint
// allowed all the workers (unless its own max_in_flight says less).
func (b *bench) dispatcher(pool *pgxpool.Pool) *dispatch.Dispatcher {
	d := allowLoopback(b.opts.Delivery)
	d.Workers = b.opts.Workers
	d.MaxInFlightPerEndpoint = b.opts.Workers
	return dispatch.New(pool, dispatch.Options{Delivery: d, Logger: b.opts.Logger, Version: "bench", OnOutcome: b.sends.record})
}

// startDispatcher starts d with hookd's goroutine label.
func startDispatcher(ctx context.Context, d *dispatch.Dispatcher) error {
	var err error
	withPart(ctx, partHookd, func(ctx context.Context) { err = d.Start(ctx) })
	return err
}

// stopDispatcher stops d and waits (at most a minute) until it recorded
// every result, so that what a phase measures includes them.
func stopDispatcher(d *dispatch.Dispatcher) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = d.Stop(ctx)
}

// await polls cond until it holds, ctx ends or the phase times out.
func (b *bench) await(ctx context.Context, cond func() bool) error {
	deadline := time.Now().Add(b.opts.PhaseTimeout)
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", b.opts.PhaseTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// succeeded counts the deliveries recorded succeeded.
func (b *bench) succeeded(ctx context.Context) int {
	var n int
	_ = b.admin.QueryRow(ctx, adminMark+`SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`).Scan(&n)
	return n
}
