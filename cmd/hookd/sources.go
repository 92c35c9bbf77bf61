package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/signing"
)

func newSourcesCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "sources",
		Aliases: []string{"source"},
		Short:   "Manage the senders hookd accepts webhooks from (served at /in/NAME)",
		Long: `Sources are the senders hookd accepts webhooks from, each served at
/in/NAME. Sources in intake.sources are synced at every start of
"hookd serve" and cannot be changed here; these commands manage the others.`,
	}
	cmd.AddCommand(newSourcesLsCmd(c), newSourcesAddCmd(c), newSourcesShowCmd(c), newSourcesRmCmd(c))
	return asGroup(cmd)
}

func schemeNames() string {
	names := make([]string, len(signing.Schemes))
	for i, s := range signing.Schemes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func newSourcesLsCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List sources (secrets are not shown)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				list, err := inbox.ListSources(cmd.Context(), d.Pool)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]inbox.Source, len(list))
					for i, s := range list {
						out[i] = *s
						out[i].Secrets, out[i].ForwardSecret = nil, ""
					}
					return c.printJSON(out)
				}
				t := c.table("NAME", "SCHEME", "SECRETS", "TOLERANCE", "FORWARD TO", "ORIGIN")
				for _, s := range list {
					t.row(s.Name, s.Scheme, len(s.Secrets), time.Duration(s.Tolerance), s.ForwardTo, origin(s))
				}
				return t.flush()
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func origin(s *inbox.Source) string {
	if s.FromConfig {
		return "config"
	}
	return "api/cli"
}

func newSourcesAddCmd(c *cli) *cobra.Command {
	var p inbox.CreateParams
	var tolerance time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:        "add NAME --scheme S --secret S [--secret S2] [--tolerance 5m] [--forward-to URL]",
		SuggestFor: []string{"create", "new"},
		Short:      "Add a source; webhooks are then accepted at /in/NAME",
		Args:       cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Name, p.Tolerance = args[0], endpoint.Duration(tolerance)
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				p.Guard = c.guard()
				var s *inbox.Source
				err := c.audited(cmd.Context(), d, &audit.Entry{Action: audit.ActionCreate, Target: "source " + p.Name},
					func(tx pgx.Tx) (int64, error) {
						var err error
						s, err = inbox.CreateSource(cmd.Context(), tx, p)
						return 1, err
					})
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(s)
				}
				c.printSource(s)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.Scheme, "scheme", "", "signature scheme: "+schemeNames())
	fl.StringArrayVar(&p.Secrets, "secret", nil, "verification secret (repeat for a rotation)")
	fl.DurationVar(&tolerance, "tolerance", 0, "accepted age of a signed timestamp (default 5m)")
	fl.StringVar(&p.ForwardTo, "forward-to", "", "internal URL verified events are forwarded to")
	fl.StringVar(&p.ForwardSecret, "forward-secret", "", "whsec_ secret that signs forwarded requests (default: generated)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newSourcesShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a source with its secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				s, err := inbox.GetSource(cmd.Context(), d.Pool, args[0])
				if err != nil {
					return notFound(err, "source", args[0])
				}
				if asJSON {
					return c.printJSON(s)
				}
				c.printSource(s)
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) printSource(s *inbox.Source) {
	k := c.kv()
	k.add("name", s.Name)
	k.add("url path", "/in/"+s.Name)
	k.add("scheme", s.Scheme)
	for i, sec := range s.Secrets {
		k.add(fmt.Sprintf("secret %d", i+1), sec)
	}
	k.add("tolerance", time.Duration(s.Tolerance))
	k.add("forward to", s.ForwardTo)
	if s.ForwardTo != "" {
		k.add("forward endpoint", s.ForwardEndpointID)
		k.add("forward secret", s.ForwardSecret)
	}
	k.add("origin", origin(s))
	k.add("created", s.CreatedAt)
	_ = k.flush()
}

func newSourcesRmCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a source (its stored inbox events stay)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				err := c.audited(cmd.Context(), d, &audit.Entry{Action: audit.ActionDelete, Target: "source " + args[0]},
					func(tx pgx.Tx) (int64, error) { return 1, inbox.DeleteSource(cmd.Context(), tx, args[0]) })
				if err != nil {
					return notFound(err, "source", args[0])
				}
				_, err = fmt.Fprintf(c.out, "deleted source %s\n", args[0])
				return err
			})
		},
	}
}
