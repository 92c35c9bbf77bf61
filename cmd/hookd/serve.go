package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
)

// serveConsole, when set (by console.go's init), makes `hookd serve
// --console` run the console in the foreground over the running server:
// it returns when the operator quits, which stops the server. Without it
// the --console flag does not exist.
var serveConsole func(ctx context.Context, c *cli, srv *app.Server, d *app.Database) error

func newServeCmd(c *cli) *cobra.Command {
	var withConsole, readOnly bool
	var logFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API, intake and delivery engine",
		Long: `Run hookd: the HTTP API on http.listen, intake on /in/ (or intake.listen),
and the delivery engine. Pending migrations are applied first unless
database.auto_migrate is false. SIGINT or SIGTERM shuts down gracefully:
HTTP first, then fan-out, then the dispatcher (releasing unfinished work),
then the database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if readOnly && !withConsole {
				return fmt.Errorf("--read-only applies to the console: use it with --console")
			}
			if withConsole {
				if readOnly {
					c.cfg.Console.ReadOnly = true
				}
				return c.serveWithConsole(cmd.Context(), logFile)
			}
			return c.serve(cmd.Context(), false)
		},
	}
	if serveConsole != nil {
		cmd.Flags().BoolVar(&withConsole, "console", false, "open the console in this terminal while serving (logs go to --log-file)")
		cmd.Flags().BoolVar(&readOnly, "read-only", false, "with --console: hide and refuse the console's actions")
		cmd.Flags().StringVar(&logFile, "log-file", defaultLogFile, "where logs go while --console draws on the terminal")
	}
	return cmd
}

// defaultLogFile receives the logs while the console draws on the terminal.
const defaultLogFile = "hookd.log"

// serveWithConsole runs the server with the console in the foreground;
// logs go to logFile so they do not draw over the console.
func (c *cli) serveWithConsole(ctx context.Context, logFile string) error {
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("--log-file: %w", err)
	}
	defer f.Close()
	c.logger = newLogger(f, c.cfg.Log)
	defer fmt.Fprintf(c.err, "hookd: logs of this run are in %s\n", logFile)
	return c.serve(ctx, true)
}

func (c *cli) serve(ctx context.Context, withConsole bool) error {
	d, err := c.openOrCreateDatabase(ctx)
	if err != nil {
		return err
	}
	defer d.Close() // after the server stopped: the pool, then the embedded PostgreSQL
	srv, err := app.NewServer(c.cfg, d, c.logger)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Stop()
	c.logger.Info("hookd serving", slog.String("version", versionString()), slog.String("addr", srv.Addr()),
		slog.Bool("embedded_database", d.Embedded))
	if c.cfg.Console.SSH.Listen != "" {
		// The console over SSH, for operators without a shell account.
		stopSSH, err := c.startSSHConsole(ctx, d, c.cfg.Console.ReadOnly)
		if err != nil {
			return err
		}
		defer stopSSH()
	}
	if c.serverStarted != nil {
		c.serverStarted(srv)
	}
	if withConsole && serveConsole != nil {
		return serveConsole(ctx, c, srv, d)
	}
	return srv.Wait(ctx)
}
