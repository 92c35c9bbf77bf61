package inbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
)

// TestForwardCreatesDirectedDelivery: an accepted event of a forwarding
// source becomes, in the same transaction, a directed event with one
// delivery to the source's forward endpoint; the sender's retry adds
// nothing.
func TestForwardCreatesDirectedDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	src := b.source(t, inbox.CreateParams{Name: "gh", Scheme: "github", Secrets: []string{secretA},
		ForwardTo: "http://127.0.0.1:9/hooks"})
	if src.ForwardEndpointID != "ep_fwd_gh" || src.ForwardSecret == "" {
		t.Fatalf("forward endpoint %q, secret set %v", src.ForwardEndpointID, src.ForwardSecret != "")
	}
	ctx := context.Background()
	for range 2 { // the second is the sender's retry
		if a := b.post(t, "gh", githubSigned("d-1", "pull_request", `{"action":"opened"}`, secretA)); a.status != 200 {
			t.Fatalf("answer %d %v", a.status, a.body)
		}
	}
	// A body that is not JSON is wrapped.
	plain := githubSigned("d-2", "", "a=1&b=2", secretA)
	plain.header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a := b.post(t, "gh", plain); a.status != 200 {
		t.Fatalf("answer %d %v", a.status, a.body)
	}

	page, err := inbox.List(ctx, b.pool, inbox.ListParams{Source: "gh"})
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("inbox %+v %v", page, err)
	}
	for _, e := range page.Events {
		if e.State != inbox.StateForwarded || e.ProcessedAt == nil {
			t.Fatalf("inbox event %+v", e)
		}
	}
	ev, err := outbox.Get(ctx, b.pool, inbox.ForwardEventID("gh", "d-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "pull_request" || ev.EndpointID != "ep_fwd_gh" || string(ev.Data) != `{"action":"opened"}` {
		t.Fatalf("forwarded event %+v data %s", ev, ev.Data)
	}
	ds, err := delivery.ForEvent(ctx, b.pool, ev.ID)
	if err != nil || len(ds) != 1 || ds[0].EndpointID != "ep_fwd_gh" || ds[0].State != delivery.StatePending {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	wrapped, err := outbox.Get(ctx, b.pool, inbox.ForwardEventID("gh", "d-2"))
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		ContentType string `json:"content_type"`
		BodyBase64  []byte `json:"body_base64"`
	}
	if err := json.Unmarshal(wrapped.Data, &data); err != nil || string(data.BodyBase64) != "a=1&b=2" ||
		data.ContentType != "application/x-www-form-urlencoded" || wrapped.Type != "intake.gh" {
		t.Fatalf("wrapped event %+v: %s", wrapped, wrapped.Data)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.deliveries`); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
}

// TestForwardTooLargeStoresNothing: an authentic body over the outbound
// payload cap cannot be forwarded; it is refused with 413 and not stored.
func TestForwardTooLargeStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{}, func(pool *pgxpool.Pool, o *inbox.HandlerOptions) {
		o.Publisher = outbox.NewPublisher(pool, outbox.Options{MaxPayloadBytes: 16})
	})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}, ForwardTo: "http://127.0.0.1:9/"})
	a := b.post(t, "std", standardSigned(t, "m1", time.Now(), `{"type":"x","pad":"0123456789"}`, secretA))
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("answer %d %v", a.status, a.body)
	}
	if n := b.inboxRows(t); n != 0 {
		t.Fatalf("%d rows", n)
	}
}
