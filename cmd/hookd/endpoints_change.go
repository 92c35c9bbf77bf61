package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/endpoint"
)

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func newEndpointsUpdateCmd(c *cli) *cobra.Command {
	var f endpointFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update ID [--url URL] [--events ...] [--description ...] [--header K=V]...",
		Short: "Change an endpoint; only the flags given change (--header replaces all headers)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := endpoint.UpdateParams{Guard: c.guard()}
			fl := cmd.Flags()
			if fl.Changed("url") {
				p.URL = &f.url
			}
			if fl.Changed("description") {
				p.Description = &f.description
			}
			if fl.Changed("events") {
				types, err := eventTypes(cmd, f.events)
				if err != nil {
					return err
				}
				p.EventTypes = &types
			}
			if fl.Changed("header") {
				h, err := parseHeaders(f.headers)
				if err != nil {
					return err
				}
				p.Headers = &h
			}
			if fl.Changed("max-in-flight") {
				p.MaxInFlight = &f.maxInFlight
			}
			if fl.Changed("rate-limit") {
				p.RateLimit = &f.rateLimit
			}
			if fl.Changed("signatures") {
				p.Signatures = &f.signatures
			}
			if fl.Changed("ordering") {
				p.Ordering = &f.ordering
			}
			if fl.Changed("timeout") {
				d := endpoint.Duration(f.timeout)
				p.Timeout = &d
			}
			changed := changedFlags(cmd.LocalFlags())
			if len(changed) == 0 {
				// Run, it changed nothing but updated_at, audited as an edit.
				return fmt.Errorf("endpoints update: give at least one flag to change (see --help)")
			}
			e := audit.Entry{Action: audit.ActionEdit, Detail: "changed " + strings.Join(changed, ", ")}
			return c.changeEndpoint(cmd, args[0], asJSON, "updated", e, func(tx pgx.Tx) (*endpoint.Endpoint, error) {
				return endpoint.Update(cmd.Context(), tx, args[0], p)
			})
		},
	}
	f.register(cmd, false)
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// changeEndpoint runs change, recorded as e in the audit trail, and
// prints the endpoint it returns.
func (c *cli) changeEndpoint(cmd *cobra.Command, id string, asJSON bool, verb string, e audit.Entry,
	change func(pgx.Tx) (*endpoint.Endpoint, error)) error {
	return c.withDB(cmd.Context(), func(d *app.Database) error {
		var ep *endpoint.Endpoint
		e.Target = id
		err := c.audited(cmd.Context(), d, &e, func(tx pgx.Tx) (n int64, err error) {
			ep, err = change(tx)
			return 1, err
		})
		if err != nil {
			return notFound(err, "endpoint", id)
		}
		if asJSON {
			return c.printJSON(ep.Redacted())
		}
		_, err = fmt.Fprintf(c.out, "%s endpoint %s (%s)\n", verb, ep.ID, enabledCell(ep))
		return err
	})
}

func newEndpointsEnableCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "enable ID",
		Short: "Enable an endpoint; its held deliveries resume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.changeEndpoint(cmd, args[0], asJSON, "enabled", audit.Entry{Action: audit.ActionEnable}, func(tx pgx.Tx) (*endpoint.Endpoint, error) {
				return endpoint.Enable(cmd.Context(), tx, args[0])
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newEndpointsDisableCmd(c *cli) *cobra.Command {
	var asJSON bool
	var reason string
	cmd := &cobra.Command{
		Use:   "disable ID [--reason TEXT]",
		Short: "Disable an endpoint; its deliveries are held until it is enabled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := audit.Entry{Action: audit.ActionDisable, Detail: reason}
			return c.changeEndpoint(cmd, args[0], asJSON, "disabled", e, func(tx pgx.Tx) (*endpoint.Endpoint, error) {
				return endpoint.Disable(cmd.Context(), tx, args[0], reason)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "disabled by operator", "why, shown in lists and alerts")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newEndpointsRmCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"delete"},
		Short:   "Delete an endpoint with its deliveries and attempts",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				err := c.audited(cmd.Context(), d, &audit.Entry{Action: audit.ActionDelete, Target: args[0]}, func(tx pgx.Tx) (int64, error) {
					return 1, endpoint.Delete(cmd.Context(), tx, args[0])
				})
				if err != nil {
					return notFound(err, "endpoint", args[0])
				}
				_, err = fmt.Fprintf(c.out, "deleted endpoint %s\n", args[0])
				return err
			})
		},
	}
}

func newEndpointsRotateCmd(c *cli) *cobra.Command {
	var asJSON bool
	var secret string
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secret ID [--overlap 24h]",
		Short: "Make a new signing secret; the old one keeps signing during the overlap",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("overlap") {
				overlap = c.cfg.Delivery.SecretOverlap
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				var ep *endpoint.Endpoint
				e := audit.Entry{Action: audit.ActionRotate, Target: args[0], Detail: "previous secret signs for " + overlap.String()}
				err := c.audited(cmd.Context(), d, &e, func(tx pgx.Tx) (n int64, err error) {
					ep, err = endpoint.RotateSecret(cmd.Context(), tx, args[0], secret, overlap)
					return 1, err
				})
				if err != nil {
					return notFound(err, "endpoint", args[0])
				}
				if asJSON {
					return c.printJSON(ep.RedactedHeaders())
				}
				k := c.kv()
				k.add("id", ep.ID)
				k.add("secret", ep.Secret)
				k.add("previous secret until", ep.PreviousSecretExpiresAt)
				return k.flush()
			})
		},
	}
	cmd.Flags().StringVar(&secret, "secret", "", "the new whsec_ secret (default: generated)")
	cmd.Flags().DurationVar(&overlap, "overlap", endpoint.DefaultSecretOverlap, "how long the previous secret keeps signing (default delivery.secret_overlap)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}
