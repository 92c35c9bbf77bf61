package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

// filterFlags are the delivery filters shared by deliveries ls and replay.
type filterFlags struct {
	state, endpoint, tenant, eventType, event, since, until string
}

func (f *filterFlags) register(cmd *cobra.Command, stateHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.state, "state", "", stateHelp)
	fl.StringVar(&f.endpoint, "endpoint", "", "endpoint id")
	fl.StringVar(&f.tenant, "tenant", "", "tenant id: only its deliveries")
	fl.StringVar(&f.eventType, "event-type", "", "event type, exact or prefix such as payment.*")
	fl.StringVar(&f.event, "event", "", "event id")
	fl.StringVar(&f.since, "since", "", "created at or after: RFC 3339, a date, or a duration ago such as 24h")
	fl.StringVar(&f.until, "until", "", "created before: RFC 3339, a date, or a duration ago")
}

func (f *filterFlags) filter(now time.Time) (delivery.Filter, error) {
	since, err := parseWhen("since", f.since, now)
	if err != nil {
		return delivery.Filter{}, err
	}
	until, err := parseWhen("until", f.until, now)
	if err != nil {
		return delivery.Filter{}, err
	}
	flt := delivery.Filter{State: delivery.State(f.state), EndpointID: f.endpoint, Tenant: f.tenant, EventType: f.eventType,
		EventID: f.event, Since: since, Until: until}
	return flt, flt.Validate()
}

func newDeliveriesCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deliveries",
		Aliases: []string{"delivery", "dl"},
		Short:   "List and inspect deliveries and their attempts",
	}
	cmd.AddCommand(newDeliveriesLsCmd(c), newDeliveriesShowCmd(c))
	return asGroup(cmd)
}

func newDeliveriesLsCmd(c *cli) *cobra.Command {
	var f filterFlags
	var limit int
	var before int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List deliveries, newest first (dead letters: --state dead)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			if err := checkBefore(before); err != nil {
				return err
			}
			flt, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				if err := existingTenant(cmd.Context(), d.Pool, flt.Tenant); err != nil {
					return err
				}
				page, err := delivery.Fill(cmd.Context(), d.Pool, delivery.ListParams{Filter: flt, Before: before, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(page)
				}
				t := c.table("ID", "STATE", "ATTEMPTS", "EVENT", "TYPE", "ENDPOINT", "TENANT", "LAST RESULT", "NEXT ATTEMPT", "CREATED")
				for _, dl := range page.Deliveries {
					next := any(nil)
					if dl.AwaitsAttempt() {
						next = dl.NextAttemptAt
					}
					t.row(dl.ID, dl.State, dl.Attempts, dl.EventID, dl.EventType, dl.EndpointID, dl.TenantID, lastResult(dl), next, dl.CreatedAt)
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
	f.register(cmd, "state: "+states())
	cmd.Flags().IntVar(&limit, "limit", 50, "rows per page, 1 to 1000")
	cmd.Flags().Int64Var(&before, "before", 0, "continue below this delivery id (from the previous page)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func states() string {
	s := make([]string, len(delivery.States))
	for i, v := range delivery.States {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// lastResult summarises the last attempt: status and error class.
func lastResult(d delivery.Delivery) string {
	var parts []string
	if d.LastStatus != nil {
		parts = append(parts, strconv.Itoa(*d.LastStatus))
	}
	if d.LastErrorClass != "" {
		parts = append(parts, d.LastErrorClass)
	}
	if len(parts) == 0 && d.LastError != "" {
		parts = append(parts, truncate(d.LastError, 30))
	}
	return strings.Join(parts, " ")
}

// parseID reads a numeric delivery id; the error names the argument.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, validate.Errorf("ID", "%q is not a delivery id (a positive number, as listed by hookd deliveries ls)", s)
	}
	return id, nil
}

func newDeliveriesShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a delivery with every attempt: request headers, response, duration, error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				dl, err := delivery.Get(ctx, d.Pool, id)
				if err != nil {
					return notFound(err, "delivery", args[0])
				}
				attempts, err := delivery.Attempts(ctx, d.Pool, id)
				if err != nil {
					return err
				}
				for i := range attempts {
					// Custom headers are often credentials; older attempts
					// recorded them as sent.
					attempts[i].RequestHeaders = endpoint.RedactRequestHeaders(attempts[i].RequestHeaders)
				}
				if asJSON {
					return c.printJSON(struct {
						*delivery.Delivery
						AttemptLog []delivery.Attempt `json:"attempt_log"`
					}{dl, attempts})
				}
				c.printDelivery(dl, attempts)
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) printDelivery(dl *delivery.Delivery, attempts []delivery.Attempt) {
	k := c.kv()
	k.add("id", dl.ID)
	k.add("state", dl.State)
	k.add("event", dl.EventID)
	k.add("type", dl.EventType)
	k.add("endpoint", dl.EndpointID)
	k.add("tenant", dl.TenantID)
	k.add("attempts", dl.Attempts)
	k.add("replays", dl.Replays)
	if dl.AwaitsAttempt() {
		k.add("next attempt", dl.NextAttemptAt)
	}
	k.add("last result", lastResult(*dl))
	k.add("last error", dl.LastError)
	k.add("created", dl.CreatedAt)
	k.add("completed", dl.CompletedAt)
	_ = k.flush()
	for _, a := range attempts {
		c.printAttempt(a)
	}
	if len(attempts) == 0 {
		fmt.Fprintln(c.out, "\nno attempts yet")
	}
}

func (c *cli) printAttempt(a delivery.Attempt) {
	result := "ok"
	if a.ErrorClass != "" {
		result = a.ErrorClass
	}
	fmt.Fprintf(c.out, "\nattempt %d at %s, %s, %s (worker %s)\n", a.Attempt, fmtTime(a.StartedAt),
		a.Duration.Round(time.Millisecond), result, cell(a.Worker))
	fmt.Fprintf(c.out, "  POST %s\n", a.RequestURL)
	for _, name := range sortedHeaderNames(a.RequestHeaders) {
		for _, v := range a.RequestHeaders[name] {
			fmt.Fprintf(c.out, "  > %s: %s\n", name, v)
		}
	}
	if a.Error != "" {
		fmt.Fprintf(c.out, "  error: %s\n", a.Error)
	}
	if a.ResponseStatus != nil {
		fmt.Fprintf(c.out, "  < status %d\n", *a.ResponseStatus)
		for _, name := range sortedHeaderNames(a.ResponseHeaders) {
			for _, v := range a.ResponseHeaders[name] {
				fmt.Fprintf(c.out, "  < %s: %s\n", name, v)
			}
		}
		if a.ResponseBody != "" {
			indent(c.out, "  | ", a.ResponseBody)
		}
	}
}

// existingTenant refuses a --tenant filter naming no tenant, as the API
// refuses ?tenant=: an empty answer would hide the typo.
func existingTenant(ctx context.Context, ex db.Executor, id string) error {
	if id == "" {
		return nil
	}
	if err := validate.TenantID("--tenant", id); err != nil {
		return err
	}
	if _, err := tenant.Get(ctx, ex, id); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return validate.Errorf("--tenant", "%q is no tenant (hookd tenants ls lists them)", id)
		}
		return err
	}
	return nil
}
