package app

import "github.com/charmbracelet/x/ansi"

func truncate(s string, w int) string {
	if w <= 0 {
		return s
	}
	return ansi.Truncate(s, w, "…")
}
