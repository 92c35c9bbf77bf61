package inbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/signing"
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

	// JSON that is not UTF-8 is no event data: it is wrapped too.
	if a := b.post(t, "gh", githubSigned("d-4", "push", "{\"a\":\"\xff\"}", secretA)); a.status != 200 {
		t.Fatalf("answer to JSON in Latin-1: %d %v", a.status, a.body)
	}
	// null is no event data either.
	if a := b.post(t, "gh", githubSigned("d-5", "push", " null ", secretA)); a.status != 200 {
		t.Fatalf("answer to a null body: %d %v", a.status, a.body)
	}
	// A type over the outbox's bound is forwarded under the source's.
	long := strings.Repeat("x", 256)
	if a := b.post(t, "gh", githubSigned("d-3", long, `{}`, secretA)); a.status != 200 {
		t.Fatalf("answer to a %d-byte type: %d %v", len(long), a.status, a.body)
	}

	page, err := inbox.List(ctx, b.pool, inbox.ListParams{Source: "gh"})
	if err != nil || len(page.Events) != 5 {
		t.Fatalf("inbox %+v %v", page, err)
	}
	for _, e := range page.Events {
		if e.State != inbox.StateForwarded || e.ProcessedAt == nil {
			t.Fatalf("inbox event %+v", e)
		}
		if e.EventID == "d-3" && e.Type != long[:255] {
			t.Fatalf("inbox shows the %d-byte type as %d bytes, want its first 255", len(long), len(e.Type))
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
	if ev, err := outbox.Get(ctx, b.pool, inbox.ForwardEventID("gh", "d-3")); err != nil || ev.Type != "intake.gh" {
		t.Fatalf("event of a %d-byte type: %+v %v", len(long), ev, err)
	}
	if ev, err := outbox.Get(ctx, b.pool, inbox.ForwardEventID("gh", "d-4")); err != nil || !strings.Contains(string(ev.Data), `"body_base64"`) {
		t.Fatalf("event of a body in Latin-1: %+v %v", ev, err)
	}
	if ev, err := outbox.Get(ctx, b.pool, inbox.ForwardEventID("gh", "d-5")); err != nil || !strings.Contains(string(ev.Data), `"body_base64"`) {
		t.Fatalf("event of a null body: %+v %v", ev, err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != 5 {
		t.Fatalf("%d events, want 5", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.deliveries`); n != 5 {
		t.Fatalf("%d deliveries, want 5", n)
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

// TestForwardIDTakenIsNeverMarkedForwarded: when the id a forward would
// get is already taken by an event hookd did not make, the inbound event
// is not acknowledged as forwarded with no delivery behind it: the sender
// is told to retry (503) and nothing is stored; once the squatting event
// is gone, the retry is forwarded with its delivery.
func TestForwardIDTakenIsNeverMarkedForwarded(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	b.source(t, inbox.CreateParams{Name: "fwd2", Scheme: "hookd", Secrets: []string{secretA}, ForwardTo: "http://127.0.0.1:9/in"})
	ctx := context.Background()
	squat := inbox.ForwardEventID("fwd2", "evt_pre")
	// As a plain SQL producer would (the API refuses hookd's prefix).
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data) VALUES ($1, 'x.y', '{}')`, squat); err != nil {
		t.Fatal(err)
	}
	body := `{"id":"evt_pre","type":"order.paid","created":"2025-01-01T00:00:00Z","data":{}}`
	if a := b.post(t, "fwd2", hookdSigned(t, "evt_pre", time.Now(), body, secretA)); a.status != http.StatusServiceUnavailable {
		t.Fatalf("answer %d %v, want 503", a.status, a.body)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.inbox WHERE event_id = 'evt_pre'`); n != 0 {
		t.Fatalf("%d inbox rows for an event that could not be forwarded", n)
	}

	for _, table := range []string{"hookd.events", "hookd.event_ids"} {
		if _, err := b.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, squat); err != nil {
			t.Fatal(err)
		}
	}
	if a := b.post(t, "fwd2", hookdSigned(t, "evt_pre", time.Now(), body, secretA)); a.status != http.StatusOK {
		t.Fatalf("retry: %d %v", a.status, a.body)
	}
	page, err := inbox.List(ctx, b.pool, inbox.ListParams{Source: "fwd2"})
	if err != nil || len(page.Events) != 1 || page.Events[0].State != inbox.StateForwarded {
		t.Fatalf("inbox %+v %v", page, err)
	}
	ds, err := delivery.ForEvent(ctx, b.pool, squat)
	if err != nil || len(ds) != 1 || ds[0].EndpointID != "ep_fwd_fwd2" {
		t.Fatalf("forward deliveries %+v %v", ds, err)
	}
}

// TestHookdSchemeCapturedRequestUnderANewID: a request signed by hookd
// for a body that is not its envelope (body_format data), captured and
// sent again under a new X-Webhook-ID within the tolerance, is refused:
// the id is covered by the Standard Webhooks signature sent with it.
func TestHookdSchemeCapturedRequestUnderANewID(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	b.source(t, inbox.CreateParams{Name: "peer", Scheme: "hookd", Secrets: []string{secretA}})
	h := http.Header{}
	body := []byte(`{"text":"deploy finished"}`)
	if err := signing.Sign(h, "evt_1", time.Now(), body, []string{secretA}); err != nil {
		t.Fatal(err)
	}
	if a := b.post(t, "peer", request{h.Clone(), body}); a.status != http.StatusOK {
		t.Fatalf("the original: %d %v", a.status, a.body)
	}
	for _, both := range []bool{false, true} {
		replay := h.Clone()
		replay.Set("X-Webhook-ID", "evt_2")
		if both {
			replay.Set("webhook-id", "evt_2")
		}
		if a := b.post(t, "peer", request{replay, body}); a.status != http.StatusUnauthorized {
			t.Fatalf("replayed under a new id (webhook-id changed too: %v): %d %v", both, a.status, a.body)
		}
	}
	if n := b.inboxRows(t); n != 1 {
		t.Fatalf("%d inbox rows, want the original only", n)
	}
}
