// Package bench measures hookd's delivery engine on the machine it runs on.
//
// In one [Run] it reports:
//
//   - the ceiling: signed POSTs (the same body and headers hookd sends) from
//     Workers goroutines over one keep-alive client to a local receiver,
//     with no database at all;
//   - burn-down: Events events published first, then delivered by the real
//     dispatcher to the same receiver, durable settings
//     (synchronous_commit on): deliveries per second end to end, and its
//     ratio to the ceiling;
//   - steady: Rate events per second offered for Duration while the
//     dispatcher runs, with publish-to-receipt latency p50/p99.
//
// The receiver listens on 127.0.0.1 only and checks each signature (one
// HMAC, as a real receiver would). Run empties hookd's tables in the
// database it is given: give it a scratch database. Nothing is asserted;
// the figures are for people.
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
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/signing"
)

// Defaults.
const (
	DefaultEvents       = 20000
	DefaultEndpoints    = 4
	DefaultWorkers      = 64
	DefaultRate         = 1000
	DefaultDuration     = 10 * time.Second
	DefaultPayloadBytes = 256
	DefaultPhaseTimeout = 3 * time.Minute
)

// Options configure a run. Zero fields take the defaults above.
type Options struct {
	// DatabaseURL is a scratch database; its hookd tables are emptied.
	DatabaseURL string
	// Events is the burn-down size and the number of ceiling requests.
	Events int
	// Endpoints share the events (each gets its own event type).
	Endpoints int
	// Workers is delivery.workers and the ceiling's concurrency.
	Workers int
	// Rate is the steady phase's offered events per second; negative
	// skips the phase.
	Rate float64
	// Duration of the steady phase.
	Duration time.Duration
	// PayloadBytes is the approximate size of each event's data.
	PayloadBytes int
	// PhaseTimeout gives up waiting for deliveries after this long.
	PhaseTimeout time.Duration
	// Delivery is the base delivery configuration (claim batch, poll
	// interval, ...); Workers and the per-endpoint cap are set by the
	// bench, and 127.0.0.1 is allowed.
	Delivery config.Delivery
	// MaxConns bounds the bench's pool. Defaults to 20.
	MaxConns int32
	// QuietWait is how long to wait, before each phase, for the machine to
	// be less than 20% busy. Defaults to 0, no waiting.
	QuietWait time.Duration
	// CPUProfile, when set, receives a CPU profile of the burn-down phase.
	CPUProfile io.Writer
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Progress, when set, receives one line per phase as it starts.
	Progress io.Writer
}

func (o *Options) defaults() {
	o.Events = cmp.Or(o.Events, DefaultEvents)
	o.Endpoints = cmp.Or(o.Endpoints, DefaultEndpoints)
	o.Workers = cmp.Or(o.Workers, DefaultWorkers)
	o.Rate = cmp.Or(o.Rate, DefaultRate)
	o.Duration = cmp.Or(o.Duration, DefaultDuration)
	o.PayloadBytes = cmp.Or(o.PayloadBytes, DefaultPayloadBytes)
	o.PhaseTimeout = cmp.Or(o.PhaseTimeout, DefaultPhaseTimeout)
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
	case o.DatabaseURL == "":
		return fmt.Errorf("bench: a database URL is required (a scratch database: its hookd tables are emptied)")
	case o.Events < 1 || o.Endpoints < 1 || o.Workers < 1:
		return fmt.Errorf("bench: events (%d), endpoints (%d) and workers (%d) must be at least 1", o.Events, o.Endpoints, o.Workers)
	case o.Endpoints > o.Events:
		return fmt.Errorf("bench: endpoints (%d) must not exceed events (%d)", o.Endpoints, o.Events)
	}
	return nil
}

