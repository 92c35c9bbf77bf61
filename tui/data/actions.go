package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// act runs change and records e in the audit trail in one transaction, as
// the actor in ctx, with the rows change reports. A failure is recorded
// too (best effort: the operator sees the error either way).
func (p *Postgres) act(ctx context.Context, e audit.Entry, change func(tx pgx.Tx) (int64, error)) error {
	e.Actor, e.Via = actorOf(ctx), audit.ViaConsole
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		n, err := change(tx)
		if err != nil {
			return err
		}
		e.Rows = n
		return audit.Record(ctx, tx, e)
	})
	if err != nil && ctx.Err() == nil {
		e.Rows, e.Outcome, e.Error = 0, audit.OutcomeFailed, err.Error()
		_ = audit.Record(ctx, p.pool, e)
	}
	return err
}

// actorOf is the console's operator, or the local user when the context
// names nobody.
func actorOf(ctx context.Context) audit.Actor {
	if a, ok := audit.FromContext(ctx); ok {
		return a
	}
	return audit.LocalUser(audit.KindOS)
}

// Refused records a refused action.
func (p *Postgres) Refused(ctx context.Context, action, target string) error {
	return audit.Record(ctx, p.pool, audit.Entry{Actor: actorOf(ctx), Via: audit.ViaConsole, Action: action,
		Target: target, Outcome: audit.OutcomeRefused, Error: "the console is read-only"})
}

// Replay calls delivery.Replay.
func (p *Postgres) Replay(ctx context.Context, id int64) error {
	return p.act(ctx, audit.Entry{Action: audit.ActionReplay, Target: fmt.Sprintf("delivery %d", id)}, func(tx pgx.Tx) (int64, error) {
		_, err := delivery.Replay(ctx, tx, id)
		return 1, err
	})
}

// Skip calls delivery.Skip.
func (p *Postgres) Skip(ctx context.Context, id int64) error {
	return p.act(ctx, audit.Entry{Action: audit.ActionSkip, Target: fmt.Sprintf("delivery %d", id)}, func(tx pgx.Tx) (int64, error) {
		_, err := delivery.Skip(ctx, tx, id)
		return 1, err
	})
}

// ReplayQuery re-queues what a Preview counted: by delivery.ReplayMatching
// when it takes the query, else by the ids the preview listed. target
// names the filter in the audit trail.
func (p *Postgres) ReplayQuery(ctx context.Context, pv *Preview, target string) (int64, error) {
	var n int64
	e := audit.Entry{Action: audit.ActionReplay, Target: target, Detail: fmt.Sprintf("previewed %d", pv.Count)}
	err := p.act(ctx, e, func(tx pgx.Tx) (int64, error) {
		var err error
		if pv.IDs != nil {
			if len(pv.IDs) == 0 {
				return 0, nil
			}
			n, err = delivery.ReplayIDs(ctx, tx, pv.IDs)
			return n, err
		}
		f, ok := pv.Query.engineFilter()
		if !ok {
			return 0, errors.New("this preview lists no deliveries; preview again")
		}
		n, err = delivery.ReplayMatching(ctx, tx, delivery.ReplayParams{Filter: f})
		return n, err
	})
	return n, err
}

// EnableEndpoint calls endpoint.Enable.
func (p *Postgres) EnableEndpoint(ctx context.Context, id string) error {
	return p.act(ctx, audit.Entry{Action: audit.ActionEnable, Target: id}, func(tx pgx.Tx) (int64, error) {
		_, err := endpoint.Enable(ctx, tx, id)
		return 1, err
	})
}

// DisableEndpoint calls endpoint.Disable.
func (p *Postgres) DisableEndpoint(ctx context.Context, id, reason string) error {
	return p.act(ctx, audit.Entry{Action: audit.ActionDisable, Target: id, Detail: reason}, func(tx pgx.Tx) (int64, error) {
		_, err := endpoint.Disable(ctx, tx, id, reason)
		return 1, err
	})
}

// SendTestEvent publishes a hookd.test event directed to the endpoint.
func (p *Postgres) SendTestEvent(ctx context.Context, endpointID string) (string, error) {
	var id string
	err := p.act(ctx, audit.Entry{Action: audit.ActionTest, Target: endpointID}, func(tx pgx.Tx) (int64, error) {
		data, _ := json.Marshal(map[string]any{"test": true, "endpoint_id": endpointID, "sent_by": actorOf(ctx).String(),
			"note": "sent from the hookd console to check this endpoint"})
		res, err := outbox.NewPublisher(p.pool, outbox.Options{}).PublishTx(ctx, tx,
			outbox.Event{Type: TestEventType, Data: data, EndpointID: endpointID})
		if err != nil {
			return 0, err
		}
		id = res.Event.ID
		if res.Deliveries == 0 {
			return 0, fmt.Errorf("endpoint %s: %w", endpointID, db.ErrNotFound)
		}
		return int64(res.Deliveries), nil
	})
	return id, err
}

// RotateSecret calls endpoint.RotateSecret with a generated secret.
func (p *Postgres) RotateSecret(ctx context.Context, endpointID string, overlap time.Duration) (string, error) {
	var secret string
	e := audit.Entry{Action: audit.ActionRotate, Target: endpointID}
	err := p.act(ctx, e, func(tx pgx.Tx) (int64, error) {
		ep, err := endpoint.RotateSecret(ctx, tx, endpointID, "", overlap)
		if err != nil {
			return 0, err
		}
		secret = ep.Secret
		return 1, nil
	})
	return secret, err
}

// UpdateEndpoint calls endpoint.Update, a new URL checked by the address
// guard (WithAllowedNetworks); the audit trail names the fields
// changed and their new values (the console edits no header or secret).
func (p *Postgres) UpdateEndpoint(ctx context.Context, id string, u endpoint.UpdateParams) error {
	u.Guard = p.guard
	return p.act(ctx, audit.Entry{Action: audit.ActionEdit, Target: id, Detail: describeUpdate(u)}, func(tx pgx.Tx) (int64, error) {
		_, err := endpoint.Update(ctx, tx, id, u)
		return 1, err
	})
}

func describeUpdate(u endpoint.UpdateParams) string {
	var parts []string
	if u.URL != nil {
		parts = append(parts, "url="+*u.URL)
	}
	if u.Description != nil {
		parts = append(parts, "description="+strconv.Quote(*u.Description))
	}
	if u.EventTypes != nil {
		parts = append(parts, "event_types="+strings.Join(*u.EventTypes, ","))
	}
	if u.RateLimit != nil {
		parts = append(parts, fmt.Sprintf("rate_limit=%d", *u.RateLimit))
	}
	if u.MaxInFlight != nil {
		parts = append(parts, fmt.Sprintf("max_in_flight=%d", *u.MaxInFlight))
	}
	if u.Timeout != nil {
		parts = append(parts, "timeout="+time.Duration(*u.Timeout).String())
	}
	if u.Headers != nil {
		parts = append(parts, "headers (values not recorded)")
	}
	return strings.Join(parts, " ")
}
