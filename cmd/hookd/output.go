package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/validate"
)

// addJSONFlag adds --json, for scripts, to a list or show command.
func addJSONFlag(cmd *cobra.Command, dst *bool) {
	cmd.Flags().BoolVar(dst, "json", false, "print JSON instead of a table")
}

// maxLimit is the largest page a list command asks for.
const maxLimit = 1000

// checkLimit rejects a --limit outside 1..maxLimit; the list functions
// would silently take 0 for their default.
func checkLimit(n int) error {
	if n < 1 || n > maxLimit {
		return validate.Errorf("--limit", "%d is out of range; allowed: 1 to %d rows per page", n, maxLimit)
	}
	return nil
}

// checkBefore rejects a negative --before, which the list functions would
// silently read as no bound (the newest page).
func checkBefore(before int64) error {
	if before < 0 {
		return validate.Errorf("--before", "%d is not an id from a previous page (ids are positive; leave it out for the newest)", before)
	}
	return nil
}

// printJSON writes v as indented JSON.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ w *tabwriter.Writer }

func (c *cli) table(header ...string) *table {
	t := &table{w: tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(toAny(header)...)
	}
	return t
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = cell(c)
	}
	fmt.Fprintln(t.w, strings.Join(parts, "\t"))
}

func (t *table) flush() error { return t.w.Flush() }

// cell renders one value for a table: times in UTC to the second, nil
// pointers and empty strings as "-", and no tabs or newlines.
func cell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "-"
	case time.Time:
		s = fmtTime(x)
	case *time.Time:
		if x == nil {
			return "-"
		}
		s = fmtTime(*x)
	case *int:
		if x == nil {
			return "-"
		}
		s = fmt.Sprint(*x)
	default:
		s = fmt.Sprint(v)
	}
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// kv writes "key: value" lines aligned on the colon.
type kv struct{ w *tabwriter.Writer }

func (c *cli) kv() *kv { return &kv{w: tabwriter.NewWriter(c.out, 0, 4, 1, ' ', 0)} }

func (k *kv) add(key string, v any) { fmt.Fprintf(k.w, "%s:\t%s\n", key, cell(v)) }

func (k *kv) flush() error { return k.w.Flush() }

// indent writes text indented by prefix, for bodies and headers.
func indent(w io.Writer, prefix, text string) {
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}

// truncate shortens s to n runes for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// prettyJSON indents raw JSON, or returns it as is when it is not JSON.
func prettyJSON(raw []byte) string {
	var b strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return b.String()
}

// sortedHeaderNames lists the names of h in order.
func sortedHeaderNames(h map[string][]string) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
