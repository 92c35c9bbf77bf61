package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

func newPublishCmd(c *cli) *cobra.Command {
	var typ, data, id, tenantID, file string
	var broadcast, asJSON bool
	cmd := &cobra.Command{
		Use:   "publish --type T [--data '{...}'] [--id ID] [--tenant ID | --broadcast] | publish --file events.jsonl",
		Short: "Publish an event (or a file of them) to every matching endpoint",
		Long: `Publish an event through the outbox: it is stored with one delivery per
enabled endpoint whose filter matches its type: of its tenant (--tenant),
of no tenant, or of every tenant (--broadcast). --data takes JSON, @FILE
to read a file, or - for standard input. Publishing an id again changes
nothing and reports the first event.

--file publishes a file of events, one JSON object per line as the API
takes them ({"id","type","data","created","tenant","broadcast"}; blank
lines are skipped; - reads standard input). Every line is checked before
anything is published; then the events are published in batches of
1,000, each batch in one transaction, and the command says how many were
published and which ids were duplicates.`,
		Example: `  hookd publish --type invoice.paid --data '{"invoice":"in_1"}' --tenant cus_42
  hookd publish --type maintenance.scheduled --broadcast
  hookd publish --file events.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				for _, name := range []string{"type", "data", "id", "tenant", "broadcast"} {
					if cmd.Flags().Changed(name) {
						return validate.Errorf("--"+name, "goes with --type, not --file: give it in each line of the file")
					}
				}
				return c.publishFile(cmd, file, asJSON)
			}
			raw, err := c.readData(data)
			if err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				res, err := c.publisher(d).Publish(cmd.Context(), outbox.Event{ID: id, Type: typ, Data: raw, Tenant: tenantID, Broadcast: broadcast})
				if err != nil {
					return err
				}
				if asJSON {
					return c.printJSON(res)
				}
				if res.Duplicate {
					fmt.Fprintf(c.out, "duplicate: event %s was already published at %s (type %s); nothing new was queued\n",
						res.Event.ID, fmtTime(res.Event.Created), res.Event.Type)
					return nil
				}
				fmt.Fprintf(c.out, "published %s (%s) at %s: %d deliver%s\n", res.Event.ID, res.Event.Type,
					fmtTime(res.Event.Created), res.Deliveries, ies(int64(res.Deliveries)))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "event type, such as invoice.paid (required without --file)")
	fl.StringVar(&data, "data", "{}", "JSON payload, @FILE, or - for standard input")
	fl.StringVar(&id, "id", "", "event id for idempotency (default: generated)")
	fl.StringVar(&tenantID, "tenant", "", "the tenant whose endpoints receive it (it must exist: hookd tenants add)")
	fl.BoolVar(&broadcast, "broadcast", false, "send it to the matching endpoints of every tenant and of none")
	fl.StringVar(&file, "file", "", "publish the events of a JSON Lines file (- for standard input)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cli) publisher(d *app.Database) *outbox.Publisher {
	return outbox.NewPublisher(d.Pool, outbox.Options{MaxPayloadBytes: c.cfg.Delivery.MaxPayloadBytes})
}

// fileResult is what publish --file --json prints for one line.
type fileResult struct {
	Line       int    `json:"line"`
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
	Duplicate  bool   `json:"duplicate"`
}

// publishFile publishes the events of a JSON Lines file, after checking
// every line, in one transaction (outbox.PublishAll): a refusal the
// database makes (a tenant that does not exist, an id another tenant's
// event has) leaves the whole file unpublished, as a refusal of a line's
// own does.
func (c *cli) publishFile(cmd *cobra.Command, name string, asJSON bool) error {
	events, lines, err := c.readEvents(name)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return validate.Errorf("--file", "%s holds no event", name)
	}
	ctx := cmd.Context()
	return c.withDB(ctx, func(d *app.Database) error {
		rs, err := c.publisher(d).PublishAll(ctx, events)
		if err != nil {
			return lineError(err, events, lines)
		}
		results := make([]fileResult, len(rs))
		for i, r := range rs {
			results[i] = fileResult{Line: lines[i], ID: r.Event.ID, Deliveries: r.Deliveries, Duplicate: r.Duplicate}
		}
		if asJSON {
			return c.printJSON(map[string]any{"results": results})
		}
		var dups []fileResult
		deliveries := 0
		for _, r := range results {
			if r.Duplicate {
				dups = append(dups, r)
			}
			deliveries += r.Deliveries
		}
		fmt.Fprintf(c.out, "published %d event%s from %s: %d deliver%s", len(results)-len(dups), plural(len(results)-len(dups)),
			name, deliveries, ies(int64(deliveries)))
		if len(dups) == 0 {
			fmt.Fprintln(c.out, "; no duplicates")
			return nil
		}
		fmt.Fprintf(c.out, "; %d duplicate%s, already published, nothing queued for them:\n", len(dups), plural(len(dups)))
		for _, r := range dups {
			fmt.Fprintf(c.out, "  line %d: %s\n", r.Line, r.ID)
		}
		return nil
	})
}

// readEvents parses and checks every line of a JSON Lines file, returning
// the events and the line number of each. An error names the line and
// field.
func (c *cli) readEvents(name string) ([]outbox.Event, []int, error) {
	var r io.Reader
	if name == "-" {
		r = c.in
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, validate.Errorf("--file", "%v", err)
		}
		defer f.Close()
		r = f
	}
	maxPayload := c.cfg.Delivery.MaxPayloadBytes
	if maxPayload <= 0 {
		maxPayload = outbox.DefaultMaxPayloadBytes
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), int(maxPayload)+64<<10)
	var events []outbox.Event
	var lines []int
	n := 0
	for n = 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, as some editors write
		}
		if len(b) == 0 {
			continue
		}
		ev, err := api.DecodeEvent(b)
		if err != nil {
			return nil, nil, atLine(n, err)
		}
		if err := outbox.Validate(&ev, maxPayload); err != nil {
			return nil, nil, atLine(n, err)
		}
		events = append(events, ev)
		lines = append(lines, n)
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return nil, nil, validate.Errorf(fmt.Sprintf("line %d", n), "is over %d bytes, more than an event's data may be (delivery.max_payload_bytes)", int(maxPayload)+64<<10)
	case err != nil:
		return nil, nil, validate.Errorf("--file", "%s: %v", name, err)
	}
	return events, lines, nil
}

// atLine names the line of a --file in an input error.
func atLine(n int, err error) error {
	var v *validate.Error
	if asValidate(err, &v) {
		return &validate.Error{Field: fmt.Sprintf("line %d: %s", n, v.Field), Message: v.Message}
	}
	return fmt.Errorf("line %d: %w", n, err)
}

// lineError turns "events[i].field" into the line of the file, and names
// the line of an unknown tenant (the first that gives it) or of an id
// another tenant's event has (the later of two lines that give it to two
// owners).
func lineError(err error, events []outbox.Event, lines []int) error {
	var v *validate.Error
	if asValidate(err, &v) && strings.HasPrefix(v.Field, "events[") {
		var i int
		var rest string
		if _, scanErr := fmt.Sscanf(v.Field, "events[%d]%s", &i, &rest); scanErr == nil && i >= 0 && i < len(lines) {
			return &validate.Error{Field: fmt.Sprintf("line %d: %s", lines[i], strings.TrimPrefix(rest, ".")), Message: v.Message}
		}
	}
	var unknown *outbox.UnknownTenantError
	if errors.As(err, &unknown) {
		if i := unknown.In(events); i >= 0 {
			return fmt.Errorf("line %d: tenant: %w", lines[i], err)
		}
	}
	var taken *outbox.IDTakenError
	if errors.As(err, &taken) {
		var at []int
		for i, ev := range events {
			if ev.ID == taken.ID {
				at = append(at, i)
			}
		}
		if len(at) > 0 {
			// The file gives the id for two owners: the later line
			// clashes with the first, not with the database.
			if k := slices.IndexFunc(at[1:], func(i int) bool { return owner(events[i]) != owner(events[at[0]]) }); k >= 0 {
				return validate.Errorf(fmt.Sprintf("line %d: id", lines[at[1+k]]),
					"%q is the id of line %d's event too, for another tenant (or for none); an id names one event", taken.ID, lines[at[0]])
			}
			t := *taken
			t.Field = fmt.Sprintf("line %d: id", lines[at[0]])
			return &t
		}
	}
	return err
}

func asValidate(err error, v **validate.Error) bool { return errors.As(err, v) }

// owner is whom an event is for, as an id's clash counts it: its tenant,
// or all (a broadcast), or none.
func owner(ev outbox.Event) string {
	if ev.Broadcast {
		return "\x00broadcast"
	}
	return ev.Tenant
}

// readData resolves --data: inline JSON, @file or - for stdin.
func (c *cli) readData(data string) (json.RawMessage, error) {
	var b []byte
	var err error
	switch {
	case data == "-":
		b, err = io.ReadAll(c.in)
	case strings.HasPrefix(data, "@"):
		b, err = os.ReadFile(data[1:])
	default:
		b = []byte(data)
	}
	if err != nil {
		return nil, validate.Errorf("--data", "%v", err)
	}
	return json.RawMessage(strings.TrimSpace(string(b))), nil
}
