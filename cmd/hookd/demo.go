package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/demo/scenario"
)

func init() { registerCommand(newDemoCmd) }

// demoFlags are `hookd demo`'s own flags.
type demoFlags struct {
	noConsole bool
	ephemeral bool
	duration  time.Duration
	rate      float64
	interval  time.Duration
}

func newDemoCmd(c *cli) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run hookd with failing receivers and live traffic, and open the console",
		Long: `Run the whole of hookd on its own PostgreSQL with demo receivers on
127.0.0.1: a healthy one that verifies signatures and dedupes, a slow one,
a flaky one, one that is down, one answering 410 Gone, one rate-limiting
with 429, one redirecting with 302; and a second sender posting to the
intake source "payments", some requests tampered with, some repeated;
"payments" forwards what it verifies to the flaky receiver.
Events flow at once, and with the demo's short retry schedule
(0s, 1s, 2s, 4s) retries, dead letters and a disabled endpoint appear
within the first minute.

The demo reads no configuration file. Its PostgreSQL lives in
./.hookd/demo (or --data-dir), kept between runs, with a fresh database
each run; --ephemeral uses a temporary directory removed at exit.
Ctrl-C stops everything, PostgreSQL included.`,
		Example: `  hookd demo                            # the console over a live demo
  hookd demo --no-console --duration 30s  # headless, then a summary`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.demo(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.noConsole, "no-console", false, "run headless, printing a one-line summary every --interval")
	fl.BoolVar(&f.ephemeral, "ephemeral", false, "keep PostgreSQL in a temporary directory, removed at exit")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (counted once the demo runs) and print a summary; 0 runs until Ctrl-C")
	fl.Float64Var(&f.rate, "rate", scenario.DefaultEventsPerSecond, "events published per second")
	fl.DurationVar(&f.interval, "interval", 2*time.Second, "how often --no-console prints its summary line")
	return cmd
}

func (c *cli) demo(cmd *cobra.Command, f demoFlags) error {
	if err := checkDemoFlags(f); err != nil {
		return err
	}
	opts, err := demoOptions(cmd)
	if err != nil {
		return err
	}
	opts.Ephemeral, opts.EventsPerSecond = f.ephemeral, f.rate
	ctx := cmd.Context()
	if opts.Ephemeral {
		fmt.Fprintln(c.out, "hookd demo: starting PostgreSQL in a temporary directory...")
	} else {
		fmt.Fprintf(c.out, "hookd demo: starting PostgreSQL in %s...\n", opts.DataDir)
	}
	d := scenario.New(opts)
	if err := d.Start(ctx); err != nil {
		d.Stop()
		if ctx.Err() != nil {
			return nil // interrupted during start: everything is stopped
		}
		return err
	}
	defer d.Stop()
	c.printDemoBanner(d)

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if f.duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, f.duration)
	}
	defer cancel()
	headless := f.noConsole
	switch {
	case headless:
	case serveConsole == nil:
		headless = true
		fmt.Fprintln(c.out, "(this build has no console; running headless as with --no-console)")
	case !isTerminal(c.out):
		headless = true
		fmt.Fprintln(c.out, "(the output is not a terminal; running headless as with --no-console)")
	}
	if headless {
		c.demoLines(runCtx, d, f.interval)
	} else {
		c.cfg, c.logger = d.Config(), d.Logger()
		if err := serveConsole(runCtx, c, d.Server(), d.Database()); err != nil && runCtx.Err() == nil {
			return err
		}
	}
	fmt.Fprintln(c.out, "hookd demo: stopping...")
	d.Stop()
	s, err := d.Final()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "hookd demo: final summary after %s\n%s", s.Elapsed.Round(time.Second), s.Table())
	fmt.Fprintln(c.out, "hookd demo: stopped; PostgreSQL and the receivers are down.")
	return nil
}

func checkDemoFlags(f demoFlags) error {
	switch {
	case f.duration < 0:
		return fmt.Errorf("--duration %s is negative; give a duration such as 30s, or 0 to run until Ctrl-C", f.duration)
	case f.rate <= 0 || f.rate > 1000:
		return fmt.Errorf("--rate %v is out of range; allowed: above 0, at most 1000 events per second", f.rate)
	case f.interval < 100*time.Millisecond:
		return fmt.Errorf("--interval %s is too short; allowed: 100ms or more", f.interval)
	}
	return nil
}

// checkListen rejects a --listen that is not host:port before anything
// starts (hookd would only find out after starting PostgreSQL).
func checkListen(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("--listen %q: want host:port, such as 127.0.0.1:8080 (port 0 picks a free one): %w", addr, err)
	}
	return nil
}

// demoOptions takes the root flags that make sense for the demo.
func demoOptions(cmd *cobra.Command) (scenario.Options, error) {
	opts := scenario.Options{LogFile: true, LogLevel: slog.LevelInfo}
	fl := cmd.Flags()
	if fl.Changed("database-url") || fl.Changed("config") {
		return opts, errors.New("hookd demo runs on its own PostgreSQL and reads no configuration: drop --database-url and --config (use --data-dir to choose where its PostgreSQL lives)")
	}
	opts.DataDir, _ = fl.GetString("data-dir")
	opts.Listen, _ = fl.GetString("listen")
	if err := checkListen(opts.Listen); err != nil {
		return opts, err
	}
	if lvl, _ := fl.GetString("log-level"); lvl != "" {
		if err := opts.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return opts, fmt.Errorf("--log-level %q: allowed: debug, info, warn, error", lvl)
		}
	}
	return opts, nil
}

func (c *cli) printDemoBanner(d *scenario.Demo) {
	w := c.out
	fmt.Fprintf(w, "hookd demo is running: hookd at %s\n", d.URL())
	fmt.Fprintf(w, "  API key:   %s\n", d.APIKey())
	fmt.Fprintf(w, "  try:       curl -H 'Authorization: Bearer %s' '%s/v1/deliveries?state=dead'\n", d.APIKey(), d.URL())
	fmt.Fprintf(w, "  intake:    %s/in/%s (scheme standard; forwards to the %s receiver)\n", d.URL(), scenario.SourceName, scenario.ForwardReceiver)
	fmt.Fprintf(w, "  details:   %s (URL, API key and a curl example, kept while the demo runs)\n", d.InfoPath())
	fmt.Fprintf(w, "  data:      %s\n", d.DataDir())
	fmt.Fprintf(w, "  commands:  hookd console --data-dir %s   (or deliveries ls, endpoints ls...: they share the demo's PostgreSQL)\n", d.DataDir())
	if p := d.LogPath(); p != "" {
		fmt.Fprintf(w, "  logs:      %s\n", p)
	}
	fmt.Fprintln(w, "  receivers:")
	for _, r := range d.Receivers() {
		fmt.Fprintf(w, "    %-13s %s\n", r.Behaviour(), r.URL())
	}
}

// demoLines prints the summary line every interval until ctx ends.
func (c *cli) demoLines(ctx context.Context, d *scenario.Demo, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := d.Summary(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(c.err, "hookd demo: %v\n", err)
			}
			continue
		}
		fmt.Fprintln(c.out, s.Line())
	}
}
