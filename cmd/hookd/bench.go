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
	var jsonPath, profilePath string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure delivery throughput and latency on this machine",
		Long: `Measure the delivery engine on this machine, in one run:

  ceiling    signed POSTs to a local receiver with no database at all;
  burn-down  --events events published first, then delivered by the real
             dispatcher (synchronous_commit on): deliveries/s end to end
             and the ratio to the ceiling;
  steady     --rate events/s offered for --duration: publish-to-receipt
             latency p50/p99.

The receiver listens on 127.0.0.1. The run uses a scratch database created
next to the configured one (the role needs CREATEDB) and dropped afterwards,
so the configured database is not touched.`,
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
			rep, err := c.bench(cmd.Context(), opts)
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
	f.IntVar(&opts.Events, "events", bench.DefaultEvents, "events in the burn-down (and POSTs in the ceiling)")
	f.IntVar(&opts.Endpoints, "endpoints", bench.DefaultEndpoints, "endpoints sharing the events")
	f.IntVar(&opts.Workers, "workers", bench.DefaultWorkers, "delivery workers, and the ceiling's concurrency")
	f.Float64Var(&opts.Rate, "rate", bench.DefaultRate, "steady phase: offered events per second (negative skips it)")
	f.DurationVar(&opts.Duration, "duration", bench.DefaultDuration, "steady phase: how long to offer load")
	f.DurationVar(&opts.PhaseTimeout, "phase-timeout", bench.DefaultPhaseTimeout, "give up on a phase after this long")
	f.DurationVar(&opts.QuietWait, "quiet-wait", time.Minute, "before each phase, wait up to this long for the machine to be <20% busy (0: don't)")
	f.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	f.StringVar(&profilePath, "cpuprofile", "", "write a CPU profile of the burn-down to this file (go tool pprof)")
	return cmd
}

// bench runs the benchmark in a scratch database on the configured server.
func (c *cli) bench(ctx context.Context, opts bench.Options) (bench.Report, error) {
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
	opts.Delivery = c.cfg.Delivery
	opts.MaxConns = c.cfg.Database.MaxConns
	opts.Logger = c.logger
	opts.Progress = c.err
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
