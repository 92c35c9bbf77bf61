package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/validate"
)

func newEndpointsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "endpoints",
		Aliases: []string{"endpoint", "ep"},
		Short:   "Manage the endpoints events are delivered to",
	}
	cmd.AddCommand(newEndpointsAddCmd(c), newEndpointsLsCmd(c), newEndpointsShowCmd(c), newEndpointsUpdateCmd(c),
		newEndpointsEnableCmd(c), newEndpointsDisableCmd(c), newEndpointsRmCmd(c), newEndpointsRotateCmd(c))
	return asGroup(cmd)
}

// endpointFlags are the settable fields shared by add and update.
type endpointFlags struct {
	url, events, description, secret, signatures, ordering string
	headers                                                []string
	maxInFlight, rateLimit                                 int
	timeout                                                time.Duration
}

func (f *endpointFlags) register(cmd *cobra.Command, withSecret bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "absolute http:// or https:// URL that receives the events")
	fl.StringVar(&f.events, "events", "", "event types, comma-separated: exact (invoice.paid), prefix (payment.*) or * for all")
	fl.StringVar(&f.description, "description", "", "free text shown in lists")
	fl.StringArrayVar(&f.headers, "header", nil, "extra request header K=V (repeatable)")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 0, "concurrent attempts to this endpoint (0 = delivery.max_in_flight_per_endpoint)")
	fl.IntVar(&f.rateLimit, "rate-limit", 0, "requests per second (0 = unlimited)")
	fl.DurationVar(&f.timeout, "timeout", 0, "time limit of one attempt (0 = delivery.timeout)")
	fl.StringVar(&f.signatures, "signatures", "v1", "what webhook-signature carries: v1 (HMAC), v1,v1a (with ed25519 too) or v1a")
	fl.StringVar(&f.ordering, "ordering", "concurrent", "concurrent, or fifo: one delivery at a time in publish order")
	if withSecret {
		fl.StringVar(&f.secret, "secret", "", "whsec_ signing secret (default: generated)")
	}
}

