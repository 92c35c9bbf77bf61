package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

func newPublishCmd(c *cli) *cobra.Command {
	var typ, data, id string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "publish --type T [--data '{...}'] [--id ID]",
		Short: "Publish an event to every matching endpoint",
		Long: `Publish an event through the outbox: it is stored with one delivery per
enabled endpoint whose filter matches its type. --data takes JSON, @FILE
to read a file, or - for standard input. Publishing an id again changes
nothing and reports the first event.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := c.readData(data)
			if err != nil {
				return err
			}
			return c.withDB(cmd.Context(), func(d *app.Database) error {
				pub := outbox.NewPublisher(d.Pool, outbox.Options{MaxPayloadBytes: c.cfg.Delivery.MaxPayloadBytes})
				res, err := pub.Publish(cmd.Context(), outbox.Event{ID: id, Type: typ, Data: raw})
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
					fmtTime(res.Event.Created), res.Deliveries, map[bool]string{true: "y", false: "ies"}[res.Deliveries == 1])
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "event type, such as invoice.paid (required)")
	fl.StringVar(&data, "data", "{}", "JSON payload, @FILE, or - for standard input")
	fl.StringVar(&id, "id", "", "event id for idempotency (default: generated)")
	addJSONFlag(cmd, &asJSON)
	return cmd
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
