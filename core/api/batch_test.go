package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/core/testkit"
)

type batchAnswer struct {
	Results []struct {
		ID         string    `json:"id"`
		Type       string    `json:"type"`
		Created    time.Time `json:"created"`
		Tenant     string    `json:"tenant"`
		Broadcast  bool      `json:"broadcast"`
		Deliveries int       `json:"deliveries"`
		Duplicate  bool      `json:"duplicate"`
	} `json:"results"`
	Published  int `json:"published"`
	Duplicates int `json:"duplicates"`
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPublishBatch: a batch is written in one transaction with one result
// per event in order, duplicates (of earlier events and within the batch)
// flagged and not written again, tenants routed as for single events.
func TestPublishBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.putTenant(t, "cus_A")
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/", "tenant": "cus_A"}).want(t, http.StatusCreated, nil)
	b.endpoint(t)
	b.do(t, "POST", "/v1/events", map[string]any{"id": "old", "type": "a.b"}).want(t, http.StatusAccepted, nil)

	var ans batchAnswer
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{
		{"id": "b1", "type": "a.b", "data": map[string]int{"n": 1}},
		{"id": "old", "type": "a.b"},
		{"id": "b2", "type": "a.c", "tenant": "cus_A", "created": "2025-01-02T03:04:05Z"},
		{"id": "b1", "type": "a.b"},
		{"type": "a.d", "broadcast": true},
	}}).want(t, http.StatusAccepted, &ans)
	if len(ans.Results) != 5 || ans.Published != 3 || ans.Duplicates != 2 {
		t.Fatalf("answer %+v", ans)
	}
	r := ans.Results
	if r[0].ID != "b1" || r[0].Duplicate || r[0].Deliveries != 1 ||
		r[1].ID != "old" || !r[1].Duplicate || r[1].Deliveries != 0 ||
		r[2].ID != "b2" || r[2].Tenant != "cus_A" || r[2].Deliveries != 1 || !r[2].Created.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		r[3].ID != "b1" || !r[3].Duplicate ||
		!strings.HasPrefix(r[4].ID, "evt_") || !r[4].Broadcast || r[4].Deliveries != 2 {
		t.Fatalf("results %+v", r)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != 4 {
		t.Fatalf("%d events stored, want 4", n)
	}
	// Every event again: all duplicates, 200.
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{{"id": "b1", "type": "a.b"}, {"id": "b2", "type": "a.c", "tenant": "cus_A"}}}).
		want(t, http.StatusOK, &ans)
	if ans.Published != 0 || ans.Duplicates != 2 || !ans.Results[0].Duplicate || !ans.Results[1].Duplicate {
		t.Fatalf("repeated batch %+v", ans)
	}
	// An id another tenant's event has is no duplicate: answered as one,
	// this event was dropped while its publisher took it for kept. The
	// batch is refused whole, naming the event, and nothing is written.
	b.putTenant(t, "cus_B")
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{
		{"id": "b3", "type": "a.b", "tenant": "cus_B"},
		{"id": "b2", "type": "a.c", "tenant": "cus_B"},
	}}).wantError(t, http.StatusConflict, "conflict", `events[1].id: "b2" is the id of an event for another tenant`)
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{{"id": "b2", "type": "a.c", "tenant": "cus_B"}}}).
		wantError(t, http.StatusConflict, "conflict", `events[0].id: "b2" is the id of an event for another tenant`)
	b.do(t, "POST", "/v1/events", map[string]any{"id": "b2", "type": "a.c"}).
		wantError(t, http.StatusConflict, "conflict", `id: "b2" is the id of an event for another tenant`)
	b.do(t, "POST", "/v1/events", map[string]any{"type": "a.c", "tenant": "cus_B"}, "Idempotency-Key", "old").
		wantError(t, http.StatusConflict, "conflict", `Idempotency-Key: "old" is the id of an event for another tenant`)
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != 4 {
		t.Fatalf("%d events stored after the refused ones, want 4", n)
	}
}

