package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/retention"
)

func init() { registerCommand(newDBCmd) }

func newDBCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Look at what hookd keeps in its database", Args: cobra.NoArgs}
	var asJSON bool
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Size per table and partition, rows per day, bytes per delivery, and when history leaves",
		Long: `Show what hookd keeps on disk: every table's size (partitioned tables
summed over their partitions), the partitions kept, events and deliveries
per day, bytes of history per delivery, the oldest partition kept and when
it is dropped (retention.period after it ends). Sizes come from
PostgreSQL's catalog and row counts are its estimates, so this is cheap on
any database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				st, err := retention.ReadStats(cmd.Context(), d.Pool, c.cfg.Retention.Period, time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(st)
				}
				return c.printStats(st)
			})
		},
	}
	addJSONFlag(stats, &asJSON)
	cmd.AddCommand(stats)
	return cmd
}

func (c *cli) printStats(st retention.Stats) error {
	out := c.out
	fmt.Fprintf(out, "retention.period %s, partitions of %s\n", st.Period, st.Span)
	if st.OldestKept != nil {
		fmt.Fprintf(out, "oldest kept partition from %s; next drop at %s\n",
			st.OldestKept.Format(time.RFC3339), st.NextDrop.Format(time.RFC3339))
	}
	if st.State.LastRunAt != nil {
		fmt.Fprintf(out, "retention last ran at %s\n", st.State.LastRunAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintln(out, "retention has not run yet (the maintenance leader of hookd serve runs it)")
	}
	fmt.Fprintf(out, "about %.0f events and %.0f deliveries a day; %s of history per delivery; %s in all\n\n",
		st.EventsPerDay, st.DeliveriesPerDay, humanBytes(int64(st.BytesPerDelivery)), humanBytes(st.TotalBytes))
	t := c.table("TABLE", "SIZE", "ROWS (EST.)", "")
	for _, tb := range st.Tables {
		kind := ""
		if tb.Partitioned {
			kind = "partitioned"
		}
		t.row(tb.Table, humanBytes(tb.Bytes), tb.Rows, kind)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	p := c.table("PARTITION", "FROM", "UNTIL", "SIZE", "ROWS (EST.)")
	for _, s := range st.Partitions {
		p.row(s.Name, s.Lower.Format(time.RFC3339), s.Upper.Format(time.RFC3339), humanBytes(s.Bytes), s.Rows)
	}
	return p.flush()
}

// humanBytes writes a size in B, kB, MB or GB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
