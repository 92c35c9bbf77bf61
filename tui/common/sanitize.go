package common

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// Sanitize makes text from outside hookd safe to draw: receivers' response
// bodies, headers and error messages, and inbound bodies and headers. It
// removes escape sequences (SGR colours, OSC titles and hyperlinks, ...)
// and every control character but newline and tab, so a receiver can
// neither restyle the console nor plant links or move the cursor.
func Sanitize(s string) string {
	s = ansi.Strip(s)
	if strings.IndexFunc(s, isUnsafe) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isUnsafe(r) {
			return -1
		}
		return r
	}, s)
}

func isUnsafe(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }
