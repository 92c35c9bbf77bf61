// Package bench measures hookd's delivery engine on the machine it runs
// on, and says where the time goes.
//
// # Phases
//
// One [Run] reports:
//
//   - ceiling: signed POSTs to a local receiver with no database at all,
//     measured as the baseline measures it (its client settings, its
//     concurrency, Standard Webhooks headers only), and again with hookd's
//     full header set (both signature families, User-Agent);
//   - for the live endpoints (Live, on the local receiver): the database
//     time of a claim with nothing due, the burn-down (Events events
//     published with PublishBatch, then delivered by the real dispatcher),
//     publishing through POST /v1/events/batch when the API has it, and
//     publishing one event per transaction;
//   - scale (when Endpoints exceeds Live): the same with Endpoints quiet
//     endpoints added across Tenants tenants, and the ratios to the above;
//   - sustained: the highest rate at which publishing and delivering at
//     once keeps the backlog flat, found by short probes, then held for
//     SustainedHold;
//   - latency: publish-to-receipt p50/p99 at each of Rates offered;
//   - fairness: one endpoint with a backlog to a slow receiver while
//     Others endpoints receive steady traffic.
//
// # What each phase cost
//
// Around every database phase the bench reads PostgreSQL's own counters
// (transaction ids, WAL position, pg_stat_wal, pg_stat_user_tables of
// hookd's tables), resets and reads pg_stat_statements, samples what the
// active backends wait on, and splits the CPU between hookd, PostgreSQL,
// the receiver, the load generator and other processes (see [cpuMethod]).
// Each phase has a pool of its own, closed before the counters are read,
// so that its backends report what they did.
//
// By default the bench starts a PostgreSQL of its own ([StartServer],
// durable, with pg_stat_statements preloaded); given a DatabaseURL it
// empties hookd's schema there. Commits are durable (synchronous_commit
// on). The receiver listens on 127.0.0.1 only and verifies every
// signature. Nothing is asserted: the figures are for people.
package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/signing"
)

// Defaults.
const (
	DefaultEvents             = 20000
	DefaultLive               = 4
	DefaultWorkers            = config.DefaultWorkers
	DefaultCeilingRequests    = 50000
	DefaultCeilingConcurrency = 64
	DefaultDuration           = 10 * time.Second
	DefaultWarmup             = time.Second
	DefaultSustainedProbe     = 5 * time.Second
	DefaultSustainedProbes    = 6
	DefaultSustainedHold      = 20 * time.Second
	DefaultSlowDelay          = 200 * time.Millisecond
	DefaultSlowBacklog        = 10000
	DefaultOthers             = 20
	DefaultOthersRate         = 500
	DefaultIdleWindow         = 3 * time.Second
	DefaultSingleEvents       = 2000
	DefaultPayloadBytes       = 256
	DefaultPhaseTimeout       = 3 * time.Minute
	DefaultHistory            = config.DefaultRetentionPeriod
	DefaultWALSegments        = 32 // 512 MB, about what the longest phase writes between checkpoints
)

// DefaultRates are the latency phase's offered rates.
var DefaultRates = []float64{1000, 3000}

