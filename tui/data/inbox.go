package data

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/inbox"
)

// Inbox pages through intake events (inbox.List), with each forwarded
// event's forward delivery and the rejections of the last hour (per
// source by primary key: inbox.Stats reads every minute ever counted).
func (p *Postgres) Inbox(ctx context.Context, q InboxQuery) (InboxPage, error) {
	var out InboxPage
	if q.EventID != "" {
		events, err := p.inboxByEventID(ctx, q)
		if err != nil {
			return InboxPage{}, err
		}
		out.Events = events
	} else {
		page, err := inbox.List(ctx, p.pool, inbox.ListParams{Source: q.Source, State: inbox.State(q.State), Before: q.Before, Limit: q.Limit})
		if err != nil {
			return InboxPage{}, err
		}
		out.Next = page.Next
		for _, e := range page.Events {
			out.Events = append(out.Events, fromInbox(e))
		}
	}
	if err := p.attachForwards(ctx, out.Events); err != nil {
		return InboxPage{}, err
	}
	stats, err := p.intake(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		return InboxPage{}, err
	}
	out.Rejected = map[string]int64{}
	for source, s := range stats {
		if s[2] > 0 {
			out.Rejected[source] = s[2]
		}
	}
	return out, nil
}

// inboxByEventID finds the events with the sender's id q.EventID (one per
// source, by the dedupe keys' primary key, hookd.inbox_ids), or the inbox
// id it spells.
func (p *Postgres) inboxByEventID(ctx context.Context, q InboxQuery) ([]InboxEvent, error) {
	var out []InboxEvent
	if n, err := strconv.ParseInt(q.EventID, 10, 64); err == nil && n > 0 {
		if e, err := inbox.Get(ctx, p.pool, n); err == nil && (q.Source == "" || e.Source == q.Source) {
			out = append(out, summary(e))
		} else if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
	}
	sources := []string{q.Source}
	if q.Source == "" {
		ss, err := inbox.ListSources(ctx, p.pool)
		if err != nil {
			return nil, err
		}
		sources = sources[:0]
		for _, s := range ss {
			sources = append(sources, s.Name)
		}
	}
	rows, err := p.pool.Query(ctx, `SELECT inbox_id FROM hookd.inbox_ids WHERE source = ANY($1) AND event_id = $2`, sources, q.EventID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		e, err := inbox.Get(ctx, p.pool, id)
		if err != nil {
			return nil, err
		}
		if q.State == "" || string(e.State) == q.State {
			out = append(out, summary(e))
		}
	}
	return out, nil
}

// summary is an event as a list shows it: without headers and body.
func summary(e *inbox.Event) InboxEvent {
	s := fromInbox(e)
	s.Headers, s.Body = nil, nil
	return s
}

// attachForwards sets the forward delivery of every forwarded event.
func (p *Postgres) attachForwards(ctx context.Context, events []InboxEvent) error {
	var ids []string
	for _, e := range events {
		if e.State == string(inbox.StateForwarded) {
			ids = append(ids, inbox.ForwardEventID(e.Source, e.EventID))
		}
	}
	fw, err := p.forwards(ctx, ids)
	if err != nil {
		return err
	}
	for i := range events {
		e := &events[i]
		if d, ok := fw[inbox.ForwardEventID(e.Source, e.EventID)]; ok && e.State == string(inbox.StateForwarded) {
			e.Forward = &d
		}
	}
	return nil
}

// InboxEvent returns one intake event (inbox.Get) with its forward
// delivery (delivery.ForEvent).
func (p *Postgres) InboxEvent(ctx context.Context, id int64) (*InboxEvent, error) {
	e, err := inbox.Get(ctx, p.pool, id)
	if err != nil {
		return nil, err
	}
	out := fromInbox(e)
	if e.State == inbox.StateForwarded {
		ds, err := delivery.ForEvent(ctx, p.pool, inbox.ForwardEventID(e.Source, e.EventID))
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			out.Forward = &ds[0]
		}
	}
	return &out, nil
}

// ReplayInbox re-queues a dead intake event (inbox.Replay).
func (p *Postgres) ReplayInbox(ctx context.Context, id int64) error {
	e := audit.Entry{Action: audit.ActionReplay, Target: "inbox event " + strconv.FormatInt(id, 10)}
	return p.act(ctx, e, func(tx pgx.Tx) (int64, error) {
		_, err := inbox.Replay(ctx, tx, id)
		return 1, err
	})
}

func fromInbox(e *inbox.Event) InboxEvent {
	return InboxEvent{ID: e.ID, Source: e.Source, EventID: e.EventID, Type: e.Type, ReceivedAt: e.ReceivedAt,
		Verification: e.Verification, State: string(e.State), Attempts: e.Attempts, LastError: e.LastError,
		Duplicates: e.Duplicates, ProcessedAt: e.ProcessedAt, Headers: e.Headers, Body: e.Body}
}
