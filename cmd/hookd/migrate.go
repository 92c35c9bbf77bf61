package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/db"
)

func newMigrateCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations (safe to run again)",
		Long: `Apply every pending migration, each in its own transaction, under an
advisory lock so that several hookd processes never apply one twice.
Running it again changes nothing. "hookd migrate status" lists them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withConn(cmd.Context(), true, func(d *app.Database) error { return c.migrate(cmd.Context(), d) })
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withConn(cmd.Context(), false, func(d *app.Database) error {
				list, err := db.Status(cmd.Context(), d.Pool)
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(list)
				}
				t := c.table("VERSION", "NAME", "STATE")
				for _, m := range list {
					t.row(m.Version, m.Name, map[bool]string{true: "applied", false: "pending"}[m.Applied])
				}
				return t.flush()
			})
		},
	}
	addJSONFlag(status, &asJSON)
	cmd.AddCommand(status)
	return cmd
}

// withConn is withDB without the schema check, for the migrate commands;
// with create, an embedded database is created on first use.
func (c *cli) withConn(ctx context.Context, create bool, fn func(*app.Database) error) error {
	if !create {
		if err := app.RequireExisting(c.cfg); err != nil {
			return err
		}
	}
	d, err := app.Connect(ctx, c.cfg, c.logger)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}

func (c *cli) migrate(ctx context.Context, d *app.Database) error {
	before, err := db.Status(ctx, d.Pool)
	if err != nil {
		return err
	}
	if err := db.MigratePool(ctx, d.Pool); err != nil {
		return err
	}
	after, err := db.Status(ctx, d.Pool)
	if err != nil {
		return err
	}
	applied := 0
	for i, m := range after {
		if m.Applied && !before[i].Applied {
			fmt.Fprintf(c.out, "applied %s (version %d)\n", m.Name, m.Version)
			applied++
		}
	}
	if applied == 0 && len(after) > 0 {
		fmt.Fprintf(c.out, "nothing to apply: the schema is at version %d (%s)\n", after[len(after)-1].Version, after[len(after)-1].Name)
	}
	return nil
}
