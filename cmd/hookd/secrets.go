package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/secrets"
)

func newSecretsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the key that encrypts stored secrets",
		Long: `hookd encrypts the secrets it stores (endpoint signing secrets and keys,
custom header values, intake source secrets) with secrets.key, so that a
dump of the database reveals none of them.`,
	}
	generate := &cobra.Command{
		Use:         "generate-key",
		Short:       "Print a new random key for secrets.key (32 bytes, base64)",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := secrets.GenerateKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.out, k)
			return err
		},
	}
	var asJSON bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-seal every stored secret under secrets.key (after a key change)",
		Long: `Re-seal, in batches, every stored secret that is sealed under one of
secrets.previous_keys, or stored before encryption at rest, under
secrets.key. Afterwards the previous keys can be removed. hookd serve
does the same at start; running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				eps, srcs, err := app.ResealSecrets(cmd.Context(), d.Pool, nil)
				if err != nil {
					return err
				}
				key := secrets.Default().ID()
				if asJSON {
					return c.printJSON(map[string]any{"key": key, "endpoints": eps, "sources": srcs})
				}
				_, err = fmt.Fprintf(c.out, "re-sealed under key %s: %d endpoints, %d sources\n", key, eps, srcs)
				return err
			})
		},
	}
	addJSONFlag(rotate, &asJSON)
	cmd.AddCommand(generate, rotate)
	return asGroup(cmd)
}
