package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

// kill claims every due delivery and records a failed final attempt for
// each, making them dead letters as the dispatcher would.
func (b *bundle) kill(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	c, err := delivery.Claim(ctx, b.pool, delivery.ClaimParams{Limit: 1000, Lease: time.Minute, Worker: "test"})
	if err != nil {
		t.Fatal(err)
	}
	jobs := c.Jobs
	results := make([]delivery.Result, len(jobs))
	for i, j := range jobs {
		r := delivery.ResultOf(j, "test")
		r.StartedAt, r.Duration = time.Now(), 3*time.Millisecond
		r.RequestHeaders, r.ResponseStatus = http.Header{"X-Webhook-Id": {j.EventID}}, 500
		r.ErrorClass, r.Error, r.Next = delivery.ClassHTTPStatus, "HTTP 500", delivery.StateDead
		results[i] = r
	}
	if _, err := delivery.Complete(ctx, b.pool, delivery.Policy{}, results); err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}

type deliveryPage struct {
	Deliveries []delivery.Delivery `json:"deliveries"`
	Next       string              `json:"next"`
}

type deliveryDetail struct {
	Delivery delivery.Delivery  `json:"delivery"`
	Attempts []delivery.Attempt `json:"attempts"`
}

func TestDeliveriesAndReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	a := b.endpoint(t, "order.*")
	other := b.endpoint(t, "user.*")
	for _, typ := range []string{"order.created", "order.paid", "order.created", "user.created"} {
		b.do(t, "POST", "/v1/events", map[string]string{"type": typ}).want(t, http.StatusAccepted, nil)
	}
	if n := b.kill(t); n != 4 {
		t.Fatalf("killed %d deliveries, want 4", n)
	}

	var page deliveryPage
	b.do(t, "GET", "/v1/deliveries?state=dead&endpoint_id="+a.ID, nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 3 || page.Next != "" {
		t.Fatalf("dead to %s: %+v", a.ID, page)
	}
	b.do(t, "GET", "/v1/deliveries?event_type=order.created", nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 2 {
		t.Fatalf("order.created: %d", len(page.Deliveries))
	}
	b.do(t, "GET", "/v1/deliveries?event_type=user.*&state=dead", nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 1 || page.Deliveries[0].EndpointID != other.ID {
		t.Fatalf("user.*: %+v", page)
	}
	since := url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))
	until := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	b.do(t, "GET", "/v1/deliveries?since="+since+"&until="+until, nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 4 {
		t.Fatalf("in the last hour: %d", len(page.Deliveries))
	}
	b.do(t, "GET", "/v1/deliveries?until="+since, nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 0 {
		t.Fatalf("before an hour ago: %d", len(page.Deliveries))
	}

	// Paging newest first, one at a time.
	var ids []int64
	before := ""
	for range 10 {
		page = deliveryPage{}
		b.do(t, "GET", "/v1/deliveries?limit=1&before="+before, nil).want(t, http.StatusOK, &page)
		for _, d := range page.Deliveries {
			ids = append(ids, d.ID)
		}
		if page.Next == "" {
			break
		}
		before = page.Next
	}
	if len(ids) != 4 || ids[0] < ids[1] || ids[1] < ids[2] || ids[2] < ids[3] {
		t.Fatalf("paged ids %v", ids)
	}

	// One delivery with its attempt.
	id := strconv.FormatInt(ids[0], 10)
	var detail deliveryDetail
	b.do(t, "GET", "/v1/deliveries/"+id, nil).want(t, http.StatusOK, &detail)
	if detail.Delivery.State != delivery.StateDead || len(detail.Attempts) != 1 || *detail.Attempts[0].ResponseStatus != 500 {
		t.Fatalf("detail %+v", detail)
	}

	// Replay one: pending again with a fresh budget, its attempt kept.
	var replayed delivery.Delivery
	b.do(t, "POST", "/v1/deliveries/"+id+"/replay", nil).want(t, http.StatusOK, &replayed)
	if replayed.State != delivery.StatePending || replayed.Attempts != 0 || replayed.Replays != 1 {
		t.Fatalf("replayed %+v", replayed)
	}
	b.do(t, "GET", "/v1/deliveries/"+id, nil).want(t, http.StatusOK, &detail)
	if len(detail.Attempts) != 1 {
		t.Fatalf("replay lost attempts: %+v", detail.Attempts)
	}

	// Claimed again, it is in flight: replay is refused.
	if _, err := delivery.Claim(context.Background(), b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "busy"}); err != nil {
		t.Fatal(err)
	}
	b.do(t, "POST", "/v1/deliveries/"+id+"/replay", nil).wantError(t, http.StatusConflict, "conflict", "in flight")

	// Replay matching: dry run counts, the real run re-queues.
	var res struct {
		Matched, Replayed int64
		DryRun            bool `json:"dry_run"`
	}
	b.do(t, "POST", "/v1/replay", map[string]any{"endpoint_id": a.ID, "dry_run": true}).want(t, http.StatusOK, &res)
	if res.Matched != 3 || res.Replayed != 0 || !res.DryRun {
		t.Fatalf("dry run %+v", res)
	}
	b.do(t, "GET", "/v1/deliveries?state=dead", nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 3 {
		t.Fatalf("a dry run changed something: %d dead", len(page.Deliveries))
	}
	// A key given twice is refused, not read as its last value, and so is
	// the same key in other case (encoding/json would take it for the field).
	b.do(t, "POST", "/v1/replay", `{"dry_run":true,"dry_run":false}`).wantError(t, http.StatusBadRequest, "invalid_input", "dry_run: is given twice")
	b.do(t, "POST", "/v1/replay", `{"dry_run":true,"Dry_Run":false}`).wantError(t, http.StatusBadRequest, "invalid_input", `Dry_Run: is not a known field`, `"dry_run"`)
	b.do(t, "GET", "/v1/deliveries?state=dead", nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 3 {
		t.Fatalf("a refused replay changed something: %d dead", len(page.Deliveries))
	}
	// A bound before the deaths matches nothing.
	b.do(t, "POST", "/v1/replay", map[string]any{"endpoint_id": a.ID, "completed_before": time.Now().Add(-time.Hour).Format(time.RFC3339), "dry_run": true}).
		want(t, http.StatusOK, &res)
	if res.Matched != 0 {
		t.Fatalf("completed_before an hour ago matched %+v", res)
	}
	b.do(t, "POST", "/v1/replay", map[string]any{"endpoint_id": a.ID, "event_type": "order.created", "since": time.Now().Add(-time.Hour).Format(time.RFC3339),
		"completed_before": time.Now().Format(time.RFC3339Nano)}).
		want(t, http.StatusOK, &res)
	if res.Matched != 2 || res.Replayed != 2 || res.DryRun {
		t.Fatalf("replay %+v", res)
	}
	// An empty body replays every dead letter (order.paid is left).
	b.do(t, "POST", "/v1/replay", nil).want(t, http.StatusOK, &res)
	if res.Replayed != 1 {
		t.Fatalf("replay all %+v", res)
	}
	b.do(t, "GET", "/v1/deliveries?state=dead", nil).want(t, http.StatusOK, &page)
	if len(page.Deliveries) != 0 {
		t.Fatalf("%d dead after replay", len(page.Deliveries))
	}
}

func TestDeliveriesInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, c := range []struct{ query, param string }{
		{"state=lost", "state"},
		{"since=yesterday", "since"},
		{"until=2024-13-01T00:00:00Z", "until"},
		{"since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z", "until"},
		{"before=abc", "before"},
		{"before=-1", "before"},
		{"limit=0", "limit"},
		{"limit=5000", "limit"},
		// The zero time means no bound: given, it would match everything.
		{"until=0001-01-01T00:00:00Z", "until"},
		{"since=1969-12-31T23:59:59Z", "since"},
		{"event_type=a.**", "event_type"},
		{"event_type=a,b", "event_type"},
	} {
		b.do(t, "GET", "/v1/deliveries?"+c.query, nil).wantError(t, http.StatusBadRequest, "invalid_input", c.param+":")
	}
	for _, c := range []struct{ body, param string }{
		{`{"state": "in_flight"}`, "state"},
		{`{"state": "gone"}`, "state"},
		{`{"since": "last week"}`, "since"},
		{`{"until": "soon"}`, "until"},
		{`{"completed_before": "now"}`, "completed_before"},
		{`{"dry_run": "yes"}`, "dry_run"},
		{`{"endpoint": "ep_1"}`, "endpoint"},
		{`{"until": "0001-01-01T00:00:00Z", "dry_run": true}`, "until"},
		{`{"completed_before": "0001-01-01T00:00:00Z"}`, "completed_before"},
	} {
		b.do(t, "POST", "/v1/replay", c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.param)
	}
	b.do(t, "GET", "/v1/deliveries/999999", nil).wantError(t, http.StatusNotFound, "not_found", "999999")
	b.do(t, "GET", "/v1/deliveries/abc", nil).wantError(t, http.StatusNotFound, "not_found", "abc")
	b.do(t, "POST", "/v1/deliveries/999999/replay", nil).wantError(t, http.StatusNotFound, "not_found", "999999")
}

// A filter on an event type reads at most delivery.ScanLimit deliveries a
// page: behind that many others, the first page comes back empty with
// next set, and following next finds the matches, once each.
func TestDeliveriesByEventTypeGoOnBelowTheScan(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.endpoint(t, "order.*")
	ctx := context.Background()
	rare := []outbox.Event{{ID: "evt_refund_1", Type: "order.refunded"}, {ID: "evt_refund_2", Type: "order.refunded"}}
	if _, err := b.pub.PublishBatch(ctx, nil, rare); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < delivery.ScanLimit+50; n += outbox.MaxBatch {
		evs := make([]outbox.Event, outbox.MaxBatch)
		for i := range evs {
			evs[i] = outbox.Event{ID: fmt.Sprintf("evt_c%05d", n+i), Type: "order.created"}
		}
		if _, err := b.pub.PublishBatch(ctx, nil, evs); err != nil {
			t.Fatal(err)
		}
	}
	var first deliveryPage
	b.do(t, "GET", "/v1/deliveries?event_type=order.refunded&limit=5", nil).want(t, http.StatusOK, &first)
	if len(first.Deliveries) != 0 || first.Next == "" {
		t.Fatalf("first page %+v; want none of the %d newest, and a next", first, delivery.ScanLimit)
	}
	var rest deliveryPage
	b.do(t, "GET", "/v1/deliveries?event_type=order.refunded&limit=5&before="+first.Next, nil).want(t, http.StatusOK, &rest)
	if len(rest.Deliveries) != 2 || rest.Next != "" {
		t.Fatalf("below the scan: %+v; want the 2 refunds and no next", rest)
	}
	if rest.Deliveries[0].EventID != "evt_refund_2" || rest.Deliveries[1].EventID != "evt_refund_1" {
		t.Errorf("refunds %s, %s; want newest first", rest.Deliveries[0].EventID, rest.Deliveries[1].EventID)
	}
}
