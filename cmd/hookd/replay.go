package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/validate"
)

// replayResult is what replay --json prints for a filter or a dry run:
// the fields of POST /v1/replay.
type replayResult struct {
	Matched  int64 `json:"matched"`
	Replayed int64 `json:"replayed"`
	DryRun   bool  `json:"dry_run"`
}

func newReplayCmd(c *cli) *cobra.Command {
	var f filterFlags
	var dryRun, asJSON, all bool
	cmd := &cobra.Command{
		Use:   "replay [ID] [--dry-run] | replay [--state dead] [--endpoint ID] [--tenant ID] [--event-type T] [--event ID] [--since T] [--until T] [--all] [--dry-run]",
		Short: "Re-queue one delivery, or every delivery matching a filter (dead letters by default)",
		Long: `Replay re-queues deliveries for an immediate attempt with a fresh retry
budget; every earlier attempt stays in the log. With an ID it replays that
delivery; otherwise every delivery matching the filter (state defaults to
dead). A filter that names no endpoint, tenant, event, type or time would
re-queue every delivery in its state: it takes --all to say so.
--dry-run only reports what would be re-queued and changes nothing.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				if (f != filterFlags{}) {
					return validate.Errorf("ID", "give either a delivery ID or filter flags (--state, --endpoint, --tenant, --event-type, --event, --since, --until), not both")
				}
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				return c.withDB(ctx, func(d *app.Database) error { return c.replayOne(ctx, d, id, dryRun, asJSON) })
			}
			flt, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			if broad := (f == filterFlags{state: f.state}); broad && !all && !dryRun {
				return validate.Errorf("--all", "with no delivery ID and no filter but the state, this re-queues every %s delivery: "+
					"add --all to mean it, or --dry-run to count them first", orState(flt.State, delivery.StateDead))
			}
			return c.withDB(ctx, func(d *app.Database) error {
				if err := existingTenant(ctx, d.Pool, flt.Tenant); err != nil {
					return err
				}
				var n int64
				var err error
				if dryRun {
					n, err = delivery.ReplayMatching(ctx, d.Pool, delivery.ReplayParams{Filter: flt, DryRun: true})
				} else {
					err = c.audited(ctx, d, &audit.Entry{Action: audit.ActionReplay, Target: filterTarget(flt)}, func(tx pgx.Tx) (int64, error) {
						n, err = delivery.ReplayMatching(ctx, tx, delivery.ReplayParams{Filter: flt})
						return n, err
					})
				}
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(replayResult{Matched: n, Replayed: map[bool]int64{true: 0, false: n}[dryRun], DryRun: dryRun})
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
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be re-queued, change nothing")
	cmd.Flags().BoolVar(&all, "all", false, "with no filter but --state: re-queue every delivery in that state")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// replayOne replays delivery id; with dryRun it only reports whether it
// would be re-queued, failing as the replay would (unknown, in flight).
func (c *cli) replayOne(ctx context.Context, d *app.Database, id int64, dryRun, asJSON bool) error {
	if !dryRun {
		var dl *delivery.Delivery
		err := c.audited(ctx, d, &audit.Entry{Action: audit.ActionReplay, Target: fmt.Sprintf("delivery %d", id)}, func(tx pgx.Tx) (n int64, err error) {
			dl, err = delivery.Replay(ctx, tx, id)
			return 1, err
		})
		if err != nil {
			return notFound(err, "delivery", fmt.Sprint(id))
		}
		if asJSON {
			return c.printJSON(dl) // as POST /v1/deliveries/{id}/replay
		}
		_, err = fmt.Fprintf(c.out, "re-queued delivery %d (%s; earlier attempts kept)\n", dl.ID, dl.State)
		return err
	}
	dl, err := delivery.Get(ctx, d.Pool, id)
	if err != nil {
		return notFound(err, "delivery", fmt.Sprint(id))
	}
	if dl.State == delivery.StateInFlight {
		return validate.Errorf("ID", "delivery %d is in flight; replay it once its attempt has finished", id)
	}
	if asJSON {
		return c.printJSON(replayResult{Matched: 1, DryRun: true})
	}
	_, err = fmt.Fprintf(c.out, "would re-queue delivery %d (%s, %d attempt%s, event %s); dry run, nothing re-queued\n",
		dl.ID, dl.State, dl.Attempts, plural(dl.Attempts), dl.EventID)
	return err
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
