package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

func init() { registerCommand(newTenantsCmd) }

func newTenantsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tenants",
		Aliases: []string{"tenant"},
		Short:   "Manage tenants (your customers), their tokens, and erasure",
		Long: `A tenant is one of your customers, under the id your own system knows it by
(cus_42). Its endpoints receive only its events; a tenant token gives the
customer an API key that sees only its own endpoints, events and
deliveries. Tenants are never made implicitly: add one before giving it
endpoints or publishing for it.`,
	}
	cmd.AddCommand(newTenantsAddCmd(c), newTenantsLsCmd(c), newTenantsShowCmd(c), newTenantsRmCmd(c), newTenantsTokenCmd(c))
	return asGroup(cmd)
}

func newTenantsAddCmd(c *cli) *cobra.Command {
	var name, metadata string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add ID [--name NAME] [--metadata '{...}']",
		Short: "Add a tenant, or change the name and metadata of one",
		Long: `Add a tenant under its id (1 to 128 of A-Z a-z 0-9 . _ : -, such as your
customer's id). For a tenant that exists, change the fields given.
--metadata takes a JSON object, @FILE or - for standard input.`,
		Example: `  hookd tenants add cus_42 --name "Acme Inc" --metadata '{"plan":"pro"}'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p tenant.PutParams
			if cmd.Flags().Changed("name") {
				p.Name = &name
			}
			if cmd.Flags().Changed("metadata") {
				raw, err := c.readData(metadata)
				if err != nil {
					return validate.Errorf("--metadata", "%v", err)
				}
				p.Metadata = &raw
			}
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				var t *tenant.Tenant
				var did tenant.PutResult
				e := audit.Entry{Action: audit.ActionEdit, Target: "tenant " + args[0]}
				err := c.audited(ctx, d, &e, func(tx pgx.Tx) (int64, error) {
					var err error
					if t, did, err = tenant.Put(ctx, tx, args[0], p); err != nil {
						return 0, err
					}
					if did.Unchanged() {
						return 0, errUnchanged // no edit to audit
					}
					if did.Created {
						e.Action = audit.ActionCreate
					} else {
						e.Detail = "changed " + strings.Join(did.Changed, ", ")
					}
					return 1, nil
				})
				if err != nil && !errors.Is(err, errUnchanged) {
					return err
				}
				if asJSON {
					return c.printJSON(t)
				}
				verb := "updated"
				switch {
				case did.Created:
					verb = "added"
				case did.Unchanged():
					verb = "unchanged:"
				}
				_, err = fmt.Fprintf(c.out, "%s tenant %s (%s)\n", verb, t.ID, cell(t.Name))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a name shown in lists")
	cmd.Flags().StringVar(&metadata, "metadata", "", "a JSON object kept with the tenant, @FILE, or - for standard input")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// errUnchanged rolls back a change that turned out to change nothing.
var errUnchanged = errors.New("nothing to change")

func newTenantsLsCmd(c *cli) *cobra.Command {
	var p tenant.ListParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--after ID] [--limit N]",
		Aliases: []string{"list"},
		Short:   "List tenants by id, with their endpoints and dead letters",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(p.Limit); err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				page, err := tenant.List(cmd.Context(), d.Pool, p)
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(page)
				}
				t := c.table("ID", "NAME", "ENDPOINTS", "DEAD LETTERS", "CREATED")
				for _, s := range page.Tenants {
					t.row(s.ID, truncate(s.Name, 40), s.Endpoints, s.DeadLetters, s.CreatedAt)
				}
				if err := t.flush(); err != nil {
					return err
				}
				if page.Next != "" {
					_, err = fmt.Fprintf(c.out, "more: --after %s\n", page.Next)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&p.After, "after", "", "continue after this tenant id (printed after a full page)")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "rows per page, 1 to 1000")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// tenantDetail is what tenants show prints: the tenant, its endpoints and
// its tokens (never their secrets).
type tenantDetail struct {
	*tenant.Tenant
	Endpoints []*endpoint.Endpoint `json:"endpoints"`
	Tokens    []tenant.Token       `json:"tokens"`
}

func newTenantsShowCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a tenant with its endpoints and tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				t, err := tenant.Get(ctx, d.Pool, args[0])
				if err != nil {
					return notFound(err, "tenant", args[0])
				}
				eps, err := endpoint.List(ctx, d.Pool, endpoint.ListParams{Tenant: t.ID})
				if err != nil {
					return err
				}
				toks, err := tenant.ListTokens(ctx, d.Pool, t.ID)
				if err != nil {
					return err
				}
				det := tenantDetail{Tenant: t, Endpoints: make([]*endpoint.Endpoint, len(eps)), Tokens: toks}
				for i, ep := range eps {
					det.Endpoints[i] = ep.Redacted()
				}
				if asJSON {
					return c.printJSON(det)
				}
				k := c.kv()
				k.add("id", t.ID)
				k.add("name", t.Name)
				k.add("metadata", string(t.Metadata))
				k.add("created", t.CreatedAt)
				k.add("updated", t.UpdatedAt)
				_ = k.flush()
				fmt.Fprintf(c.out, "\nendpoints (%d):\n", len(eps))
				tb := c.table("  ID", "URL", "EVENTS", "STATE")
				for _, ep := range eps {
					tb.row("  "+ep.ID, ep.URL, eventsCell(ep.EventTypes), enabledCell(ep))
				}
				_ = tb.flush()
				fmt.Fprintf(c.out, "\ntokens (%d):\n", len(toks))
				c.printTokens(toks, "  ")
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newTenantsRmCmd(c *cli) *cobra.Command {
	var yes, asJSON bool
	cmd := &cobra.Command{
		Use:     "rm ID [--yes]",
		Aliases: []string{"delete", "erase"},
		Short:   "Erase a tenant and everything of it; prints what was removed",
		Long: `Erase a tenant with its endpoints, events, deliveries, attempts, tokens and
health, in one transaction (an erasure request is one command). It asks
for confirmation unless --yes is given; without a terminal to ask on, it
refuses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				if _, err := tenant.Get(ctx, d.Pool, id); err != nil {
					return notFound(err, "tenant", id)
				}
				if !yes {
					if err := c.confirm(fmt.Sprintf("Erase tenant %s and all its endpoints, events, deliveries and tokens? This cannot be undone. Type the tenant id to confirm: ", id), id); err != nil {
						return err
					}
				}
				var erased *tenant.Erased
				e := audit.Entry{Action: audit.ActionErase, Target: "tenant " + id}
				err := c.audited(ctx, d, &e, func(tx pgx.Tx) (int64, error) {
					var err error
					if erased, err = tenant.Erase(ctx, tx, id); err != nil {
						return 0, err
					}
					return erased.Endpoints + erased.Events + erased.Deliveries + erased.Attempts + erased.Tokens, nil
				})
				if err != nil {
					return notFound(err, "tenant", id)
				}
				if asJSON {
					return c.printJSON(erased)
				}
				_, err = fmt.Fprintf(c.out, "erased tenant %s: %d endpoint%s, %d event%s, %d deliver%s, %d attempt%s, %d token%s\n", id,
					erased.Endpoints, plural64(erased.Endpoints), erased.Events, plural64(erased.Events),
					erased.Deliveries, ies(erased.Deliveries), erased.Attempts, plural64(erased.Attempts), erased.Tokens, plural64(erased.Tokens))
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "erase without asking")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// confirm asks prompt on standard error and reads one line from standard
// input, which must be want; anything else (or no input) refuses.
func (c *cli) confirm(prompt, want string) error {
	fmt.Fprint(c.err, prompt)
	line, err := bufio.NewReader(c.in).ReadString('\n')
	if strings.TrimSpace(line) == want {
		return nil
	}
	if err != nil && strings.TrimSpace(line) == "" {
		fmt.Fprintln(c.err)
		return validate.Errorf("--yes", "no confirmation was given (standard input ended); pass --yes to erase without asking")
	}
	return validate.Errorf("confirmation", "%q is not %q; nothing was erased", strings.TrimSpace(line), want)
}

