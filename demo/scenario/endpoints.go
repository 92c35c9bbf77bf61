package scenario

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/demo/receivers"
)

// subscription is how the demo registers one receiver as an endpoint.
type subscription struct {
	behaviour   receivers.Behaviour
	description string
	eventTypes  []string
}

// subscriptions are the demo's endpoints, one per receiver, each with the
// event-type filter a real integration of that kind would have.
var subscriptions = []subscription{
	{receivers.Healthy, "Billing service (verifies signatures, dedupes)", []string{"payment.*", "invoice.*", "customer.*", "subscription.*"}},
	{receivers.Slow, "Analytics warehouse (slow: 1-4s per response)", []string{"invoice.*", "customer.*"}},
	{receivers.Flaky, "CRM sync (flaky: 500s and timeouts)", []string{"customer.*", "payment.succeeded"}},
	{receivers.Down, "Legacy ERP (down: connection refused)", []string{"invoice.paid", "payment.refunded"}},
	{receivers.Gone, "Old automation hook (answers 410 Gone)", []string{"payment.succeeded"}},
	{receivers.RateLimited, "Partner API (429 with Retry-After)", []string{"payment.*"}},
	{receivers.Redirecting, "Moved endpoint (302 redirect)", []string{"customer.created"}},
}

// startReceivers starts one receiver per subscription; the healthy one
// verifies with a secret that registerEndpoints gives its endpoint.
func (d *Demo) startReceivers(ctx context.Context) error {
	for _, s := range subscriptions {
		opts := receivers.Options{Logger: d.log}
		if s.behaviour == receivers.Healthy {
			opts.Secret = mustSecret()
		}
		r, err := receivers.New(s.behaviour, opts)
		if err != nil {
			return err
		}
		d.receivers = append(d.receivers, r)
		if err := r.Start(ctx); err != nil {
			return err
		}
		if s.behaviour == receivers.Healthy {
			d.healthySecret = opts.Secret
		}
	}
	return nil
}

// registerEndpoints creates an endpoint for every receiver.
func (d *Demo) registerEndpoints(ctx context.Context) error {
	for i, s := range subscriptions {
		p := endpoint.CreateParams{
			URL: d.receivers[i].URL(), Description: s.description, EventTypes: s.eventTypes,
		}
		if s.behaviour == receivers.Healthy {
			p.Secret = d.healthySecret
		}
		if _, err := endpoint.Create(ctx, d.db.Pool, p); err != nil {
			return fmt.Errorf("register the %s receiver: %w", s.behaviour, err)
		}
	}
	return nil
}

// receiver returns the demo's receiver with behaviour b; valid once
// startReceivers returned.
func (d *Demo) receiver(b receivers.Behaviour) *receivers.Receiver {
	for _, r := range d.receivers {
		if r.Behaviour() == b {
			return r
		}
	}
	panic("scenario: no " + string(b) + " receiver") // subscriptions has one of each
}