// parseHeaders turns K=V flags into a map; the error names the flag.
func parseHeaders(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, h := range list {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, validate.Errorf("--header", "%q is not K=V (example: --header Authorization=Bearer-abc)", h)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// eventTypes reads --events: a flag given but holding no type (an empty
// shell variable, say) is refused rather than read as every type.
func eventTypes(cmd *cobra.Command, events string) ([]string, error) {
	types := splitList(events)
	if cmd.Flags().Changed("events") && len(types) == 0 {
		return nil, validate.Errorf("--events", "%q holds no event type; give event types, or * for all", events)
	}
	return types, nil
}

func newEndpointsAddCmd(c *cli) *cobra.Command {
	var f endpointFlags
	var asJSON, disabled bool
	var tenantID string
	cmd := &cobra.Command{
		Use:        "add --url URL [--events 'payment.*,invoice.paid'] [--tenant ID]",
		SuggestFor: []string{"create", "new"},
		Short:      "Add an endpoint; prints its id and signing secret",
		Args:       cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			headers, err := parseHeaders(f.headers)
			if err != nil {
				return err
			}
			types, err := eventTypes(cmd, f.events)
			if err != nil {
				return err
			}
			p := endpoint.CreateParams{URL: f.url, Description: f.description, EventTypes: types,
				Secret: f.secret, Headers: headers, RateLimit: f.rateLimit, MaxInFlight: f.maxInFlight,
				Timeout: endpoint.Duration(f.timeout), Disabled: disabled, Guard: c.guard(), Signatures: f.signatures,
				Tenant: tenantID, Ordering: f.ordering}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				var ep *endpoint.Endpoint
				e := audit.Entry{Action: audit.ActionCreate}
				err := c.audited(cmd.Context(), d, &e, func(tx pgx.Tx) (int64, error) {
					var err error
					if ep, err = endpoint.Create(cmd.Context(), tx, p); err != nil {
						return 0, err
					}
					e.Target = ep.ID
					if ep.Tenant != "" {
						e.Detail = "tenant " + ep.Tenant
					}
					return 1, nil
				})
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(ep.RedactedHeaders())
				}
				k := c.kv()
				k.add("id", ep.ID)
				k.add("secret", ep.Secret)
				k.add("url", ep.URL)
				k.add("events", eventsCell(ep.EventTypes))
				k.add("tenant", ep.Tenant)
				if ep.PublicKey != "" {
					k.add("public key", ep.PublicKey)
				}
				return k.flush()
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&disabled, "disabled", false, "create the endpoint disabled")
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant the endpoint belongs to (it must exist: hookd tenants add)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func eventsCell(types []string) string {
	if len(types) == 0 {
		return "*"
	}
	return strings.Join(types, ",")
}

func enabledCell(ep *endpoint.Endpoint) string {
	if ep.Enabled {
		return "enabled"
	}
	if ep.DisabledReason != "" {
		return "disabled (" + ep.DisabledReason + ")"
	}
	return "disabled"
}

func newEndpointsLsCmd(c *cli) *cobra.Command {
	var asJSON, all bool
	var tenantID string
	cmd := &cobra.Command{
		Use:     "ls [--tenant ID]",
		Aliases: []string{"list"},
		Short:   "List endpoints",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := endpoint.ListParams{Tenant: tenantID}
			if all {
				p.Kinds = []string{endpoint.KindWebhook, endpoint.KindForward, endpoint.KindAlert}
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				if err := existingTenant(cmd.Context(), d.Pool, tenantID); err != nil {
					return err
				}
				eps, err := endpoint.List(cmd.Context(), d.Pool, p)
				if err != nil {
					return err
				}
				if asJSON {
					// Like GET /v1/endpoints: wrapped, without secrets or
					// header values.
					out := make([]*endpoint.Endpoint, len(eps))
					for i, ep := range eps {
						out[i] = ep.Redacted()
					}
					return c.printJSON(map[string]any{"endpoints": out})
				}
				t := c.table("ID", "TENANT", "URL", "EVENTS", "STATE", "DESCRIPTION")
				for _, ep := range eps {
					t.row(ep.ID, ep.Tenant, ep.URL, eventsCell(ep.EventTypes), enabledCell(ep), truncate(ep.Description, 40))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include intake forward and alert endpoints")
	cmd.Flags().StringVar(&tenantID, "tenant", "", "only this tenant's endpoints")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// guard is the outbound address guard of delivery.allowed_networks, which
// refuses endpoint URLs aimed at loopback, private or metadata addresses
// when they are made.
func (c *cli) guard() *netguard.Guard { return netguard.New(c.cfg.Delivery.AllowedNetworks) }

// getEndpoint wraps ErrNotFound with the id asked for.
func getEndpoint(ctx context.Context, ex db.Executor, id string) (*endpoint.Endpoint, error) {
	ep, err := endpoint.Get(ctx, ex, id)
	return ep, notFound(err, "endpoint", id)
}

// notFound names what was not found.
func notFound(err error, what, id string) error {
	if err == db.ErrNotFound {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return err
}

func newEndpointsShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an endpoint with its delivery health",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				ep, err := getEndpoint(ctx, d.Pool, args[0])
				if err != nil {
					return err
				}
				hs, err := delivery.HealthOf(ctx, d.Pool, []string{ep.ID}, time.Now())
				if err != nil {
					return err
				}
				h := hs[ep.ID]
				if asJSON {
					return c.printJSON(struct {
						*endpoint.Endpoint
						Health *delivery.Health `json:"health"`
					}{ep.RedactedHeaders(), h})
				}
				c.printEndpoint(ep)
				if h != nil {
					c.printHealth(h)
				}
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) printEndpoint(ep *endpoint.Endpoint) {
	k := c.kv()
	k.add("id", ep.ID)
	k.add("url", ep.URL)
	k.add("kind", ep.Kind)
	k.add("tenant", ep.Tenant)
	k.add("description", ep.Description)
	k.add("events", eventsCell(ep.EventTypes))
	k.add("state", enabledCell(ep))
	k.add("disabled at", ep.DisabledAt)
	k.add("secret", ep.Secret)
	k.add("previous secret until", ep.PreviousSecretExpiresAt)
	k.add("signatures", ep.Signatures)
	k.add("ordering", ep.Ordering)
	if ep.PublicKey != "" {
		k.add("public key", ep.PublicKey)
	}
	for _, name := range sortedKeys(ep.Headers) {
		k.add("header "+name, endpoint.Redacted) // write-only: often a credential
	}
	k.add("max in flight", limitCell(ep.MaxInFlight, "delivery.max_in_flight_per_endpoint"))
	k.add("rate limit", limitCell(ep.RateLimit, "unlimited"))
	if ep.Timeout > 0 {
		k.add("timeout", time.Duration(ep.Timeout))
	} else {
		k.add("timeout", "default (delivery.timeout)")
	}
	k.add("created", ep.CreatedAt)
	k.add("updated", ep.UpdatedAt)
	_ = k.flush()
}

func limitCell(n int, zero string) string {
	if n == 0 {
		return "default (" + zero + ")"
	}
	return fmt.Sprint(n)
}

func (c *cli) printHealth(h *delivery.Health) {
	fmt.Fprintln(c.out, "\nhealth:")
	k := c.kv()
	for _, w := range []delivery.Window{h.Last5m, h.Last1h} {
		k.add("  last "+shortSpan(w.Span), fmt.Sprintf("%d attempts, %.1f%% ok, p50 %s, p95 %s",
			w.Attempts, w.SuccessRate*100, w.P50.Round(time.Millisecond), w.P95.Round(time.Millisecond)))
	}
	k.add("  consecutive failures", h.ConsecutiveFailures)
	k.add("  last status", h.LastStatus)
	k.add("  last success", h.LastSuccessAt)
	k.add("  last failure", h.LastFailureAt)
	k.add("  failing since", h.FailingSince)
	k.add("  queue", fmt.Sprintf("%d pending (%d retrying), %d in flight, %d held, %d dead",
		h.Pending, h.Retrying, h.InFlight, h.Held, h.Dead))
	breaker := h.Breaker.State
	if h.Breaker.OpenedAt != nil {
		breaker += " since " + fmtTime(*h.Breaker.OpenedAt)
		if h.Breaker.NextProbeAt != nil {
			breaker += ", next probe " + fmtTime(*h.Breaker.NextProbeAt)
		}
	}
	k.add("  breaker", breaker)
	if b := h.Blocked; b != nil {
		k.add("  blocked by", fmt.Sprintf("delivery %d (event %s, %d attempt%s since %s, next %s): replay or skip it to unblock",
			b.DeliveryID, b.EventID, b.Attempts, plural(b.Attempts), fmtTime(b.Since), fmtTime(b.NextAttemptAt)))
	}
	_ = k.flush()
}

func shortSpan(d time.Duration) string {
	if d >= time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}
