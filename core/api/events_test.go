package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

type publishAnswer struct {
	Event      outbox.Event `json:"event"`
	Deliveries int          `json:"deliveries"`
	Duplicate  bool         `json:"duplicate"`
}

func (b *bundle) endpoint(t *testing.T, types ...string) endpoint.Endpoint {
	t.Helper()
	var ep endpoint.Endpoint
	body := map[string]any{"url": "https://example.com/h"}
	if types != nil {
		body["event_types"] = types
	}
	b.do(t, "POST", "/v1/endpoints", body).want(t, http.StatusCreated, &ep)
	return ep
}

func (b *bundle) countEvents(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.events WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublishEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	payments := b.endpoint(t, "payment.*")
	b.endpoint(t, "invoice.paid")
	all := b.endpoint(t)

	var first publishAnswer
	r := b.do(t, "POST", "/v1/events", `{"id": "evt_1", "type": "payment.succeeded", "data": {"amount": 100}}`).
		want(t, http.StatusAccepted, &first)
	if first.Event.ID != "evt_1" || first.Deliveries != 2 || first.Duplicate || first.Event.Created.IsZero() {
		t.Fatalf("first publish %+v", first)
	}
	if r.header.Get("Location") != "/v1/events/evt_1" {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}

	// The same id again: one event, the first one reported.
	var again publishAnswer
	b.do(t, "POST", "/v1/events", `{"id": "evt_1", "type": "payment.failed", "data": {"amount": 5}}`).
		want(t, http.StatusOK, &again)
	if !again.Duplicate || again.Event.Type != "payment.succeeded" || string(again.Event.Data) != `{"amount":100}` || again.Deliveries != 0 {
		t.Fatalf("repeat publish %+v", again)
	}
	if n := b.countEvents(t, "evt_1"); n != 1 {
		t.Fatalf("%d events with id evt_1", n)
	}

	// The same id as a broadcast is another event: refused, nothing written.
	b.do(t, "POST", "/v1/events", `{"id": "evt_1", "type": "payment.succeeded", "broadcast": true}`).
		wantError(t, http.StatusConflict, "conflict", `id: "evt_1" is the id of an event that differs in broadcast`)
	b.do(t, "POST", "/v1/events/batch", `{"events": [{"id": "evt_1", "type": "payment.succeeded", "broadcast": true}]}`).
		wantError(t, http.StatusConflict, "conflict", `events[0].id: "evt_1" is the id of an event that differs in broadcast`)
	// Location names the event whatever its id holds; . and .. can name none.
	for id, loc := range map[string]string{"a%2Fb": "/v1/events/a%252Fb", "a/b": "/v1/events/a%2Fb", "a?b": "/v1/events/a%3Fb"} {
		r := b.do(t, "POST", "/v1/events", map[string]any{"id": id, "type": "payment.succeeded"}).want(t, http.StatusAccepted, nil)
		if got := r.header.Get("Location"); got != loc {
			t.Errorf("Location of %q: %q, want %q", id, got, loc)
		}
		var shown struct{ Event struct{ ID string } }
		b.do(t, "GET", loc, nil).want(t, http.StatusOK, &shown)
		if shown.Event.ID != id {
			t.Errorf("GET %s shows event %q, want %q", loc, shown.Event.ID, id)
		}
	}
	for _, id := range []string{".", ".."} {
		b.do(t, "POST", "/v1/events", map[string]any{"id": id, "type": "payment.succeeded"}).
			wantError(t, http.StatusBadRequest, "invalid_input", "id: ", "cannot be an id")
	}

	// A bad id in the header is blamed on the header, and so is one taken.
	b.do(t, "POST", "/v1/events", `{"type": "invoice.paid"}`, "Idempotency-Key", "a b").
		wantError(t, http.StatusBadRequest, "invalid_input", "Idempotency-Key: must be 1 to 255 printable ASCII characters")
	b.do(t, "POST", "/v1/events", `{"type": "payment.succeeded", "broadcast": true}`, "Idempotency-Key", "evt_1").
		wantError(t, http.StatusConflict, "conflict", `Idempotency-Key: "evt_1" is the id of an event that differs in broadcast`)

	// The Idempotency-Key header gives the id.
	var keyed publishAnswer
	b.do(t, "POST", "/v1/events", `{"type": "invoice.paid"}`, "Idempotency-Key", "order-42").want(t, http.StatusAccepted, &keyed)
	if keyed.Event.ID != "order-42" || keyed.Deliveries != 2 || string(keyed.Event.Data) != `{}` {
		t.Fatalf("keyed publish %+v", keyed)
	}
	b.do(t, "POST", "/v1/events", `{"type": "invoice.paid"}`, "Idempotency-Key", "order-42").want(t, http.StatusOK, &keyed)
	if !keyed.Duplicate {
		t.Fatal("repeat with Idempotency-Key is not a duplicate")
	}
	b.do(t, "POST", "/v1/events", `{"id": "order-42", "type": "invoice.paid"}`, "Idempotency-Key", "order-42").want(t, http.StatusOK, &keyed)
	b.do(t, "POST", "/v1/events", `{"id": "a", "type": "invoice.paid"}`, "Idempotency-Key", "b").
		wantError(t, http.StatusBadRequest, "invalid_input", "id", "Idempotency-Key")
	// Given twice, the header names no one id: refused, not read as its
	// first value, with the body's id too.
	b.do(t, "POST", "/v1/events", `{"type": "idem.t"}`, "Idempotency-Key", "x", "Idempotency-Key", "y").
		wantError(t, http.StatusBadRequest, "invalid_input", "Idempotency-Key: is given 2 times; give it once")
	b.do(t, "POST", "/v1/events", `{"id": "x", "type": "idem.t"}`, "Idempotency-Key", "x", "Idempotency-Key", "x").
		wantError(t, http.StatusBadRequest, "invalid_input", "Idempotency-Key: is given 2 times; give it once")
	b.do(t, "GET", "/v1/events/x", nil).wantError(t, http.StatusNotFound, "not_found")
	// An id given is not empty (the schema's minLength 1): "" had an id
	// generated, as if it had been left out.
	b.do(t, "POST", "/v1/events", `{"type": "idem.t", "id": ""}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "id: is empty")
	b.do(t, "POST", "/v1/events", `{"type": "idem.t", "id": ""}`, "Idempotency-Key", "z").
		wantError(t, http.StatusBadRequest, "invalid_input", "id: is empty")
	b.do(t, "POST", "/v1/events/batch", `{"events": [{"type": "idem.t", "id": "b1"}, {"type": "idem.t", "id": ""}]}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "events[1].id: is empty")
	// Nor is a tenant given (1 to 128 characters): "" made an event of no tenant.
	b.do(t, "POST", "/v1/events", `{"type": "idem.t", "tenant": ""}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "tenant: is empty")
	b.do(t, "POST", "/v1/events/batch", `{"events": [{"type": "idem.t"}, {"type": "idem.t", "tenant": ""}]}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "events[1].tenant: is empty")
	if n := b.count(t, `SELECT count(*) FROM hookd.events WHERE type = 'idem.t'`); n != 0 {
		t.Fatalf("refused events wrote %d rows", n)
	}

	// Generated id, caller's created time.
	var gen publishAnswer
	b.do(t, "POST", "/v1/events", `{"type": "user.created", "created": "2024-05-06T07:08:09Z", "data": [1]}`).
		want(t, http.StatusAccepted, &gen)
	if !strings.HasPrefix(gen.Event.ID, "evt_") || gen.Event.Created.Format("2006-01-02T15:04:05Z07:00") != "2024-05-06T07:08:09Z" || gen.Deliveries != 1 {
		t.Fatalf("generated %+v", gen)
	}

	// The event with its deliveries.
	var shown struct {
		Event      outbox.Event        `json:"event"`
		Deliveries []delivery.Delivery `json:"deliveries"`
	}
	b.do(t, "GET", "/v1/events/evt_1", nil).want(t, http.StatusOK, &shown)
	if shown.Event.ID != "evt_1" || len(shown.Deliveries) != 2 {
		t.Fatalf("shown %+v", shown)
	}
	eps := map[string]bool{}
	for _, d := range shown.Deliveries {
		eps[d.EndpointID] = true
		if d.State != delivery.StatePending {
			t.Fatalf("delivery %+v", d)
		}
	}
	if !eps[payments.ID] || !eps[all.ID] {
		t.Fatalf("deliveries went to %v", eps)
	}
	b.do(t, "GET", "/v1/events/evt_missing", nil).wantError(t, http.StatusNotFound, "not_found", `"evt_missing"`)
}

func TestPublishEventInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, c := range []struct {
		body  string
		parts []string
	}{
		{`{"data": {}}`, []string{"type", "required"}},
		{`{"type": "has space"}`, []string{"type"}},
		{`{"type": "a.b", "created": "yesterday"}`, []string{"created", "RFC 3339"}},
		{`{"type": "a.b", "id": "has space"}`, []string{"id"}},
		{`{"type": "a.b", "extra": 1}`, []string{"extra", "not a known field"}},
		{`{"type": "a.b", "data": {"x": }`, []string{"not valid JSON"}},
	} {
		b.do(t, "POST", "/v1/events", c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.parts...)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{maxBody: 4096, maxPayload: 1024})
	big := strings.Repeat("x", 2000)
	// Within the body cap, over the payload cap.
	b.do(t, "POST", "/v1/events", fmt.Sprintf(`{"type": "a.b", "data": {"s": %q}}`, big)).
		wantError(t, http.StatusRequestEntityTooLarge, "too_large", "data", "delivery.max_payload_bytes")
	// Over the body cap.
	huge := strings.Repeat("x", 5000)
	b.do(t, "POST", "/v1/events", fmt.Sprintf(`{"type": "a.b", "data": {"s": %q}}`, huge)).
		wantError(t, http.StatusRequestEntityTooLarge, "too_large", "4096", "http.max_body_bytes")
	b.do(t, "POST", "/v1/endpoints", fmt.Sprintf(`{"url": "https://example.com", "description": %q}`, huge)).
		wantError(t, http.StatusRequestEntityTooLarge, "too_large", "http.max_body_bytes")
}

type feedAnswer struct {
	Events     []outbox.Event `json:"events"`
	NextCursor string         `json:"next_cursor"`
	AgedOut    bool           `json:"aged_out"`
	Message    string         `json:"message"`
}

func TestFeed(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	var want []string
	for i := range 7 {
		typ := "order.created"
		if i%2 == 1 {
			typ = "payment.done"
		}
		id := fmt.Sprintf("evt_%d", i)
		b.do(t, "POST", "/v1/events", map[string]string{"id": id, "type": typ}).want(t, http.StatusAccepted, nil)
		want = append(want, id)
	}

	// Paged by three, in publish order. Events show once every older
	// transaction on the server has ended (other tests share it), so poll.
	var got []string
	cursor := ""
	testkit.Eventually(t, "all events in the feed", func() bool {
		var page feedAnswer
		b.do(t, "GET", "/v1/events?limit=3&after="+url.QueryEscape(cursor), nil).want(t, http.StatusOK, &page)
		if len(page.Events) > 3 {
			t.Fatalf("limit 3 gave %d events", len(page.Events))
		}
		if len(page.Events) == 0 && page.NextCursor != cursor {
			t.Fatalf("an empty page moved the cursor from %q to %q", cursor, page.NextCursor)
		}
		for _, ev := range page.Events {
			got = append(got, ev.ID)
		}
		cursor = page.NextCursor
		return len(got) >= len(want)
	})
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("feed %v, want %v", got, want)
	}

	// Type filters, as a comma list or repeated.
	for _, q := range []string{"type=payment.*", "type=payment.done", "type=nothing,payment.*", "type=nothing&type=payment.done"} {
		var page feedAnswer
		b.do(t, "GET", "/v1/events?"+q, nil).want(t, http.StatusOK, &page)
		if len(page.Events) != 3 {
			t.Fatalf("%s: %d events", q, len(page.Events))
		}
		for _, ev := range page.Events {
			if ev.Type != "payment.done" {
				t.Fatalf("%s: got %s", q, ev.Type)
			}
		}
	}

	b.do(t, "GET", "/v1/events?after=garbage", nil).wantError(t, http.StatusBadRequest, "invalid_input", "after", "garbage")
	b.do(t, "GET", "/v1/events?after=1-x", nil).wantError(t, http.StatusBadRequest, "invalid_input", "after")
	// A cursor no page gave, naming a transaction yet to begin: followed,
	// it would skip every event until the database caught up.
	b.do(t, "GET", "/v1/events?after=999999999999-0", nil).wantError(t, http.StatusBadRequest, "invalid_input", "after", "ahead of this feed")
	b.do(t, "GET", "/v1/events?limit=0", nil).wantError(t, http.StatusBadRequest, "invalid_input", "limit")
	b.do(t, "GET", "/v1/events?limit=1001", nil).wantError(t, http.StatusBadRequest, "invalid_input", "limit")
	b.do(t, "GET", "/v1/events?limit=ten", nil).wantError(t, http.StatusBadRequest, "invalid_input", "limit")
	b.do(t, "GET", "/v1/events?type=bad%20type", nil).wantError(t, http.StatusBadRequest, "invalid_input", "type")
	// An empty type= is no filter, as every other empty parameter is.
	b.do(t, "GET", "/v1/events?type=&limit=5", nil).want(t, http.StatusOK, nil)
}

// poller reads one page of the feed after cursor: ids and the next cursor.
type poller func(t *testing.T, after string) ([]string, string)

