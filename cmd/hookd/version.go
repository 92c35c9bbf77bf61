package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise
// the module version from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

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
