package app

import (
	"github.com/charmbracelet/x/ansi"

	coreapp "github.com/hookd/hookd/core/app"
)

func truncate(s string, w int) string {
	if w <= 0 {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// version is this build's version, for the header.
func version() string { return coreapp.Version() }