func httpPoller(b *bundle) poller {
	return func(t *testing.T, after string) ([]string, string) {
		var page feedAnswer
		b.do(t, "GET", "/v1/events?limit=5&after="+url.QueryEscape(after), nil).want(t, http.StatusOK, &page)
		ids := make([]string, len(page.Events))
		for i, ev := range page.Events {
			ids[i] = ev.ID
		}
		return ids, page.NextCursor
	}
}

func directPoller(b *bundle) poller {
	return func(t *testing.T, after string) ([]string, string) {
		c, err := outbox.ParseCursor(after)
		if err != nil {
			t.Fatal(err)
		}
		page, err := outbox.Feed(context.Background(), b.pool, outbox.FeedParams{After: c, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(page.Events))
		for i, ev := range page.Events {
			ids[i] = ev.ID
		}
		return ids, page.Next.String()
	}
}

// feedReader polls a feed and counts what it sees.
type feedReader struct {
	poll   poller
	cursor string
	seen   map[string]int
}

// drain polls until a page comes back empty.
func (f *feedReader) drain(t *testing.T) {
	for {
		ids, next := f.poll(t, f.cursor)
		for _, id := range ids {
			f.seen[id]++
		}
		f.cursor = next
		if len(ids) == 0 {
			return
		}
	}
}

func TestFeedNeverSkipsLateCommits(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*bundle) poller{"http": httpPoller, "direct": directPoller} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			ctx := context.Background()
			f := &feedReader{poll: mk(b), seen: map[string]int{}}
			var want []string

			// A long transaction begins first and commits last.
			long, err := b.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer long.Rollback(ctx)
			if _, err := b.pub.PublishTx(ctx, long, outbox.Event{ID: "long", Type: "a.b"}); err != nil {
				t.Fatal(err)
			}
			want = append(want, "long")

			// Ten more begin in order and commit in reverse, with
			// autocommitted publishes in between and a poll after each commit.
			var open []interface{ Commit(context.Context) error }
			for i := range 10 {
				tx, err := b.pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				id := fmt.Sprintf("tx_%d", i)
				if _, err := b.pub.PublishTx(ctx, tx, outbox.Event{ID: id, Type: "a.b"}); err != nil {
					t.Fatal(err)
				}
				open = append(open, tx)
				want = append(want, id)
			}
			f.drain(t)
			for i := len(open) - 1; i >= 0; i-- {
				if err := open[i].Commit(ctx); err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprintf("auto_%d", i)
				if _, err := b.pub.Publish(ctx, outbox.Event{ID: id, Type: "a.b"}); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
				f.drain(t)
			}
			// Everything else began after the long transaction, so the feed
			// holds it all back rather than serve it ahead of "long" and
			// move the cursor past where "long" will land.
			if len(f.seen) != 0 {
				t.Fatalf("the feed served %v while an older transaction was open", f.seen)
			}
			if err := long.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			// The feed serves a transaction's events once every transaction
			// older than it has ended, anywhere on the server (other tests
			// share it), so wait for them rather than expect them at once.
			testkit.Eventually(t, "every committed event in the feed", func() bool {
				f.drain(t)
				return len(f.seen) >= len(want)
			})
			f.drain(t)
			for _, id := range want {
				if f.seen[id] != 1 {
					t.Errorf("event %s seen %d times, want once", id, f.seen[id])
				}
			}
			if len(f.seen) != len(want) {
				t.Errorf("saw %d distinct events, want %d", len(f.seen), len(want))
			}
		})
	}
}

// TestFeedConcurrentPublishers polls the feed while many transactions
// publish and commit at once, in whatever order they finish.
func TestFeedConcurrentPublishers(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	const writers, perWriter, perTx = 8, 10, 3
	total := writers * perWriter * perTx

	f := &feedReader{poll: httpPoller(b), seen: map[string]int{}}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				tx, err := b.pool.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				for k := range perTx {
					if _, err := b.pub.PublishTx(ctx, tx, outbox.Event{ID: fmt.Sprintf("w%d_%d_%d", w, i, k), Type: "a.b", Data: json.RawMessage(`{}`)}); err != nil {
						tx.Rollback(ctx)
						errs <- err
						return
					}
				}
				if err := tx.Commit(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	testkit.Eventually(t, "every event in the feed", func() bool {
		ids, next := f.poll(t, f.cursor)
		for _, id := range ids {
			f.seen[id]++
		}
		f.cursor = next
		return len(f.seen) == total
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.drain(t)
	for id, n := range f.seen {
		if n != 1 {
			t.Errorf("event %s seen %d times", id, n)
		}
	}
	if len(f.seen) != total {
		t.Fatalf("saw %d events, want %d", len(f.seen), total)
	}
}