// Report holds one run's figures.
type Report struct {
	Machine  Machine  `json:"machine"`
	Ceiling  Ceiling  `json:"ceiling"`
	Burndown Burndown `json:"burndown"`
	// Ratio is burn-down deliveries/s over ceiling requests/s.
	Ratio  float64 `json:"ratio"`
	Steady *Steady `json:"steady,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs              int    `json:"cpus"`
	GoVersion         string `json:"go"`
	LoadBefore        string `json:"load_before"` // /proc/loadavg, when available
	LoadAfter         string `json:"load_after"`
	PostgreSQL        string `json:"postgresql"`
	SynchronousCommit string `json:"synchronous_commit"`
	Fsync             string `json:"fsync"`
}

// Ceiling is the no-database baseline.
type Ceiling struct {
	Requests    int     `json:"requests"`
	Concurrency int     `json:"concurrency"`
	Errors      int64   `json:"errors"`
	PerSec      float64 `json:"req_per_s"`
	// MachineBusy is the whole machine's CPU use during the phase, in %.
	MachineBusy float64 `json:"machine_busy_pct"`
	RTT         Dist    `json:"rtt"`
}

// Burndown is the end-to-end throughput of pre-published events.
type Burndown struct {
	Events      int     `json:"events"`
	Endpoints   int     `json:"endpoints"`
	Workers     int     `json:"workers"`
	PublishRate float64 `json:"publish_per_s"`
	// PerSec counts receipts from dispatcher start to the last receipt.
	PerSec float64 `json:"deliveries_per_s"`
	// RecordedPerSec counts until every delivery was recorded succeeded.
	RecordedPerSec float64 `json:"recorded_per_s"`
	Received       int64   `json:"received"`
	Duplicates     int64   `json:"duplicates"`
	Rejected       int64   `json:"rejected"`
	MachineBusy    float64 `json:"machine_busy_pct"`
}

// Steady is the fixed-rate phase.
type Steady struct {
	OfferedPerSec float64 `json:"offered_per_s"`
	Duration      string  `json:"duration"`
	Published     int     `json:"published"`
	// Dropped counts offered events the publishers could not take in time.
	Dropped  int   `json:"dropped"`
	Received int64 `json:"received"`
	Missing  int   `json:"missing"`
	Latency  Dist  `json:"publish_to_receipt"`
	// Commit is the publishing transaction's duration; CommitToReceipt
	// the rest of Latency, the engine's part.
	Commit          Dist `json:"publish_commit"`
	CommitToReceipt Dist `json:"commit_to_receipt"`
	// MachineBusy is the whole machine's CPU use during the phase, in %.
	MachineBusy float64 `json:"machine_busy_pct"`
}

// Run performs the three phases and returns their figures.
func Run(ctx context.Context, opts Options) (Report, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Machine: Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadavg()}}

	pool, err := openPool(ctx, opts)
	if err != nil {
		return rep, err
	}
	defer pool.Close()
	if err := db.MigratePool(ctx, pool); err != nil {
		return rep, err
	}
	if err := describeServer(ctx, pool, &rep.Machine); err != nil {
		return rep, err
	}
	secret, err := signing.GenerateSecret()
	if err != nil {
		return rep, err
	}
	rcv, err := startReceiver(secret)
	if err != nil {
		return rep, err
	}
	defer rcv.Close()
	payload := payloadOf(opts.PayloadBytes)

	quiet := func() {
		if opts.QuietWait > 0 {
			w := waitQuiet(ctx, opts.QuietWait)
			fmt.Fprintf(opts.Progress, "  (waited %s for a quiet machine)\n", w)
		}
	}
	quiet()
	fmt.Fprintf(opts.Progress, "ceiling: %d signed POSTs, %d concurrent, no database\n", opts.Events, opts.Workers)
	cpu, _ := sampleCPU()
	rep.Ceiling = runCeiling(ctx, rcv, secret, payload, opts)
	rep.Ceiling.MachineBusy = busySince(cpu)

	quiet()
	fmt.Fprintf(opts.Progress, "burn-down: %d events to %d endpoints, %d workers\n", opts.Events, opts.Endpoints, opts.Workers)
	b := &bench{opts: opts, pool: pool, rcv: rcv, secret: secret, payload: payload}
	if rep.Burndown, err = b.burndown(ctx); err != nil {
		return rep, err
	}
	if rep.Ceiling.PerSec > 0 {
		rep.Ratio = rep.Burndown.PerSec / rep.Ceiling.PerSec
	}
	if opts.Rate > 0 {
		quiet()
		fmt.Fprintf(opts.Progress, "steady: %.0f events/s offered for %s\n", opts.Rate, opts.Duration)
		cpu, _ := sampleCPU()
		st, err := b.steady(ctx)
		st.MachineBusy = busySince(cpu)
		if err != nil {
			return rep, err
		}
		rep.Steady = &st
	}
	rep.Machine.LoadAfter = loadavg()
	return rep, nil
}

func openPool(ctx context.Context, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("bench: database URL: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	// Durable commits whatever the server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "hookd-bench"
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

func describeServer(ctx context.Context, pool *pgxpool.Pool, m *Machine) error {
	return pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('fsync')`).
		Scan(&m.PostgreSQL, &m.SynchronousCommit, &m.Fsync)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// payloadOf returns a JSON object of about n bytes.
func payloadOf(n int) []byte {
	pad := max(n-40, 1)
	return fmt.Appendf(nil, `{"invoice":"in_1234567890","pad":"%s"}`, strings.Repeat("x", pad))
}

// allowLoopback adds 127.0.0.1 to the guard's allowance.
func allowLoopback(d config.Delivery) config.Delivery {
	d.AllowedNetworks = append(append([]netip.Prefix{}, d.AllowedNetworks...), netip.MustParsePrefix("127.0.0.1/32"))
	return d
}
