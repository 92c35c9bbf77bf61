package data

import (
	"context"

	"github.com/hookd/hookd/core/inbox"
)

// Inbox pages through intake events (inbox.List).
func (p *Postgres) Inbox(ctx context.Context, q InboxQuery) (InboxPage, error) {
	page, err := inbox.List(ctx, p.pool, inbox.ListParams{Source: q.Source, State: inbox.State(q.State), Before: q.Before, Limit: q.Limit})
	if err != nil {
		return InboxPage{}, err
	}
	out := InboxPage{Events: make([]InboxEvent, len(page.Events)), Next: page.Next}
	for i, e := range page.Events {
		out.Events[i] = fromInbox(e)
	}
	return out, nil
}

// InboxEvent returns one intake event (inbox.Get).
func (p *Postgres) InboxEvent(ctx context.Context, id int64) (*InboxEvent, error) {
	e, err := inbox.Get(ctx, p.pool, id)
	if err != nil {
		return nil, err
	}
	out := fromInbox(e)
	return &out, nil
}

// ReplayInbox re-queues a dead intake event (inbox.Replay).
func (p *Postgres) ReplayInbox(ctx context.Context, id int64) error {
	_, err := inbox.Replay(ctx, p.pool, id)
	return err
}

func fromInbox(e *inbox.Event) InboxEvent {
	return InboxEvent{ID: e.ID, Source: e.Source, EventID: e.EventID, Type: e.Type, ReceivedAt: e.ReceivedAt,
		Verification: e.Verification, State: string(e.State), Attempts: e.Attempts, LastError: e.LastError,
		Duplicates: e.Duplicates, ProcessedAt: e.ProcessedAt, Headers: e.Headers, Body: e.Body}
}