// Options configure a run. Zero fields take the defaults above; a
// negative count or duration skips its phase.
type Options struct {
	// DatabaseURL is a scratch database whose hookd schema is dropped and
	// made anew. Empty: the bench starts a PostgreSQL of its own.
	DatabaseURL string
	// Events is the burn-down's size, and the HTTP batch phase's.
	Events int
	// Live endpoints on the local receiver share the events.
	Live int
	// Endpoints above Live adds a scale leg with Endpoints quiet endpoints
	// (never sent to) spread across Tenants tenants. Defaults to Live: no
	// scale leg.
	Endpoints int
	// Tenants, when positive, puts every live endpoint in a tenant of its
	// own and every event in its endpoint's tenant, in every phase.
	Tenants int
	// Workers is delivery.workers.
	Workers int
	// CeilingRequests and CeilingConcurrency size the ceiling (the
	// baseline's -m and -concurrency).
	CeilingRequests    int
	CeilingConcurrency int
	// Rates are the latency phase's offered events per second, each for
	// Duration; rates of 0 or less are skipped.
	Rates    []float64
	Duration time.Duration
	// Warmup is offered at each latency rate first and not counted: the
	// phase's pool and dispatcher start cold (every connection prepares
	// and plans its statements on first use), as a running hookd is not.
	// Negative skips it.
	Warmup time.Duration
	// The sustained phase: probes of SustainedProbe, at most
	// SustainedProbes of them, then SustainedHold at the rate found.
	SustainedProbe  time.Duration
	SustainedProbes int
	SustainedHold   time.Duration
	// The fairness phase: SlowBacklog deliveries to an endpoint whose
	// receiver takes SlowDelay, while Others endpoints get OthersRate
	// events per second in all, for Duration.
	SlowDelay   time.Duration
	SlowBacklog int
	Others      int
	OthersRate  float64
	// IdleWindow is how long claims with nothing due are watched.
	IdleWindow time.Duration
	// SingleEvents are published one per transaction.
	SingleEvents int
	// PayloadBytes is the approximate size of each event's data.
	PayloadBytes int
	// PhaseTimeout gives up waiting for deliveries after this long.
	PhaseTimeout time.Duration
	// History is how much history the database holds partitions for, as
	// an install that has run that long under the default
	// retention.period (its history partitions are a day each): some
	// statements cost more the more partitions there are. Defaults to
	// that period; negative measures a fresh install's partitions.
	History time.Duration
	// WALSegments is how many WAL segments the bench's own server makes
	// ready for reuse before the phases, as a server that has run a while
	// has them (see readyWAL). Defaults to DefaultWALSegments; negative
	// makes none. A configured database's server is left as it is.
	WALSegments int
	// Delivery is the base delivery configuration (claim batch, poll
	// interval, ...); Workers and the per-endpoint cap are set by the
	// bench, and 127.0.0.1 is allowed.
	Delivery config.Delivery
	// MaxConns bounds each phase's pool. Defaults to 20.
	MaxConns int32
	// QuietWait is how long to wait, before each phase, for the machine to
	// be less than 15% busy. Defaults to 0, no waiting.
	QuietWait time.Duration
	// CPUProfile, when set, receives the CPU profile of the first
	// burn-down's delivering step.
	CPUProfile io.Writer
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Progress, when set, receives one line per phase as it starts.
	Progress io.Writer
}

func (o *Options) defaults() {
	o.Events = cmp.Or(o.Events, DefaultEvents)
	o.Live = cmp.Or(o.Live, DefaultLive)
	o.Endpoints = cmp.Or(o.Endpoints, o.Live)
	o.Workers = cmp.Or(o.Workers, DefaultWorkers)
	o.CeilingRequests = cmp.Or(o.CeilingRequests, DefaultCeilingRequests)
	o.CeilingConcurrency = cmp.Or(o.CeilingConcurrency, DefaultCeilingConcurrency)
	if o.Rates == nil {
		o.Rates = DefaultRates
	}
	o.Duration = cmp.Or(o.Duration, DefaultDuration)
	o.Warmup = cmp.Or(o.Warmup, DefaultWarmup)
	o.SustainedProbe = cmp.Or(o.SustainedProbe, DefaultSustainedProbe)
	o.SustainedProbes = cmp.Or(o.SustainedProbes, DefaultSustainedProbes)
	o.SustainedHold = cmp.Or(o.SustainedHold, DefaultSustainedHold)
	o.SlowDelay = cmp.Or(o.SlowDelay, DefaultSlowDelay)
	o.SlowBacklog = cmp.Or(o.SlowBacklog, DefaultSlowBacklog)
	o.Others = cmp.Or(o.Others, DefaultOthers)
	o.OthersRate = cmp.Or(o.OthersRate, DefaultOthersRate)
	o.IdleWindow = cmp.Or(o.IdleWindow, DefaultIdleWindow)
	o.SingleEvents = cmp.Or(o.SingleEvents, DefaultSingleEvents)
	o.PayloadBytes = cmp.Or(o.PayloadBytes, DefaultPayloadBytes)
	o.PhaseTimeout = cmp.Or(o.PhaseTimeout, DefaultPhaseTimeout)
	o.History = cmp.Or(o.History, DefaultHistory)
	o.WALSegments = cmp.Or(o.WALSegments, DefaultWALSegments)
	o.MaxConns = cmp.Or(o.MaxConns, int32(config.DefaultMaxConns))
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o *Options) validate() error {
	switch {
	case o.Events < 1 || o.Live < 1 || o.Workers < 1:
		return fmt.Errorf("bench: events (%d), live endpoints (%d) and workers (%d) must be at least 1", o.Events, o.Live, o.Workers)
	case o.Live > o.Events:
		return fmt.Errorf("bench: live endpoints (%d) must not exceed events (%d)", o.Live, o.Events)
	case o.Tenants > 0 && o.Endpoints > o.Live && o.Tenants < o.Live:
		return fmt.Errorf("bench: tenants (%d) must be at least the live endpoints (%d): each live endpoint has a tenant of its own", o.Tenants, o.Live)
	case o.CeilingRequests < 1 || o.CeilingConcurrency < 1:
		return fmt.Errorf("bench: the ceiling's requests (%d) and concurrency (%d) must be at least 1", o.CeilingRequests, o.CeilingConcurrency)
	}
	return nil
}

