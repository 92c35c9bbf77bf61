package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
)

// stdio are the streams a command reads and writes; tests pass buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// cli is the state shared by every command of one invocation: streams,
// the loaded configuration and the logger. Commands get it through the
// closures that build them, so tests can run many invocations at once.
type cli struct {
	stdio
	env        func(string) (string, bool)
	configFile string

	cfg    *config.Config
	logger *slog.Logger

	// serverStarted, when set, is called by `hookd serve` once the server
	// listens (tests read its address).
	serverStarted func(*app.Server)
}

// onTerminal reports whether both standard input and output are a
// terminal the console can draw on.
func (c *cli) onTerminal() bool {
	in, ok1 := c.in.(*os.File)
	out, ok2 := c.out.(*os.File)
	return ok1 && ok2 && term.IsTerminal(in.Fd()) && term.IsTerminal(out.Fd())
}

// Config returns the loaded configuration; valid inside a command's RunE.
func (c *cli) Config() *config.Config { return c.cfg }

// Logger returns the logger built from log.level and log.format.
func (c *cli) Logger() *slog.Logger { return c.logger }

// OpenDatabase opens the configured database with the schema checked,
// never migrated (see app.OpenDatabase); an embedded one must exist
// already (see app.RequireExisting). The caller must Close it.
func (c *cli) OpenDatabase(ctx context.Context) (*app.Database, error) {
	if err := app.RequireExisting(c.cfg); err != nil {
		return nil, err
	}
	// Only serve, demo and migrate change the schema: a command pointed at
	// the wrong database (a mistyped --database-url) would make hookd's
	// tables there, and a new binary's command would migrate under the
	// servers still running the old one.
	cfg := *c.cfg
	cfg.Database.AutoMigrate = false
	return app.OpenDatabase(ctx, &cfg, c.logger)
}

// openOrCreateDatabase is OpenDatabase creating the embedded database on
// first use, for hookd serve.
func (c *cli) openOrCreateDatabase(ctx context.Context) (*app.Database, error) {
	return app.OpenDatabase(ctx, c.cfg, c.logger)
}

// withDB runs fn on an open database and closes it afterwards.
func (c *cli) withDB(ctx context.Context, fn func(*app.Database) error) error {
	d, err := c.OpenDatabase(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}

// commandFactories are commands defined in other files of this package by
// other parts of hookd (console, demo, bench): each file's init calls
// registerCommand, and newRoot adds them.
var commandFactories []func(*cli) *cobra.Command

// registerCommand adds a top-level command. Call it from an init function.
func registerCommand(f func(*cli) *cobra.Command) {
	commandFactories = append(commandFactories, f)
}

// noConfig marks commands that run without loading the configuration.
const noConfig = "hookd/no-config"

// asGroup makes cmd, a command that only holds subcommands, fail with
// exit status 1 on an unknown subcommand (cobra would print the help and
// succeed, hiding the typo from scripts); bare, it prints the help.
func asGroup(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return fmt.Errorf("%s; commands: %s", msg, strings.Join(names, ", "))
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[noConfig] = "yes" // the help needs none
	return cmd
}

// newRoot builds the command tree for one invocation.
func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "hookd",
		Short: "Self-hosted webhooks on PostgreSQL: deliver, receive, operate",
		Long: `hookd delivers signed webhooks with retries and dead letters, receives and
verifies inbound webhooks, and keeps everything in PostgreSQL.

Without database.url, hookd runs its own PostgreSQL in database.data_dir
(commands run next to a running "hookd serve" share its server).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Annotations[noConfig] != "" {
				return nil
			}
			return c.load(cmd)
		},
		// Bare "hookd" on a terminal is "hookd serve --console"; anywhere
		// else (a pipe, a service manager) it only prints help, so that a
		// mistyped unit never starts a second engine by surprise.
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serveConsole == nil || !c.onTerminal() {
				return cmd.Help()
			}
			return c.serveWithConsole(cmd.Context(), defaultLogFile)
		},
	}
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.err)
	pf := root.PersistentFlags()
	pf.StringVar(&c.configFile, "config", "", "config file (default ./hookd.yaml, then /etc/hookd/hookd.yaml)")
	pf.String("database-url", "", "PostgreSQL URL (database.url); empty runs hookd's own PostgreSQL")
	pf.String("listen", "", "host:port of the HTTP API (http.listen)")
	pf.String("data-dir", "", "directory of hookd's own PostgreSQL (database.data_dir)")
	pf.String("log-level", "", "debug, info, warn or error (log.level)")

	root.AddCommand(
		newServeCmd(c), newMigrateCmd(c), newEndpointsCmd(c), newPublishCmd(c),
		newDeliveriesCmd(c), newReplayCmd(c), newEventsCmd(c), newInboxCmd(c), newSourcesCmd(c),
		newVerifyCmd(c), newSecretsCmd(c), newVersionCmd(c),
	)
	for _, f := range commandFactories {
		root.AddCommand(f(c))
	}
	return root
}

// load reads and validates the configuration and builds the logger. It
// touches nothing: no file is written, no database opened.
func (c *cli) load(cmd *cobra.Command) error {
	cfg, err := config.Load(config.LoadOptions{File: c.configFile, Flags: cmd.Flags(), Env: c.env})
	if err != nil {
		return &configError{err}
	}
	c.cfg = cfg
	c.logger = newLogger(c.err, cfg.Log)
	return nil
}

// configError is a configuration that did not load; each problem is
// printed on its own line.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitError ends the command with code after its output said everything
// (verify's "rejected"); nothing more is printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes hookd with args and returns the process exit code.
func run(ctx context.Context, args []string, io stdio, env func(string) (string, bool)) int {
	c := &cli{stdio: io, env: env}
	return c.execute(ctx, args)
}

func (c *cli) execute(ctx context.Context, args []string) int {
	root := newRoot(c)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		lines := strings.Split(cfgErr.Error(), "\n")
		fmt.Fprintf(c.err, "hookd: invalid configuration (%d problem%s):\n", len(lines), plural(len(lines)))
		for _, l := range lines {
			fmt.Fprintf(c.err, "  %s\n", l)
		}
		return 2
	}
	fmt.Fprintf(c.err, "hookd: %s\n", oneLine(err))
	return 1
}

// oneLine renders err on one line for the terminal: domain errors get
// their plain meaning; the lines of a multi-line error (joined errors,
// one per connection attempt from pgx) are trimmed and joined with "; ",
// each distinct line once (pgx repeats an identical failure for its TLS
// and plain attempts).
func oneLine(err error) string {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return err.Error()
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	var b strings.Builder
	seen := map[string]bool{}
	prev := ""
	for line := range strings.SplitSeq(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		switch {
		case prev == "":
		case strings.HasSuffix(prev, ":"): // "failed to connect to ...:" introduces the next line
			b.WriteString(" ")
		default:
			b.WriteString("; ")
		}
		b.WriteString(line)
		prev = line
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// newLogger logs to w: text on a terminal, JSON otherwise (log.format auto).
func newLogger(w io.Writer, lc config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lc.SlogLevel()}
	text := lc.Format == config.LogFormatText
	if lc.Format == config.LogFormatAuto {
		text = isTerminal(w)
	}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
