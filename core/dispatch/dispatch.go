// Package dispatch turns due deliveries into signed HTTP POSTs: it claims
// them under a lease, sends them through one shared keep-alive client,
// decides what each outcome means and records the results in batches.
//
// # Loop
//
// One engine goroutine per Dispatcher runs cycles. A cycle is one
// transaction that records the results that came in since the last one
// (delivery.CompleteTx) and claims as much new work as there are free
// workers (delivery.ClaimTx): results and claims share a commit, and a slot
// freed by a result is claimed again in the same round trip. Two cycles
// run at once, so that one records and claims while the other waits for
// the database; results pile up meanwhile, so batches grow with the load.
// Under light load a cycle that only results call for waits up to 2 ms for
// more of them; new work, and results a lane waits for, start one at once.
// A cycle's claimed requests go out as soon as its transaction commits.
//
// A cycle's transaction plans its statements generically and by key only
// (see delivery.InCycle): the queue is small and churns, and a plan made
// while it looked small would read it whole on every cycle.
//
// Claims take due work endpoint by endpoint, round-robin, within each
// endpoint's max_in_flight, rate_limit, breaker and fifo ordering, which
// hold across every process on the database (see core/delivery); within a
// process, requests to a rate-limited endpoint also leave an interval
// apart (its pace), while across processes a claim that commits or wakes
// late sends its booked slots late, so an endpoint may briefly see more
// than its rate_limit in a second. The engine is woken by LISTEN on
// delivery.WorkChannel (sent only when an idle endpoint gets work), by a
// timer at the next retry or rate slot, and by polling every PollInterval
// as a safety net. Each claimed delivery runs in its own goroutine, at
// most Workers at once.
//
// When the database is unavailable a cycle is retried with backoff and
// every result is kept. A lease reaper in every process returns deliveries
// whose worker died to the queue, and every process vacuums the queue as
// its dead rows pile up, faster than autovacuum would (see
// delivery.VacuumQueue).
//
// # Retry schedule
//
// RetrySchedule[0] is the delay before the first attempt (normally 0,
// "immediately"), so the attempt budget is len(RetrySchedule). After attempt k
// (1-based) fails: if k < len(RetrySchedule) the next attempt waits RetrySchedule[k]
// (±Jitter), otherwise the delivery is dead. 429 and 503 responses with
// Retry-After (seconds or an HTTP date) wait that long instead, capped by
// the schedule's largest step; the budget still applies. A fifo endpoint's
// failed delivery stays at the head of its line while it waits.
//
// # Timeouts
//
// An attempt waits for the endpoint's timeout, or Timeout when it has
// none, but never past nine tenths of its lease, so no other process
// retries a delivery whose attempt is still under way.
//
// # Outcomes
//
// 2xx succeeds. 3xx fails (redirects are never followed). 410 Gone disables
// the endpoint and holds the delivery until the endpoint is enabled again.
// Anything else, timeouts and connection, DNS, TLS and address-guard errors
// retry on the schedule.
//
// # Shutdown
//
// Stop stops claiming first, lets in-flight requests finish for up to
// ShutdownTimeout, then cancels the rest and releases their deliveries
// (uncounted) so another process takes them at once, and finally records
// every result.
package dispatch

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/notify"
)

// Tuning that is not configuration.
const (
	// completeBatch is the most results recorded in one cycle.
	completeBatch = 500
	// reapLimit bounds one reaper statement.
	reapLimit = 1000
	// maxReapInterval caps the default reaper period: it is also how soon
	// the work of a process killed outright is returned (see
	// delivery.RegisterWorker). A round reads what is in flight, no more
	// than the workers' leases.
	maxReapInterval = 5 * time.Second
	// workerGoneAfter is how long a worker's liveness lock must have been
	// free before its work is taken back: longer than the listener's
	// reconnection backoff (at most 10 s) and a connection's setup, so a
	// listening connection that drops and comes back is not taken for a
	// dead process.
	workerGoneAfter = 20 * time.Second
	// promoteLimit bounds the retries made due in one statement.
	promoteLimit = 1000
)