// TestPublishBatchIsAtomic: one bad event, an unknown tenant, or a batch
// over the limit writes nothing, and the error names events[i].field.
func TestPublishBatchIsAtomic(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.endpoint(t)
	good := func(i int) map[string]any { return map[string]any{"id": fmt.Sprintf("g%d", i), "type": "a.b"} }
	many := make([]map[string]any, outbox.MaxBatch+1)
	for i := range many {
		many[i] = good(i)
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
		parts  []string
	}{
		{"bad type", map[string]any{"events": []any{good(0), good(1), map[string]any{"type": "not a type"}}}, 400, "invalid_input", []string{"events[2].type"}},
		{"bad created", map[string]any{"events": []any{good(0), map[string]any{"type": "a.b", "created": "yesterday"}}}, 400, "invalid_input", []string{"events[1].created"}},
		{"created out of range", map[string]any{"events": []any{map[string]any{"type": "a.b", "created": "9999-12-31T23:59:59-01:00"}}}, 400, "invalid_input", []string{"events[0].created"}},
		{"unknown field", map[string]any{"events": []any{good(0), map[string]any{"type": "a.b", "tpye": "x"}}}, 400, "invalid_input", []string{"events[1].tpye"}},
		{"wrong kind", map[string]any{"events": []any{good(0), map[string]any{"type": 5}}}, 400, "invalid_input", []string{"events[1].type"}},
		{"not an object", map[string]any{"events": []any{good(0), "x"}}, 400, "invalid_input", []string{"events[1]"}},
		{"reserved id", map[string]any{"events": []any{good(0), map[string]any{"id": "in:x:1", "type": "a.b"}}}, 400, "invalid_input", []string{"events[1].id"}},
		{"broadcast with tenant", map[string]any{"events": []any{map[string]any{"type": "a.b", "tenant": "t", "broadcast": true}}}, 400, "invalid_input", []string{"events[0].broadcast"}},
		{"bad data", "{\"events\":[{\"type\":\"a.b\",\"data\":\"\xff\"}]}", 400, "invalid_input", []string{"events[0].data"}},
		// Scanned with the whole body, named by their place in it.
		{"a key twice", `{"events":[{"type":"a.b"},{"type":"a.b","type":"c.d"}]}`, 400, "invalid_input", []string{"events[1].type: is given twice"}},
		{"a field in other case", `{"events":[{"type":"a.b"},{"type":"a.b","ID":"x"}]}`, 400, "invalid_input", []string{`events[1].ID: is not a known field`, `"id"`}},
		{"the list in other case", `{"events":[{"type":"a.b"}],"Events":[{"type":"c.d"}]}`, 400, "invalid_input", []string{`Events: is not a known field`}},
		{"a lone surrogate", `{"events":[{"type":"a.b","data":{"k":"\udc00"}}]}`, 400, "invalid_input", []string{"events[0].data.k: holds an unpaired surrogate"}},
		{"unknown tenant", map[string]any{"events": []any{good(0), map[string]any{"type": "a.b", "tenant": "cus_none"}}}, 404, "not_found", []string{"events[1].tenant: ", "cus_none", "PUT /v1/tenants/cus_none"}},
		{"a path step for a tenant", map[string]any{"events": []any{good(0), map[string]any{"type": "a.b", "tenant": ".."}}}, 400, "invalid_input", []string{"events[1].tenant", "step in a URL path"}},
		{"empty", map[string]any{"events": []any{}}, 400, "invalid_input", []string{"events"}},
		{"missing", map[string]any{}, 400, "invalid_input", []string{"events"}},
		{"not a list", map[string]any{"events": "x"}, 400, "invalid_input", []string{"events"}},
		{"too many", map[string]any{"events": many}, 400, "invalid_input", []string{"events", "1000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.do(t, "POST", "/v1/events/batch", c.body).wantError(t, c.status, c.code, c.parts...)
		})
	}
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []any{good(0)}}, "Idempotency-Key", "k").
		wantError(t, http.StatusBadRequest, "invalid_input", "Idempotency-Key")
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []any{good(0)}}, "Idempotency-Key", "k", "Idempotency-Key", "l").
		wantError(t, http.StatusBadRequest, "invalid_input", "Idempotency-Key: is for a single event")
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != 0 {
		t.Fatalf("refused batches wrote %d events", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.deliveries`); n != 0 {
		t.Fatalf("refused batches wrote %d deliveries", n)
	}
	// The limit itself is fine.
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": many[:outbox.MaxBatch]}).want(t, http.StatusAccepted, nil)
	if n := b.count(t, `SELECT count(*) FROM hookd.events`); n != outbox.MaxBatch {
		t.Fatalf("%d events from a batch of %d", n, outbox.MaxBatch)
	}
}

// TestSkipDelivery: skipping a delivery still to do ends it skipped with
// its attempts kept; a finished one is a 409, audited once.
func TestSkipDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.endpoint(t)
	var pub publishAnswer
	b.do(t, "POST", "/v1/events", map[string]any{"id": "s1", "type": "a.b"}).want(t, http.StatusAccepted, &pub)
	var page deliveryPage
	b.do(t, "GET", "/v1/deliveries?event_id=s1", nil).want(t, http.StatusOK, &page)
	id := fmt.Sprint(page.Deliveries[0].ID)
	var d delivery.Delivery
	// A route that takes no fields refuses a body that gives some, and
	// does nothing: {"dry_run":true} sent to a single action ran it.
	b.do(t, "POST", "/v1/deliveries/"+id+"/skip", `{"dry_run":true}`).wantError(t, http.StatusBadRequest, "invalid_input", "dry_run")
	b.do(t, "POST", "/v1/deliveries/"+id+"/replay", `garbage{`).wantError(t, http.StatusBadRequest, "invalid_input", "body")
	b.do(t, "POST", "/v1/endpoints/"+b.endpoint(t).ID+"/enable", `{"x":1}`).wantError(t, http.StatusBadRequest, "invalid_input", "x")
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE id = $1 AND state = 'pending' AND replays = 0`, id); n != 1 {
		t.Fatalf("a refused action changed the delivery")
	}
	b.do(t, "POST", "/v1/deliveries/"+id+"/skip", `{}`).want(t, http.StatusOK, &d)
	if d.State != delivery.StateSkipped || d.CompletedAt == nil {
		t.Fatalf("skipped %+v", d)
	}
	b.do(t, "POST", "/v1/deliveries/"+id+"/skip", nil).wantError(t, http.StatusConflict, "conflict", "finished")
	b.do(t, "POST", "/v1/deliveries/999999/skip", nil).wantError(t, http.StatusNotFound, "not_found", "999999")
	b.do(t, "POST", "/v1/deliveries/x/skip", nil).wantError(t, http.StatusNotFound, "not_found")
	for _, odd := range []string{"0" + id, "+" + id} { // another spelling of the id names no delivery
		b.do(t, "GET", "/v1/deliveries/"+odd, nil).wantError(t, http.StatusNotFound, "not_found")
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.audit_log WHERE action = 'skip' AND target = $1 AND actor_kind = 'api'`, "delivery "+id); n != 1 {
		t.Fatalf("skip audited %d times", n)
	}
}

// TestAgedOutEvents: an event retention dropped answers 404 with a
// message naming retention.period, and a feed cursor older than what is
// kept says so.
func TestAgedOutEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, id := range []string{"old1", "old2"} {
		b.do(t, "POST", "/v1/events", map[string]any{"id": id, "type": "a.b"}).want(t, http.StatusAccepted, nil)
	}
	// (Events show once every older transaction on the shared server has
	// ended.)
	var page feedAnswer
	testkit.Eventually(t, "the first event in the feed", func() bool {
		b.do(t, "GET", "/v1/events?limit=1", nil).want(t, http.StatusOK, &page)
		return len(page.Events) == 1
	})
	if page.Events[0].ID != "old1" || page.AgedOut {
		t.Fatalf("first page %+v", page)
	}
	period := 30 * 24 * time.Hour
	if _, err := retention.Run(context.Background(), b.pool, retention.Options{Period: period, RollupKeep: 2 * period},
		time.Now().Add(period+2*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.do(t, "GET", "/v1/events/old2", nil).wantError(t, http.StatusNotFound, "not_found", `"old2"`, "aged out", "retention.period")
	b.do(t, "GET", "/v1/events/never", nil).wantError(t, http.StatusNotFound, "not_found", `no event with id "never"`)
	var after feedAnswer
	b.do(t, "GET", "/v1/events?after="+page.NextCursor, nil).want(t, http.StatusOK, &after)
	if !after.AgedOut || !strings.Contains(after.Message, "retention.period") || len(after.Events) != 0 {
		t.Fatalf("feed after the drop %+v", after)
	}
	var fresh feedAnswer
	b.do(t, "GET", "/v1/events", nil).want(t, http.StatusOK, &fresh)
	if fresh.AgedOut || fresh.Message != "" {
		t.Fatalf("a feed from the start reads as aged out: %+v", fresh)
	}
}

// TestAPIChangesAreAudited: every change made with an API key is in the
// audit trail with the key's id, in order; a refused change is not.
func TestAPIChangesAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.putTenant(t, "cus_A")
	ep := b.endpoint(t)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, map[string]any{"description": "x", "rate_limit": 3}).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/rotate-secret", nil).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/disable", map[string]any{"reason": "maintenance"}).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/enable", nil).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/replay", map[string]any{"tenant": "cus_A", "event_type": "a.*"}).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/replay", map[string]any{"dry_run": true}).want(t, http.StatusOK, nil) // changes nothing
	tok := b.token(t, "cus_A")
	b.do(t, "DELETE", "/v1/tenants/cus_A/tokens/"+tok.ID, nil).want(t, http.StatusNoContent, nil)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, map[string]any{"description": "a\u0000b"}).want(t, http.StatusBadRequest, nil)
	b.do(t, "POST", "/v1/endpoints/ep_none/disable", nil).want(t, http.StatusNotFound, nil)
	b.do(t, "DELETE", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusNoContent, nil)

	rows, err := b.pool.Query(context.Background(), `SELECT actor_kind, actor_id, via, action, target, detail FROM hookd.audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var kind, id, via, action, target, detail string
		if err := rows.Scan(&kind, &id, &via, &action, &target, &detail); err != nil {
			t.Fatal(err)
		}
		if kind != "api" || id != audit.APIKey(testKey).ID || via != "api" {
			t.Errorf("entry %s %s by %s %s via %s", action, target, kind, id, via)
		}
		got = append(got, action+" "+target+" "+detail)
	}
	want := []string{
		"create tenant cus_A ",
		"create " + ep.ID + " ",
		"edit " + ep.ID + " changed description, rate_limit",
		"rotate_secret " + ep.ID + " previous secret signs for 24h0m0s",
		"disable " + ep.ID + " maintenance",
		"enable " + ep.ID + " ",
		"replay state:dead tenant:cus_A type:a.* ",
		"create_token tenant cus_A token " + tok.ID + " (test)",
		"revoke_token tenant cus_A token " + tok.ID,
		"delete " + ep.ID + " ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
