package main

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/validate"
)

func newInboxCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List, inspect and replay received (inbound) webhooks",
	}
	cmd.AddCommand(newInboxLsCmd(c), newInboxShowCmd(c), newInboxReplayCmd(c))
	return asGroup(cmd)
}

func newInboxLsCmd(c *cli) *cobra.Command {
	var p inbox.ListParams
	var state string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--source NAME] [--state STATE]",
		Aliases: []string{"list"},
		Short:   "List received webhooks, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(p.Limit); err != nil {
				return err
			}
			if err := checkBefore(p.Before); err != nil {
				return err
			}
			p.State = inbox.State(state)
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				page, err := inbox.List(cmd.Context(), d.Pool, p)
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(page)
				}
				t := c.table("ID", "SOURCE", "EVENT", "TYPE", "STATE", "ATTEMPTS", "DUPLICATES", "RECEIVED")
				for _, e := range page.Events {
					t.row(e.ID, e.Source, e.EventID, e.Type, e.State, e.Attempts, e.Duplicates, e.ReceivedAt)
				}
				if err := t.flush(); err != nil {
					return err
				}
				if page.Next != 0 {
					fmt.Fprintf(c.out, "more: --before %d\n", page.Next)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.Source, "source", "", "source name")
	fl.StringVar(&state, "state", "", "pending, processed, forwarded or dead")
	fl.Int64Var(&p.Before, "before", 0, "continue below this id (from the previous page)")
	fl.IntVar(&p.Limit, "limit", 50, "rows per page, 1 to 1000")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// parseInboxID reads a numeric inbox id; the error names the argument.
func parseInboxID(s string) (int64, error) {
	id, err := parseID(s)
	if err != nil {
		return 0, validate.Errorf("ID", "%q is not an inbox id (a positive number, as listed by hookd inbox ls)", s)
	}
	return id, nil
}

func newInboxShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a received webhook: headers, body, verification and processing state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseInboxID(args[0])
			if err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				e, err := inbox.Get(cmd.Context(), d.Pool, id)
				if err != nil {
					return notFound(err, "inbox event", args[0])
				}
				if asJSON {
					return c.printJSON(e)
				}
				c.printInboxEvent(e)
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) printInboxEvent(e *inbox.Event) {
	k := c.kv()
	k.add("id", e.ID)
	k.add("source", e.Source)
	k.add("event", e.EventID)
	k.add("type", e.Type)
	k.add("received", e.ReceivedAt)
	k.add("verification", e.Verification)
	k.add("state", e.State)
	k.add("attempts", e.Attempts)
	if e.State == inbox.StatePending {
		k.add("next attempt", e.NextAttemptAt)
	}
	k.add("last error", e.LastError)
	k.add("duplicates", e.Duplicates)
	k.add("processed", e.ProcessedAt)
	_ = k.flush()
	fmt.Fprintln(c.out, "\nheaders:")
	names := make([]string, 0, len(e.Headers))
	for n := range e.Headers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range e.Headers[n] {
			fmt.Fprintf(c.out, "  %s: %s\n", n, v)
		}
	}
	fmt.Fprintln(c.out, "\nbody:")
	if utf8.Valid(e.Body) {
		indent(c.out, "  ", prettyJSON(e.Body))
	} else {
		fmt.Fprintf(c.out, "  (%d bytes of binary data; see --json)\n", len(e.Body))
	}
}

func newInboxReplayCmd(c *cli) *cobra.Command {
	var source string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "replay [ID] | replay [--source NAME] [--dry-run]",
		Short: "Re-queue a dead inbox event, or every dead one (of a source), for processing",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				if source != "" || dryRun {
					return validate.Errorf("ID", "give either an inbox ID or --source/--dry-run, not both")
				}
				id, err := parseInboxID(args[0])
				if err != nil {
					return err
				}
				return c.withDB(ctx, func(d *app.Database) error {
					var e *inbox.Event
					err := c.audited(ctx, d, &audit.Entry{Action: audit.ActionReplay, Target: "inbox event " + args[0]},
						func(tx pgx.Tx) (int64, error) {
							var err error
							e, err = inbox.Replay(ctx, tx, id)
							return 1, err
						})
					if err != nil {
						return notFound(err, "inbox event", args[0])
					}
					if asJSON {
						return c.printJSON(e)
					}
					_, err = fmt.Fprintf(c.out, "re-queued inbox event %d (%s)\n", e.ID, e.State)
					return err
				})
			}
			return c.withDB(ctx, func(d *app.Database) error {
				var n int64
				var err error
				if dryRun {
					n, err = inbox.ReplayMatching(ctx, d.Pool, inbox.ReplayParams{Source: source, DryRun: true})
				} else {
					target := "inbox: every dead event"
					if source != "" {
						target = "inbox source:" + source
					}
					err = c.audited(ctx, d, &audit.Entry{Action: audit.ActionReplay, Target: target}, func(tx pgx.Tx) (int64, error) {
						n, err = inbox.ReplayMatching(ctx, tx, inbox.ReplayParams{Source: source})
						return n, err
					})
				}
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(map[string]any{"matched": n, "dry_run": dryRun})
				}
				if dryRun {
					_, err = fmt.Fprintf(c.out, "%d dead inbox event%s match; dry run, nothing re-queued\n", n, plural(int(n)))
				} else {
					_, err = fmt.Fprintf(c.out, "%d dead inbox event%s re-queued\n", n, plural(int(n)))
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "only this source's dead events")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count, change nothing")
	addJSONFlag(cmd, &asJSON)
	return cmd
}