// Options configure a Dispatcher. Zero fields take the defaults of
// core/config, except Jitter, where 0 means none.
type Options struct {
	// Delivery carries delivery.* configuration: RetrySchedule, Timeout,
	// AllowedNetworks, Workers, MaxInFlightPerEndpoint, ClaimBatch, Lease
	// (0 means Timeout*2+30s), PollInterval, MaxResponseBodyBytes, Jitter
	// and ShutdownTimeout. Other fields are ignored.
	Delivery config.Delivery

	// Logger receives the service's logs, tagged service=dispatch.
	// Defaults to discarding them.
	Logger *slog.Logger
	// Metrics receives Attempts, AttemptDuration, DeadLetters and
	// EndpointsDisabled. Defaults to a private set.
	Metrics *metrics.Metrics
	// Worker names this dispatcher on leases and attempts. Defaults to
	// host:pid:random.
	Worker string
	// Version goes into the User-Agent, hookd/<Version>. Defaults to "dev".
	Version string
	// ReapInterval is the lease reaper's period. Defaults to Lease/4, at
	// most 5s.
	ReapInterval time.Duration

	// OnOutcome, when set, is called after each batch of results was
	// recorded, with the results that changed their delivery (see
	// delivery.Complete), and after each reaper pass with the deliveries
	// it killed (as Results with Next dead, ErrorClass interrupted and no
	// response). Dead letters have Next == delivery.StateDead; a 410 has
	// Next == delivery.StateHeld and ResponseStatus 410. It is called from
	// the completer and the reaper goroutines, possibly at once, and must
	// return promptly: recording waits for it.
	OnOutcome func(ctx context.Context, applied []delivery.Result)
	// OnOutcomeTx, when set, is called with the same results as OnOutcome
	// but inside the transaction that records them (or that reaps the
	// leases), so that what it writes commits or rolls back with them: a
	// crash between recording a dead letter and noting it for alerting
	// cannot lose the alert. An error fails the whole recording, which is
	// then retried like any other failure to record.
	OnOutcomeTx func(ctx context.Context, tx db.Executor, applied []delivery.Result) error
	// OnEndpointDisabled, when set, is called once for each endpoint this
	// dispatcher disabled because it answered 410 Gone (not when another
	// process or an operator had disabled it already), before the result
	// is recorded.
	OnEndpointDisabled func(ctx context.Context, endpointID, reason string)
	// Now is the clock; tests may replace it. Defaults to time.Now.
	Now func() time.Time
	// Notifier delivers the wake-ups of delivery.WorkChannel. Defaults to
	// one of the dispatcher's own, started and stopped with it.
	Notifier *notify.Notifier
	// PartitionSpan is the span of history partitions (partition.SpanFor
	// of retention.period), for making one that is missing. Defaults to
	// one day.
	PartitionSpan time.Duration
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	d := &o.Delivery
	if len(d.RetrySchedule) == 0 {
		d.RetrySchedule = config.DefaultRetrySchedule()
	}
	d.RetrySchedule = slices.Clone(d.RetrySchedule)
	d.Timeout = cmp.Or(d.Timeout, config.DefaultDeliveryTimeout)
	d.Workers = cmp.Or(d.Workers, config.DefaultWorkers)
	d.MaxInFlightPerEndpoint = cmp.Or(d.MaxInFlightPerEndpoint, config.DefaultMaxInFlightPerEndpoint)
	d.ClaimBatch = cmp.Or(d.ClaimBatch, config.DefaultClaimBatch)
	d.Lease = cmp.Or(d.Lease, 2*d.Timeout+30*time.Second)
	d.PollInterval = cmp.Or(d.PollInterval, config.DefaultPollInterval)
	d.MaxResponseBodyBytes = cmp.Or(d.MaxResponseBodyBytes, config.DefaultMaxResponseBodyBytes)
	d.ShutdownTimeout = cmp.Or(d.ShutdownTimeout, config.DefaultShutdownTimeout)
	d.BreakerProbeInterval = cmp.Or(d.BreakerProbeInterval, config.DefaultBreakerProbeInterval)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	o.Worker = cmp.Or(o.Worker, defaultWorker())
	o.Version = cmp.Or(o.Version, "dev")
	o.ReapInterval = cmp.Or(o.ReapInterval, min(d.Lease/4, maxReapInterval))
	if o.Now == nil {
		o.Now = time.Now
	}
	o.PartitionSpan = cmp.Or(o.PartitionSpan, 24*time.Hour)
	return o
}