// Run performs the phases and returns their figures.
func Run(ctx context.Context, opts Options) (Report, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	rep := Report{CPUMethod: cpuMethod, Machine: Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		LoadBefore: loadavg(), Started: time.Now().UTC().Truncate(time.Second)}}
	if opts.DatabaseURL == "" {
		fmt.Fprintln(opts.Progress, "starting a PostgreSQL of the bench's own ...")
		srv, err := StartServer(ctx, opts.Logger)
		if err != nil {
			return rep, err
		}
		defer srv.Stop()
		opts.DatabaseURL, rep.Machine.OwnServer = srv.URL, true
	}
	admin, err := openAdmin(ctx, opts.DatabaseURL)
	if err != nil {
		return rep, err
	}
	defer admin.Close()
	if rep.Machine.OwnServer && opts.WALSegments > 0 {
		if rep.Machine.WALReady, err = readyWAL(ctx, admin, opts.WALSegments); err != nil {
			return rep, fmt.Errorf("bench: make WAL segments ready: %w", err)
		}
	}
	if err := db.MigratePool(ctx, admin); err != nil {
		return rep, err
	}
	m := &rep.Machine
	if err := admin.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('fsync'), current_setting('track_wal_io_timing')`).
		Scan(&m.PostgreSQL, &m.SynchronousCommit, &m.Fsync, &m.WALIOTiming); err != nil {
		return rep, err
	}
	m.SynchronousCommit = "on" // every phase's pool sets it, whatever the server's default
	secret, err := signing.GenerateSecret()
	if err != nil {
		return rep, err
	}
	rcv, err := startReceiver(secret, opts.SlowDelay)
	if err != nil {
		return rep, err
	}
	defer rcv.Close()
	b := &bench{opts: opts, admin: admin, rcv: rcv, sends: newSendLog(), secret: secret, payload: payloadOf(opts.PayloadBytes),
		postmaster: findPostmaster(ctx, admin), statsOK: enableStatements(ctx, admin), tenanted: opts.Tenants > 0}
	m.Statements = b.statsOK
	start := time.Now()
	err = b.run(ctx, &rep)
	m.History, m.Partitions = Duration(opts.History), b.partitions
	m.LoadAfter, m.Duration = loadavg(), time.Since(start).Round(time.Second).String()
	rep.Ratios = ratios(&rep)
	m.Noise = noise(&rep)
	if opts.CPUProfile != nil && b.profileOut != nil {
		if _, werr := opts.CPUProfile.Write(b.profileOut); werr != nil && err == nil {
			err = werr
		}
	}
	return rep, err
}

// run performs the phases in order, filling rep as it goes.
func (b *bench) run(ctx context.Context, rep *Report) error {
	o := b.opts
	phase := func(format string, args ...any) {
		if o.QuietWait > 0 {
			if w, busy := waitQuiet(ctx, o.QuietWait); w > 1500*time.Millisecond {
				fmt.Fprintf(o.Progress, "  (waited %s for a quiet machine; last second %.0f%% busy)\n", w.Round(time.Second), busy)
			}
		}
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
	phase("ceiling: %d signed POSTs, %d at once, no database (baseline's headers, then hookd's)", o.CeilingRequests, o.CeilingConcurrency)
	rep.Ceiling = b.runCeiling(ctx, HeadersBaseline, o.CeilingRequests, o.CeilingConcurrency)
	rep.CeilingHookd = b.runCeiling(ctx, HeadersHookd, o.CeilingRequests, o.CeilingConcurrency)

	var err error
	if rep.Small, err = b.leg(ctx, phase, 0, 0); err != nil {
		return err
	}
	if o.Endpoints > o.Live {
		scale, err := b.leg(ctx, phase, o.Endpoints, o.Tenants)
		rep.Scale = &scale
		if err != nil {
			return err
		}
	}
	if o.SustainedHold > 0 {
		guess := 0.8 * min(rep.Small.Burndown.PerSec, rep.Small.Burndown.Publish.PerSec)
		phase("sustained: publish and deliver at once, searching from %.0f/s, then %s held", guess, o.SustainedHold)
		s, err := b.sustained(ctx, guess)
		rep.Sustained = &s
		if err != nil {
			return err
		}
	}
	for _, rate := range o.Rates {
		if rate <= 0 {
			continue
		}
		phase("latency: %.0f events/s offered for %s", rate, o.Duration)
		st, err := b.steady(ctx, rate)
		rep.Latency = append(rep.Latency, st)
		if err != nil {
			return err
		}
	}
	if o.SlowBacklog > 0 {
		phase("fairness: %d deliveries to a receiver taking %s, %d other endpoints at %.0f/s", o.SlowBacklog, o.SlowDelay, o.Others, o.OthersRate)
		f, err := b.fairness(ctx)
		rep.Fairness = &f
		if err != nil {
			return err
		}
	}
	return nil
}

// leg sets up the live endpoints (and quiet ones across tenants) on a
// fresh schema and runs the phases measured per endpoint count.
func (b *bench) leg(ctx context.Context, phase func(string, ...any), quiet, tenants int) (Leg, error) {
	o := b.opts
	l := Leg{LiveEndpoints: o.Live, QuietEndpoints: quiet, Tenants: tenants}
	if b.tenanted && tenants == 0 {
		l.Tenants = o.Live
	}
	name := fmt.Sprintf("%d endpoints", o.Live)
	if quiet > 0 {
		name = fmt.Sprintf("%d quiet + %d live endpoints, %d tenants", quiet, o.Live, tenants)
		phase("scale: making %s", name)
	}
	if err := b.reset(ctx); err != nil {
		return l, err
	}
	start := time.Now()
	l.Setup = "endpoint.Create"
	if quiet > 0 {
		how, err := b.addQuiet(ctx, quiet, tenants)
		if err != nil {
			return l, err
		}
		l.Setup = how
	}
	if _, err := b.addLive(ctx, o.Live, b.rcv.URL, o.Workers); err != nil {
		return l, err
	}
	l.SetupTime = Duration(time.Since(start).Round(time.Millisecond))
	_, _ = b.admin.Exec(ctx, `VACUUM ANALYZE hookd.endpoints`)

	var err error
	phase("idle claim (%s): nothing due, watched for %s", name, o.IdleWindow)
	if l.IdleClaim, err = b.idleClaim(ctx); err != nil {
		return l, err
	}
	phase("burn-down (%s): %d events published, then delivered by %d workers", name, o.Events, o.Workers)
	if l.Burndown, err = b.burndown(ctx, o.Live); err != nil {
		return l, err
	}
	phase("publish (%s): POST %s, then one event per transaction", name, batchRoute)
	if l.HTTPBatch, err = b.httpBatch(ctx, o.Live); err != nil {
		return l, err
	}
	l.Single, err = b.single(ctx, o.Live)
	return l, err
}

// ratios lists the report's ratios, each with what it divides.
func ratios(r *Report) []Ratio {
	var out []Ratio
	add := func(name, of, over string, a, b float64) {
		if a > 0 && b > 0 {
			out = append(out, Ratio{Name: name, Of: of, Over: over, Value: a / b})
		}
	}
	const ceiling = "ceiling req/s, measured as the baseline does"
	add("ceiling, hookd headers / baseline headers", "ceiling req/s with hookd's headers", ceiling,
		r.CeilingHookd.PerSec, r.Ceiling.PerSec)
	add("burn-down / ceiling", "burn-down deliveries/s", ceiling, r.Small.Burndown.PerSec, r.Ceiling.PerSec)
	add("burn-down / ceiling with hookd headers", "burn-down deliveries/s", "ceiling req/s with hookd's headers",
		r.Small.Burndown.PerSec, r.CeilingHookd.PerSec)
	if s := r.Sustained; s != nil {
		add("sustained / ceiling", "sustained deliveries/s (publishing at once)", ceiling, s.Hold.PerSec, r.Ceiling.PerSec)
	}
	if s := r.Scale; s != nil {
		small := fmt.Sprintf("the same with %d endpoints", r.Small.LiveEndpoints)
		add("scale burn-down / small", "burn-down deliveries/s at scale", small, s.Burndown.PerSec, r.Small.Burndown.PerSec)
		add("scale PublishBatch / small", "PublishBatch events/s at scale", small,
			s.Burndown.Publish.PerSec, r.Small.Burndown.Publish.PerSec)
		add("scale HTTP batch / small", "POST /v1/events/batch events/s at scale", small,
			s.HTTPBatch.PerSec, r.Small.HTTPBatch.PerSec)
		add("scale single publish / small", "one-event-per-transaction events/s at scale", small,
			s.Single.PerSec, r.Small.Single.PerSec)
	}
	return out
}

// noise is the share of the machine other processes used during the
// measured phases, in %.
func noise(r *Report) float64 {
	var other, wall float64
	add := func(c CPU) { other, wall = other+c.Other, wall+c.Wall }
	add(r.Ceiling.CPU)
	add(r.CeilingHookd.CPU)
	for _, l := range []*Leg{&r.Small, r.Scale} {
		if l == nil {
			continue
		}
		for _, c := range []*Cost{l.Burndown.Publish.Cost, &l.Burndown.Cost, l.HTTPBatch.Cost, l.Single.Cost} {
			if c != nil {
				add(c.CPU)
			}
		}
	}
	if r.Sustained != nil {
		add(r.Sustained.Hold.Cost.CPU)
	}
	for _, st := range r.Latency {
		add(st.Cost.CPU)
	}
	if wall <= 0 || r.Machine.CPUs <= 0 {
		return 0
	}
	return 100 * other / (wall * float64(r.Machine.CPUs))
}

// findPostmaster returns the pid of the server's postmaster when it runs
// on this machine (the parent of this connection's backend), else 0.
func findPostmaster(ctx context.Context, admin *pgxpool.Pool) int {
	var backend int
	if err := admin.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	ppid := int(field(procStat(backend), 1))
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if ppid <= 1 || err != nil || !strings.HasPrefix(string(comm), "postgres") {
		return 0
	}
	return ppid
}

// payloadOf returns an invoice-like JSON object of about n bytes.
func payloadOf(n int) []byte {
	const base = `{"object":"invoice","id":"in_1PqRsT2uVwXyZ","amount":4200,"currency":"eur","customer":"cus_9aBcDeFgH","note":""}`
	return fmt.Appendf(nil, `{"object":"invoice","id":"in_1PqRsT2uVwXyZ","amount":4200,"currency":"eur","customer":"cus_9aBcDeFgH","note":"%s"}`,
		strings.Repeat("x", max(n-len(base), 0)))
}

// allowLoopback adds 127.0.0.1 to the guard's allowance.
func allowLoopback(d config.Delivery) config.Delivery {
	d.AllowedNetworks = append(append([]netip.Prefix{}, d.AllowedNetworks...), netip.MustParsePrefix("127.0.0.1/32"))
	return d
}
