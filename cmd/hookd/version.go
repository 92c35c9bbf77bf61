package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
)

func versionString() string { return app.Version() }

func newVersionCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:         "version",
		Short:       "Print hookd's version",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(c.out, "hookd %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
