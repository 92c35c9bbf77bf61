package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

func newEventsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event"},
		Short:   "Read the event feed and inspect events",
	}
	cmd.AddCommand(newEventsLsCmd(c), newEventsShowCmd(c))
	return asGroup(cmd)
}

func newEventsLsCmd(c *cli) *cobra.Command {
	var after, types, tenantID string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--after CURSOR] [--type 'payment.*']",
		Aliases: []string{"list"},
		Short:   "List events in publish order, from a cursor (the polling feed)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			cur, err := outbox.ParseCursor(after)
			if err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				if err := existingTenant(cmd.Context(), d.Pool, tenantID); err != nil {
					return err
				}
				page, err := outbox.Feed(cmd.Context(), d.Pool, outbox.FeedParams{After: cur, Tenant: tenantID, Types: splitList(types), Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					evs := page.Events
					if evs == nil {
						evs = []outbox.Event{}
					}
					return c.printJSON(map[string]any{"events": evs, "next_cursor": page.Next.String(), "aged_out": page.AgedOut})
				}
				if page.AgedOut {
					fmt.Fprintln(c.err, "note: the cursor is older than retention.period; events after it were dropped, and this page starts at the oldest kept")
				}
				t := c.table("ID", "TYPE", "TENANT", "CREATED", "DATA")
				for _, ev := range page.Events {
					tn := ev.Tenant
					if ev.Broadcast {
						tn = "(broadcast)"
					}
					t.row(ev.ID, ev.Type, tn, ev.Created, truncate(string(ev.Data), 60))
				}
				if err := t.flush(); err != nil {
					return err
				}
				_, err = fmt.Fprintf(c.out, "next cursor: %s\n", cell(page.Next.String()))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "cursor from a previous page (default: the beginning)")
	cmd.Flags().StringVar(&types, "type", "", "event types, comma-separated, exact or prefix such as payment.*")
	cmd.Flags().IntVar(&limit, "limit", 100, "events per page, 1 to 1000")
	cmd.Flags().StringVar(&tenantID, "tenant", "", "only this tenant's events (and broadcasts)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newEventsShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an event with its deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				ev, err := outbox.Get(ctx, d.Pool, args[0])
				if err != nil {
					return notFound(err, "event", args[0])
				}
				ds, err := delivery.ForEvent(ctx, d.Pool, ev.ID)
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(struct {
						*outbox.Event
						Deliveries []delivery.Delivery `json:"deliveries"`
					}{ev, ds})
				}
				k := c.kv()
				k.add("id", ev.ID)
				k.add("type", ev.Type)
				k.add("created", ev.Created)
				k.add("tenant", ev.Tenant)
				if ev.Broadcast {
					k.add("broadcast", "yes")
				}
				k.add("for endpoint", ev.EndpointID)
				_ = k.flush()
				fmt.Fprintln(c.out, "data:")
				indent(c.out, "  ", prettyJSON(ev.Data))
				fmt.Fprintln(c.out)
				t := c.table("DELIVERY", "ENDPOINT", "STATE", "ATTEMPTS", "LAST RESULT")
				for _, dl := range ds {
					t.row(dl.ID, dl.EndpointID, dl.State, dl.Attempts, lastResult(dl))
				}
				return t.flush()
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}
