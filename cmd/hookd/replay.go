package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/validate"
)

func newReplayCmd(c *cli) *cobra.Command {
	var f filterFlags
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "replay [ID] | replay [--state dead] [--endpoint ID] [--event-type T] [--since T] [--until T] [--dry-run]",
		Short: "Re-queue one delivery, or every delivery matching a filter (dead letters by default)",
		Long: `Replay re-queues deliveries for an immediate attempt with a fresh retry
budget; every earlier attempt stays in the log. With an ID it replays that
delivery; otherwise every delivery matching the filter (state defaults to
dead). --dry-run only counts the matches.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				if (f != filterFlags{}) || dryRun {
					return validate.Errorf("ID", "give either a delivery ID or filter flags, not both")
				}
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				return c.withDB(ctx, func(d *app.Database) error {
					dl, err := delivery.Replay(ctx, d.Pool, id)
					if err != nil {
						return notFound(err, "delivery", args[0])
					}
					if asJSON {
						return c.printJSON(dl)
					}
					_, err = fmt.Fprintf(c.out, "re-queued delivery %d (%s; earlier attempts kept)\n", dl.ID, dl.State)
					return err
				})
			}
			flt, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			return c.withDB(ctx, func(d *app.Database) error {
				n, err := delivery.ReplayMatching(ctx, d.Pool, delivery.ReplayParams{Filter: flt, DryRun: dryRun})
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(map[string]any{"matched": n, "requeued": map[bool]int64{true: 0, false: n}[dryRun], "dry_run": dryRun})
				}
				state := orState(flt.State, delivery.StateDead)
				if dryRun {
					_, err = fmt.Fprintf(c.out, "%d %s deliver%s match; dry run, nothing re-queued\n", n, state, ies(n))
				} else {
					_, err = fmt.Fprintf(c.out, "%d %s deliver%s matched and re-queued\n", n, state, ies(n))
				}
				return err
			})
		},
	}
	f.register(cmd, "state to replay (default dead): "+states())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count the matching deliveries, change nothing")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func orState(s, def delivery.State) delivery.State {
	if s == "" {
		return def
	}
	return s
}

func ies(n int64) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}
