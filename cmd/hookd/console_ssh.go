package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	tuiapp "github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/sshserve"
)

func newConsoleSSHCmd(c *cli) *cobra.Command {
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "serve-ssh",
		Short: "Serve the console over SSH to the keys in console.ssh.authorized_keys (and read_only_keys)",
		Long: `Serve the console over SSH on console.ssh.listen until interrupted. Every
session gets a console of its own, sized to the client's terminal; a
session without a terminal is refused (connect with ssh -t).

Only the public keys in console.ssh.authorized_keys may connect; passwords
are refused. Keys in console.ssh.read_only_keys get a read-only console:
every action they try is refused and recorded in the audit trail. The host key is read from console.ssh.host_key, generated
there (ed25519, mode 0600) on first start.

--read-only (or console.read_only) hides and refuses every action in
every session.`,
		Example: `  HOOKD_CONSOLE_SSH_LISTEN=127.0.0.1:2222 \
  HOOKD_CONSOLE_SSH_AUTHORIZED_KEYS=~/.ssh/authorized_keys hookd console serve-ssh
  ssh -t -p 2222 127.0.0.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc := c.cfg.Console.SSH
			if sc.Listen == "" {
				return errors.New(`console.ssh.listen is empty: set it (e.g. 127.0.0.1:2222) and console.ssh.authorized_keys (or read_only_keys) to serve the console over SSH`)
			}
			ctx := cmd.Context()
			d, err := c.OpenDatabase(ctx)
			if err != nil {
				return err
			}
			defer d.Close()
			stop, err := c.startSSHConsole(ctx, d, readOnly || c.cfg.Console.ReadOnly)
			if err != nil {
				return err
			}
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "hide and refuse every action (replay, enable, disable) in every session")
	return cmd
}

// startSSHConsole serves the console over SSH on console.ssh.listen until
// the returned stop is called. `hookd console serve-ssh` and `hookd serve`
// (when console.ssh.listen is set) both use it.
func (c *cli) startSSHConsole(ctx context.Context, d *app.Database, readOnly bool) (stop func(), err error) {
	sc := c.cfg.Console.SSH
	srv, err := sshserve.New(sshserve.Config{
		Listen:         sc.Listen,
		HostKey:        sc.HostKey,
		AuthorizedKeys: sc.AuthorizedKeys,
		ReadOnlyKeys:   sc.ReadOnlyKeys,
		Console: tuiapp.Options{
			Source: data.NewPostgres(d.Pool, data.WithRetention(c.cfg.Retention.Period),
				data.WithAllowedNetworks(c.cfg.Delivery.AllowedNetworks)),
			ReadOnly:      readOnly,
			Refresh:       c.cfg.Console.Refresh,
			SecretOverlap: c.cfg.Delivery.SecretOverlap,
		},
		Logger: c.logger,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("console over SSH: %w", err)
	}
	return srv.Stop, nil
}
