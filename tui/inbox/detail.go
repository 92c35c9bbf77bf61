package inbox

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
)

// format renders an intake event as plain text, sanitized: everything in
// it came from the sender.
func format(e *data.InboxEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "inbox event %d: %s from %s\n", e.ID, e.EventID, e.Source)
	fmt.Fprintf(&b, "type          %s\n", e.Type)
	fmt.Fprintf(&b, "received      %s\n", e.ReceivedAt.UTC().Format("2006-01-02 15:04:05.000Z"))
	fmt.Fprintf(&b, "verification  %s\n", e.Verification)
	// Its own tries at processing, and copies received since; a
	// forwarded event's tries are its forward's (below).
	var also []string
	if e.Attempts > 0 {
		also = append(also, common.Plural(e.Attempts, "processing try"))
	}
	if e.Duplicates > 0 {
		also = append(also, common.Plural(e.Duplicates, "duplicate")+" received")
	}
	state := string(e.State)
	if len(also) > 0 {
		state += " (" + strings.Join(also, ", ") + ")"
	}
	fmt.Fprintf(&b, "state         %s\n", state)
	if e.LastError != "" {
		fmt.Fprintf(&b, "last error    %s\n", e.LastError)
	}
	if f := e.Forward; f != nil {
		fmt.Fprintf(&b, "forward       delivery %d to %s: %s after %s", f.ID, f.EndpointID, string(f.State), common.Plural(f.Attempts, "attempt"))
		if f.LastError != "" {
			fmt.Fprintf(&b, " (%s)", f.LastError)
		}
		b.WriteString("  [enter opens it]\n")
	}
	b.WriteString("\nheaders\n")
	names := make([]string, 0, len(e.Headers))
	for n := range e.Headers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range e.Headers[n] {
			fmt.Fprintf(&b, "  %s: %s\n", n, v)
		}
	}
	b.WriteString("\nbody\n" + data.PrettyJSON(e.Body) + "\n")
	return common.Sanitize(b.String())
}
