package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
)

func init() { registerCommand(newAuditCmd) }

func newAuditCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit trail: who replayed, disabled, enabled, rotated, edited or deleted what",
	}
	cmd.AddCommand(newAuditLsCmd(c))
	return asGroup(cmd)
}

func newAuditLsCmd(c *cli) *cobra.Command {
	var p audit.ListParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--actor WHO] [--action ACTION] [--outcome ok|refused|failed]",
		Aliases: []string{"list"},
		Short:   "List recorded actions, newest first",
		Long: `List the actions recorded in the audit trail, newest first: every
replay, disable, enable, secret rotation, edit, deletion, test event,
skip, tenant erasure and token change taken from the console (with the SSH
key's fingerprint or the local user), the command line (with the user who
ran it) or the HTTP API (with the API key's id, or the tenant token's),
and every action a read-only console refused.`,
		Example: `  hookd audit ls
  hookd audit ls --action replay --limit 20
  hookd audit ls --actor SHA256:Ab3…  --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(p.Limit); err != nil {
				return err
			}
			if err := checkBefore(p.Before); err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				page, err := audit.List(cmd.Context(), d.Pool, p)
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(page)
				}
				t := c.table("ID", "AT", "WHO", "VIA", "ACTION", "TARGET", "ROWS", "OUTCOME", "DETAIL")
				for _, e := range page.Entries {
					outcome := e.Outcome
					if e.Error != "" {
						outcome += ": " + e.Error
					}
					t.row(e.ID, e.At, e.Actor.String(), e.Via, e.Action, truncate(e.Target, 60), e.Rows, outcome, truncate(e.Detail, 80))
				}
				if err := t.flush(); err != nil {
					return err
				}
				if page.Next != 0 {
					_, err = fmt.Fprintf(c.out, "(more: --before %d)\n", page.Next)
				}
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.Actor, "actor", "", "who: an SSH key fingerprint, a user name or an API key id (key_...)")
	fl.StringVar(&p.Action, "action", "", strings.Join(audit.Actions, ", "))
	fl.StringVar(&p.Outcome, "outcome", "", "ok, refused or failed")
	fl.IntVar(&p.Limit, "limit", 50, "rows per page (at most 1000)")
	fl.Int64Var(&p.Before, "before", 0, "continue below this id (printed after a full page)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// audited runs change in a transaction and records e in the audit trail
// in the same transaction, as the user running the command, with the
// number of rows change reports: the change and its entry commit
// together. change may fill in e (an id it made).
func (c *cli) audited(ctx context.Context, d *app.Database, e *audit.Entry, change func(tx pgx.Tx) (rows int64, err error)) error {
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		n, err := change(tx)
		if err != nil {
			return err
		}
		e.Actor, e.Via, e.Rows = audit.LocalUser(audit.KindCLI), audit.ViaCLI, n
		return audit.Record(ctx, tx, *e)
	})
}

// filterTarget names a bulk replay's filter in the audit trail, in the
// console's filter syntax.
func filterTarget(f delivery.Filter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+":"+v)
		}
	}
	add("state", string(orState(f.State, delivery.StateDead)))
	add("tenant", f.Tenant)
	add("endpoint", f.EndpointID)
	add("type", f.EventType)
	add("id", f.EventID)
	if !f.Since.IsZero() {
		add("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		add("until", f.Until.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

// changedFlags names the flags given on the command line, for an edit's
// entry in the audit trail (the names only: a header value may be a
// credential).
func changedFlags(fl *pflag.FlagSet) []string {
	var names []string
	fl.VisitAll(func(f *pflag.Flag) {
		if f.Changed && f.Name != "json" {
			names = append(names, f.Name)
		}
	})
	return names
}
