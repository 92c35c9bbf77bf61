package main

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
)

func TestPublishDeliveriesAndReplay(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	ep := field(t, mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/a", "--events", "payment.*"), "id")
	mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/b", "--events", "invoice.paid")

	out := mustHookd(t, dbURL, "publish", "--type", "payment.succeeded", "--data", `{"amount":42}`, "--id", "evt_one")
	if !strings.Contains(out, "published evt_one") || !strings.Contains(out, "1 delivery") {
		t.Errorf("publish printed %q", out)
	}
	if out := mustHookd(t, dbURL, "publish", "--type", "payment.succeeded", "--id", "evt_one"); !strings.Contains(out, "duplicate") {
		t.Errorf("second publish of the same id printed %q", out)
	}
	r := hookd(t, dbURL, "publish", "--type", "payment.succeeded", "--data", "{not json")
	if r.code != 1 || !strings.Contains(r.errOut, "data:") {
		t.Errorf("bad data: exit %d, %q", r.code, r.errOut)
	}

	ls := mustHookd(t, dbURL, "deliveries", "ls", "--endpoint", ep)
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "evt_one") || !strings.Contains(lines[1], "pending") {
		t.Fatalf("deliveries ls:\n%s", ls)
	}
	var page delivery.Page
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "deliveries", "ls", "--json")), &page); err != nil || len(page.Deliveries) != 1 {
		t.Fatalf("deliveries ls --json: %v %+v", err, page)
	}
	id := page.Deliveries[0].ID

	// Kill it the way a spent retry budget would, with an attempt on record.
	pool := openPool(t, dbURL)
	ctx := context.Background()
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 1, Lease: time.Minute, Worker: "w1"})
	if err != nil || len(c.Jobs) != 1 || c.Jobs[0].DeliveryID != id {
		t.Fatalf("claim: %+v, %v", c.Jobs, err)
	}
	res := delivery.ResultOf(c.Jobs[0], "w1")
	res.StartedAt, res.Duration, res.RequestURL = time.Now(), 1500*time.Microsecond, "https://example.com/a"
	res.RequestHeaders, res.ResponseStatus = http.Header{"Webhook-Id": {"evt_one"}}, 500
	res.ResponseHeaders, res.ResponseBody = http.Header{"Content-Type": {"text/plain"}}, "boom"
	res.ErrorClass, res.Error, res.Next = delivery.ClassHTTPStatus, "HTTP 500", delivery.StateDead
	if _, err := delivery.Complete(ctx, pool, delivery.Policy{}, []delivery.Result{res}); err != nil {
		t.Fatal(err)
	}

	show := mustHookd(t, dbURL, "deliveries", "show", strconv.FormatInt(id, 10))
	for _, want := range []string{"dead", "attempt 1", "> Webhook-Id: evt_one", "< status 500", "< Content-Type: text/plain", "| boom", "http_status"} {
		if !strings.Contains(show, want) {
			t.Errorf("deliveries show lacks %q:\n%s", want, show)
		}
	}
	if dead := mustHookd(t, dbURL, "deliveries", "ls", "--state", "dead", "--since", "1h"); !strings.Contains(dead, "evt_one") {
		t.Errorf("dead letters:\n%s", dead)
	}

	dry := mustHookd(t, dbURL, "replay", "--endpoint", ep, "--dry-run")
	if !strings.Contains(dry, "1 dead delivery match; dry run") {
		t.Errorf("replay --dry-run printed %q", dry)
	}
	idArg := strconv.FormatInt(id, 10)
	if out := mustHookd(t, dbURL, "replay", idArg, "--dry-run"); !strings.Contains(out, "would re-queue delivery "+idArg+" (dead, 1 attempt") {
		t.Errorf("replay ID --dry-run printed %q", out)
	}
	checkReplayJSON(t, mustHookd(t, dbURL, "replay", "--endpoint", ep, "--dry-run", "--json"), `{"matched":1,"replayed":0,"dry_run":true}`)
	checkReplayJSON(t, mustHookd(t, dbURL, "replay", idArg, "--dry-run", "--json"), `{"matched":1,"replayed":0,"dry_run":true}`)
	if d, _ := delivery.Get(ctx, pool, id); d.State != delivery.StateDead {
		t.Errorf("dry run changed the delivery to %s", d.State)
	}
	// No filter but the state would re-queue every delivery in it: that
	// takes --all, and changes nothing without.
	for _, args := range [][]string{{"replay"}, {"replay", "--state", "dead"}} {
		if r := hookd(t, dbURL, args...); r.code == 0 || !strings.Contains(r.errOut, "--all") {
			t.Errorf("%v: exit %d, %q; want a refusal naming --all", args, r.code, r.errOut)
		}
	}
	if d, _ := delivery.Get(ctx, pool, id); d.State != delivery.StateDead {
		t.Errorf("a refused replay changed the delivery to %s", d.State)
	}
	if out := mustHookd(t, dbURL, "replay", "--all", "--dry-run"); !strings.Contains(out, "1 dead delivery match; dry run") {
		t.Errorf("replay --all --dry-run printed %q", out)
	}
	if out := mustHookd(t, dbURL, "replay", "--endpoint", ep); !strings.Contains(out, "1 dead delivery matched and re-queued") {
		t.Errorf("replay printed %q", out)
	}
	d, _ := delivery.Get(ctx, pool, id)
	attempts, _ := delivery.Attempts(ctx, pool, id)
	if d.State != delivery.StatePending || len(attempts) != 1 {
		t.Errorf("after replay: state %s, %d attempts kept", d.State, len(attempts))
	}
	checkReplayJSON(t, mustHookd(t, dbURL, "replay", "--endpoint", ep, "--state", "pending", "--json"), `{"matched":1,"replayed":1,"dry_run":false}`)
	if out := mustHookd(t, dbURL, "replay", strconv.FormatInt(id, 10)); !strings.Contains(out, "re-queued delivery") {
		t.Errorf("replay ID printed %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "abc"}, "ID:"},
		{[]string{"replay", "1", "--state", "dead"}, "give either a delivery ID or filter flags"},
		{[]string{"replay", "999999", "--dry-run"}, "delivery 999999: not found"},
		{[]string{"replay", "--state", "bogus"}, "state:"},
		{[]string{"deliveries", "ls", "--since", "yesterday"}, "--since:"},
		// The zero time reads as no bound: given, it would list everything.
		{[]string{"deliveries", "ls", "--until", "0001-01-01T00:00:00Z"}, "--until: 0001-01-01T00:00:00Z is out of range"},
		{[]string{"replay", "--until", "0001-01-01"}, "--until: 0001-01-01T00:00:00Z is out of range"},
		{[]string{"deliveries", "show", "999999"}, "delivery 999999: not found"},
	} {
		if r := hookd(t, dbURL, tc.args...); r.code != 1 || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, r.code, r.errOut, tc.want)
		}
	}

	feed := feedShowing(t, dbURL, "evt_one", "--type", "payment.*")
	if !strings.Contains(feed, "next cursor:") {
		t.Errorf("events ls:\n%s", feed)
	}
	cursor := strings.TrimSpace(strings.TrimPrefix(feed[strings.Index(feed, "next cursor:"):], "next cursor:"))
	if after := mustHookd(t, dbURL, "events", "ls", "--after", cursor); strings.Contains(after, "evt_one") {
		t.Errorf("events after the cursor still list evt_one:\n%s", after)
	}
	ev := mustHookd(t, dbURL, "events", "show", "evt_one")
	if !strings.Contains(ev, `"amount": 42`) || !strings.Contains(ev, ep) {
		t.Errorf("events show:\n%s", ev)
	}
}

// checkReplayJSON compares replay --json output with want, field by field
// (the names of POST /v1/replay).
func checkReplayJSON(t *testing.T, out, want string) {
	t.Helper()
	var got, exp map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("replay --json printed %q: %v", out, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("replay --json printed %s, want %s", strings.TrimSpace(out), want)
	}
}
