package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	tuiapp "github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/data"
)

func init() {
	registerCommand(newConsoleCmd)
	serveConsole = func(ctx context.Context, c *cli, _ *app.Server, d *app.Database) error {
		return c.runConsole(ctx, d, c.cfg.Console.ReadOnly, "This also stops hookd (the engine and the HTTP API) and the PostgreSQL it runs.")
	}
}

func newConsoleCmd(c *cli) *cobra.Command {
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Open the operations console on the configured database",
		Long: `Open the terminal console: live queues, endpoint health, attempt
inspection, dead letters and replay. It reads and writes the database
directly and needs no running "hookd serve"; what it replays or re-enables
is picked up by the engine of every hookd serving that database.

--read-only (or console.read_only) hides and refuses every action.`,
		Example: `  hookd console
  hookd console --read-only
  hookd serve --console      # the engine and the console in one process`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := c.OpenDatabase(ctx)
			if err != nil {
				return err
			}
			defer d.Close()
			return c.runConsole(ctx, d, readOnly || c.cfg.Console.ReadOnly, "")
		},
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "hide and refuse every action (replay, enable, disable)")
	cmd.AddCommand(newConsoleSSHCmd(c))
	return cmd
}

// runConsole shows the console on the terminal until the operator quits or
// ctx ends; quitNote says what else quitting stops. The console logs
// nothing to the terminal it draws on: errors it recovers from are shown
// in its message line.
func (c *cli) runConsole(ctx context.Context, d *app.Database, readOnly bool, quitNote string) error {
	err := tuiapp.Run(ctx, tuiapp.Options{
		Source: data.NewPostgres(d.Pool, data.WithRetention(c.cfg.Retention.Period),
			data.WithAllowedNetworks(c.cfg.Delivery.AllowedNetworks)),
		Logger:        slog.New(slog.DiscardHandler),
		ReadOnly:      readOnly,
		Refresh:       c.cfg.Console.Refresh,
		QuitNote:      quitNote,
		SecretOverlap: c.cfg.Delivery.SecretOverlap,
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}
