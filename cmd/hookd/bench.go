package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/bench"
)

func init() { registerCommand(newBenchCmd) }

func newBenchCmd(c *cli) *cobra.Command {
	opts := bench.Options{}
	var (
		jsonPath, profilePath string
		configured            bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure delivery throughput and latency on this machine",
		Long: `Measure the delivery engine on this machine, and where its time goes:

  ceiling    signed POSTs to a local receiver with no database, measured
             as the baseline measures it and with hookd's full headers;
  idle claim the database time of a claim with nothing due;
  burn-down  --events events published (PublishBatch), then delivered by
             the real dispatcher (synchronous_commit on);
  publish    POST /v1/events/batch (when the API has it), and one event
             per transaction;
  scale      with --endpoints above --live: the phases above again with
             that many quiet endpoints across --tenants tenants, and the
             ratios to the first run;
  sustained  the highest rate published and delivered at once with the
             backlog flat, held for --sustained-hold;
  latency    publish-to-receipt p50/p99 at each --rates offered;
  fairness   a --slow-backlog to a slow receiver next to steady traffic.

Each database phase reports PostgreSQL's work per delivery (write
transactions, WAL bytes and fsyncs, rows written and how many were HOT,
statements by total time, what backends wait on) and the CPU of hookd,
PostgreSQL and the receiver. The database holds the history partitions
of an install that has kept --history (a month, the default
retention.period), as some statements cost more the more there are.

The bench starts a PostgreSQL of its own in a temporary directory
(pg_stat_statements preloaded, durable settings) and removes it afterwards.
Before the phases it makes --wal-segments WAL segments ready for reuse, as
a server that has run a while has them recycled: a new server makes and
zero-fills each segment while commits wait for it. With --use-configured-database it uses a scratch database created next to
the configured one instead (the role needs CREATEDB), dropped afterwards.
The receiver listens on 127.0.0.1.`,
		Example: `  hookd bench --json bench.json
  hookd bench --endpoints 100000 --tenants 10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profilePath != "" {
				f, err := os.Create(profilePath)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				opts.CPUProfile = f
			}
			rep, err := c.bench(cmd.Context(), opts, configured)
			if err != nil {
				return err
			}
			rep.WriteText(c.out)
			if jsonPath != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--json: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Events, "events", bench.DefaultEvents, "events in the burn-down and the HTTP batch phase")
	f.IntVar(&opts.Live, "live", bench.DefaultLive, "endpoints on the local receiver that share the events")
	f.IntVar(&opts.Endpoints, "endpoints", 0, "above --live: run a scale leg with this many quiet endpoints added (default: none)")
	f.IntVar(&opts.Tenants, "tenants", 0, "spread the quiet endpoints across this many tenants; live endpoints and events get tenants too")
	f.IntVar(&opts.Workers, "workers", bench.DefaultWorkers, "delivery workers")
	f.IntVar(&opts.CeilingRequests, "ceiling-requests", bench.DefaultCeilingRequests, "signed POSTs in each ceiling")
	f.IntVar(&opts.CeilingConcurrency, "ceiling-concurrency", bench.DefaultCeilingConcurrency, "concurrent senders in the ceiling")
	f.Float64SliceVar(&opts.Rates, "rates", bench.DefaultRates, "latency phase: offered events per second, each for --duration (0 skips)")
	f.DurationVar(&opts.Duration, "duration", bench.DefaultDuration, "latency and fairness phases: how long to offer load")
	f.DurationVar(&opts.Warmup, "warmup", bench.DefaultWarmup, "latency phase: offer each rate this long first, not counted (negative skips it)")
	f.DurationVar(&opts.SustainedHold, "sustained-hold", bench.DefaultSustainedHold, "how long to hold the sustained rate (negative skips the phase)")
	f.IntVar(&opts.SlowBacklog, "slow-backlog", bench.DefaultSlowBacklog, "fairness phase: deliveries queued for the slow endpoint (negative skips it)")
	f.DurationVar(&opts.SlowDelay, "slow-delay", bench.DefaultSlowDelay, "fairness phase: how long the slow receiver takes")
	f.IntVar(&opts.Others, "others", bench.DefaultOthers, "fairness phase: endpoints with steady traffic")
	f.Float64Var(&opts.OthersRate, "others-rate", bench.DefaultOthersRate, "fairness phase: events per second among the others")
	f.DurationVar(&opts.IdleWindow, "idle-window", bench.DefaultIdleWindow, "how long to watch claims with nothing due")
	f.DurationVar(&opts.PhaseTimeout, "phase-timeout", bench.DefaultPhaseTimeout, "give up on a phase after this long")
	f.DurationVar(&opts.History, "history", bench.DefaultHistory, "make the history partitions an install has after running this long under the default retention.period (negative: a fresh install's)")
	f.IntVar(&opts.WALSegments, "wal-segments", bench.DefaultWALSegments, "the bench's own server: WAL segments to make ready for reuse before the phases, as a server that has run a while has them (negative: none)")
	f.DurationVar(&opts.QuietWait, "quiet-wait", time.Minute, "before each phase, wait up to this long for the machine to be <15% busy (0: don't)")
	f.BoolVar(&configured, "use-configured-database", false, "use a scratch database on the configured server instead of a PostgreSQL of the bench's own")
	f.StringVar(&jsonPath, "json", "", "also write the whole report as JSON to this file")
	f.StringVar(&profilePath, "cpuprofile", "", "write a CPU profile of the burn-down's delivering to this file (go tool pprof)")
	return cmd
}

// bench runs the benchmark on a server of its own, or in a scratch
// database on the configured server.
func (c *cli) bench(ctx context.Context, opts bench.Options, configured bool) (bench.Report, error) {
	opts.Delivery = c.cfg.Delivery
	opts.MaxConns = c.cfg.Database.MaxConns
	opts.Logger = c.logger
	opts.Progress = c.err
	if !configured {
		return bench.Run(ctx, opts)
	}
	d, err := c.OpenDatabase(ctx)
	if err != nil {
		return bench.Report{}, err
	}
	defer d.Close()
	name := fmt.Sprintf("hookd_bench_%d_%d", os.Getpid(), time.Now().Unix())
	if _, err := d.Pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return bench.Report{}, fmt.Errorf("create the scratch database %s (the role needs CREATEDB): %w", name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := d.Pool.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(c.err, "hookd: drop the scratch database %s: %v\n", name, err)
		}
	}()
	opts.DatabaseURL = withDatabaseName(d.URL, name)
	return bench.Run(ctx, opts)
}

// withDatabaseName points a postgres:// URL or key=value DSN at database name.
func withDatabaseName(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path, u.RawPath = "/"+name, ""
			return u.String()
		}
	}
	return dsn + " dbname=" + name // the last dbname wins
}