// validate rejects options the loop cannot run with.
func (o Options) validate() error {
	d := o.Delivery
	for i, s := range d.RetrySchedule {
		if s < 0 {
			return fmt.Errorf("dispatch: delivery.retry_schedule[%d] is %s; delays must not be negative", i, s)
		}
	}
	switch {
	case d.Workers < 0:
		return fmt.Errorf("dispatch: delivery.workers is %d; it must be positive", d.Workers)
	case d.MaxInFlightPerEndpoint < 0:
		return fmt.Errorf("dispatch: delivery.max_in_flight_per_endpoint is %d; it must be positive", d.MaxInFlightPerEndpoint)
	case d.ClaimBatch < 0:
		return fmt.Errorf("dispatch: delivery.claim_batch is %d; it must be positive", d.ClaimBatch)
	case d.BreakerFailures < 0:
		return fmt.Errorf("dispatch: delivery.breaker_failures is %d; it must not be negative", d.BreakerFailures)
	case d.Lease <= d.Timeout:
		return fmt.Errorf("dispatch: delivery.lease (%s) must exceed delivery.timeout (%s)", d.Lease, d.Timeout)
	case d.Jitter < 0 || d.Jitter >= 1:
		return fmt.Errorf("dispatch: delivery.jitter is %g; it must be in [0, 1)", d.Jitter)
	}
	return nil
}

func defaultWorker() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Dispatcher is the delivery service. Create it with New, run it with
// Start and end it with Stop.
type Dispatcher struct {
	pool    *pgxpool.Pool
	opts    Options
	logger  *slog.Logger
	client  *http.Client // webhook endpoints, through the address guard
	trusted *http.Client // the operator's configured forward and alert targets
	policy  delivery.Policy

	wake     chan struct{}   // coalesced: the reaper found work
	notified <-chan struct{} // delivery.WorkChannel
	unsub    func()
	unhook   func() // the liveness lock's session hook
	ownNotif bool
	outcomes chan outcome // from workers
	recorded atomic.Int64 // results recorded, for the queue's vacuum

	mu         sync.Mutex
	started    bool
	stopped    bool
	stoppedCh  chan struct{}      // closed when the stop begun by the first Stop ends
	stopClaim  context.CancelFunc // ends claiming, the listener and the reaper
	cancelWork context.CancelFunc // cancels in-flight requests
	giveUp     context.CancelFunc // ends the engine's retries of a last cycle
	workCtx    context.Context
	loops      sync.WaitGroup // the reaper
	engineDone chan struct{}
}

// New returns a Dispatcher on pool; Start reports invalid options.
func New(pool *pgxpool.Pool, opts Options) *Dispatcher {
	opts = opts.withDefaults()
	return &Dispatcher{
		pool:    pool,
		opts:    opts,
		logger:  opts.Logger.With("service", "dispatch"),
		client:  newClient(opts.Delivery),
		trusted: newTrustedClient(opts.Delivery),
		policy: delivery.Policy{
			DefaultMaxInFlight:   opts.Delivery.MaxInFlightPerEndpoint,
			BreakerFailures:      opts.Delivery.BreakerFailures,
			BreakerProbeInterval: opts.Delivery.BreakerProbeInterval,
			BreakerProbeMax:      16 * opts.Delivery.BreakerProbeInterval,
		},
		wake:       make(chan struct{}, 1),
		outcomes:   make(chan outcome, opts.Delivery.Workers),
		engineDone: make(chan struct{}),
	}
}