func plural64(n int64) string { return plural(int(min(n, 2))) }

func newTenantsTokenCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Make, list and revoke tenant tokens (customer-facing API keys)",
	}
	cmd.AddCommand(newTokenCreateCmd(c), newTokenLsCmd(c), newTokenRevokeCmd(c))
	return asGroup(cmd)
}

func newTokenCreateCmd(c *cli) *cobra.Command {
	var name string
	var expiresIn time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create TENANT [--name NAME] [--expires-in 720h]",
		Short: "Make a tenant token; it is printed once, only its hash is kept",
		Long: `Make a token for the tenant's customer: with it, the HTTP API sees and
changes only that tenant's endpoints, events and deliveries. The token is
printed once; hookd keeps only its SHA-256.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expiresIn < 0 {
				return validate.Errorf("--expires-in", "must be positive (or 0 for a token that never expires)")
			}
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				var tok *tenant.NewToken
				e := audit.Entry{Action: audit.ActionCreateToken, Target: "tenant " + args[0]}
				err := c.audited(ctx, d, &e, func(tx pgx.Tx) (int64, error) {
					var err error
					if tok, err = tenant.CreateToken(ctx, tx, args[0], tenant.TokenParams{Name: name, ExpiresIn: expiresIn}); err != nil {
						return 0, err
					}
					e.Detail = "token " + tok.ID
					return 1, nil
				})
				if err != nil {
					return notFound(err, "tenant", args[0])
				}
				if asJSON {
					return c.printJSON(tok)
				}
				k := c.kv()
				k.add("id", tok.ID)
				k.add("tenant", tok.TenantID)
				k.add("token", tok.Secret)
				k.add("expires", tok.ExpiresAt)
				_ = k.flush()
				_, err = fmt.Fprintln(c.err, "The token is shown this once; hand it to the customer now (Authorization: Bearer <token>).")
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what the token is for, shown in lists")
	cmd.Flags().DurationVar(&expiresIn, "expires-in", 0, "the token stops working after this long (default: never)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newTokenLsCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls TENANT",
		Aliases: []string{"list"},
		Short:   "List a tenant's tokens (never their secrets)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				if _, err := tenant.Get(ctx, d.Pool, args[0]); err != nil {
					return notFound(err, "tenant", args[0])
				}
				toks, err := tenant.ListTokens(ctx, d.Pool, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(map[string]any{"tokens": toks})
				}
				c.printTokens(toks, "")
				return nil
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) printTokens(toks []tenant.Token, prefix string) {
	t := c.table(prefix+"ID", "NAME", "CREATED", "EXPIRES", "LAST USED")
	for _, tok := range toks {
		t.row(prefix+tok.ID, tok.Name, tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt)
	}
	_ = t.flush()
}

func newTokenRevokeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke TENANT TOKEN_ID",
		Aliases: []string{"rm"},
		Short:   "Revoke a tenant token; it stops working at once",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return c.withDB(ctx, func(d *app.Database) error {
				e := audit.Entry{Action: audit.ActionRevokeToken, Target: "tenant " + args[0], Detail: "token " + args[1]}
				err := c.audited(ctx, d, &e, func(tx pgx.Tx) (int64, error) {
					return 1, tenant.RevokeToken(ctx, tx, args[0], args[1])
				})
				if err != nil {
					return notFound(err, "token of tenant "+args[0], args[1])
				}
				_, err = fmt.Fprintf(c.out, "revoked token %s of tenant %s\n", args[1], args[0])
				return err
			})
		},
	}
}