// Worker returns the name this dispatcher records on leases and attempts.
func (d *Dispatcher) Worker() string { return d.opts.Worker }

// Start runs the dispatcher until Stop. Cancelling ctx stops claiming;
// call Stop to finish in-flight work and release the rest.
func (d *Dispatcher) Start(ctx context.Context) error {
	if err := d.opts.validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("dispatch: already started")
	}
	d.started = true
	base := context.WithoutCancel(ctx)
	claimCtx, stopClaim := context.WithCancel(ctx)
	workCtx, cancelWork := context.WithCancel(base)
	lastCtx, giveUp := context.WithCancel(base)
	d.stopClaim, d.cancelWork, d.giveUp, d.workCtx = stopClaim, cancelWork, giveUp, workCtx

	if d.opts.Notifier == nil {
		d.opts.Notifier, d.ownNotif = notify.New(d.pool, d.opts.Logger), true
	}
	d.notified, d.unsub = d.opts.Notifier.Subscribe(delivery.WorkChannel)
	// The liveness lock lives on the listening connection, so that a kill
	// -9 returns this process's leases at the next reap in any other
	// process, not when they run out.
	d.unhook = d.opts.Notifier.OnSession(func(ctx context.Context, conn *pgx.Conn) error {
		return delivery.RegisterWorker(ctx, conn, d.opts.Worker)
	})
	if d.ownNotif {
		if err := d.opts.Notifier.Start(base); err != nil { // stopped by stop, after the engine
			return err
		}
	}
	d.loops.Add(2)
	go d.reap(claimCtx)
	go d.vacuum(claimCtx)
	go d.engine(claimCtx, lastCtx)
	d.logger.Info("dispatcher started", slog.String("worker", d.opts.Worker),
		slog.Int("workers", d.opts.Delivery.Workers), slog.Int("attempts", len(d.opts.Delivery.RetrySchedule)))
	return nil
}

// Stop stops claiming, waits up to ShutdownTimeout for in-flight requests,
// cancels and releases the rest, and records every result before it
// returns. ctx bounds the wait as a whole: when it ends first, Stop
// returns its error and the rest finishes in the background (what is not
// recorded then is retried once its lease expires). It is safe to call
// twice and before Start.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if !d.started {
		d.mu.Unlock()
		return nil
	}
	if !d.stopped {
		d.stopped = true
		d.stoppedCh = make(chan struct{})
		go func() {
			d.stop()
			close(d.stoppedCh)
		}()
	}
	done := d.stoppedCh
	d.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) stop() {
	d.stopClaim()
	d.loops.Wait()
	// The engine records what finishes within the grace, then cancels the
	// rest (see engine); if the database stays away it gives up after
	// another grace, leaving the rest to the lease reaper.
	grace := d.opts.Delivery.ShutdownTimeout
	cancelAt := time.AfterFunc(grace, d.cancelWork)
	defer cancelAt.Stop()
	giveUpAt := time.AfterFunc(2*grace+5*time.Second, d.giveUp)
	defer giveUpAt.Stop()
	<-d.engineDone
	d.cancelWork()
	d.giveUp()
	// Only now, with everything recorded or released: until then the
	// liveness lock keeps other processes from reaping this one's work.
	d.unsub()
	d.unhook()
	unregister, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := delivery.UnregisterWorker(unregister, d.pool, d.opts.Worker); err != nil {
		d.logger.Warn("could not unregister the worker; the lease reaper forgets it", slog.String("error", err.Error()))
	}
	cancel()
	if d.ownNotif {
		_ = d.opts.Notifier.Stop(context.Background())
	}
	d.client.CloseIdleConnections()
	d.trusted.CloseIdleConnections()
	d.logger.Info("dispatcher stopped")
}

// signal does a non-blocking send on a coalescing channel.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
