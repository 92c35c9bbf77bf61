package retention_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/core/testkit"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// finish claims every due delivery and records it with next (and a body).
func finish(t *testing.T, pool *pgxpool.Pool, status int, next delivery.State, at time.Time) []delivery.Job {
	t.Helper()
	ctx := context.Background()
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	var rs []delivery.Result
	for _, j := range c.Jobs {
		r := delivery.ResultOf(j, "w")
		r.StartedAt, r.ResponseStatus, r.ResponseBody, r.Next, r.NextAttemptAt = time.Now(), status, "body of "+j.EventID, next, at
		if status >= 300 {
			r.ErrorClass, r.Error = delivery.ClassHTTPStatus, "HTTP 500"
		}
		r.RequestHeaders = http.Header{}
		rs = append(rs, r)
	}
	if _, err := delivery.Complete(ctx, pool, delivery.Policy{}, rs); err != nil {
		t.Fatal(err)
	}
	return c.Jobs
}

// History older than the period leaves by partition drop, while a
// delivery still retrying is carried forward with its event and attempts,
// and is delivered afterwards.
func TestOldHistoryLeavesByPartitionDropUnfinishedWorkStays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ok, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://ok.example/", EventTypes: []string{"ok.*"}})
	if err != nil {
		t.Fatal(err)
	}
	failing, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://failing.example/", EventTypes: []string{"retry.*"}})
	if err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	done, err := pub.Publish(ctx, outbox.Event{Type: "ok.x"})
	if err != nil {
		t.Fatal(err)
	}
	cur := outbox.Cursor{}
	var page outbox.FeedPage
	// The feed serves an event once every older transaction on the server
	// has ended (other tests' too).
	testkit.Eventually(t, "the event in the feed", func() bool {
		page, err = outbox.Feed(ctx, pool, outbox.FeedParams{})
		return err == nil && len(page.Events) == 1
	})
	// A poller that last read just before that event.
	cur = outbox.Cursor{XID: page.Next.XID, Seq: page.Next.Seq - 1}
	finish(t, pool, 200, delivery.StateSucceeded, time.Now())
	waiting, err := pub.Publish(ctx, outbox.Event{Type: "retry.x"})
	if err != nil {
		t.Fatal(err)
	}
	finish(t, pool, 500, delivery.StateRetrying, time.Now().Add(10*time.Millisecond))
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://slow.example/", EventTypes: []string{"slow.*"}}); err != nil {
		t.Fatal(err)
	}
	slow, err := pub.Publish(ctx, outbox.Event{Type: "slow.x"})
	if err != nil {
		t.Fatal(err)
	}
	// An attempt in flight while retention runs.
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"})
	if err != nil || len(c.Jobs) != 1 || c.Jobs[0].EventID != slow.Event.ID {
		t.Fatalf("claim the slow one: %+v, %v", c.Jobs, err)
	}
	inFlight := c.Jobs[0]
	before, err := partition.List(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	stored := waiting.Event.StoredAt

	// Thirty-two days on, a thirty-day period has expired today's partitions.
	period := 30 * 24 * time.Hour
	later := time.Now().Add(period + 2*24*time.Hour)
	rep, err := retention.Run(ctx, pool, retention.Options{Period: period, RollupKeep: 2 * period}, later)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Carried != 2 {
		t.Errorf("carried %d events forward, want the one retrying and the one in flight", rep.Carried)
	}
	// The attempt in flight records its result where its delivery is now.
	r := delivery.ResultOf(inFlight, "w")
	r.StartedAt, r.ResponseStatus, r.ResponseBody, r.Next = time.Now(), 200, "late", delivery.StateSucceeded
	if applied, err := delivery.Complete(ctx, pool, delivery.Policy{}, []delivery.Result{r}); err != nil || len(applied) != 1 {
		t.Fatalf("the result of the attempt in flight: %d applied, %v", len(applied), err)
	}
	if atts, err := delivery.Attempts(ctx, pool, inFlight.DeliveryID); err != nil || len(atts) != 1 || atts[0].ResponseBody != "late" {
		t.Fatalf("attempt of the delivery carried while in flight: %+v, %v", atts, err)
	}
	var dropped []string
	for _, p := range rep.Dropped {
		dropped = append(dropped, p.Name)
	}
	for _, p := range before {
		if p.Upper.Before(later.Add(-period)) && !slices.Contains(partition.Rollups, p.Parent) && !slices.Contains(dropped, p.Name) {
			t.Errorf("expired partition %s was not dropped (dropped %v)", p.Name, dropped)
		}
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'hookd'::regnamespace`,
		dropped).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("%d dropped partitions still exist as tables (%v)", tables, err)
	}

	// The finished event is gone with its delivery, attempts and bodies.
	if _, err := outbox.Get(ctx, pool, done.Event.ID); !errors.Is(err, db.ErrNotFound) || !strings.Contains(err.Error(), "retention.period") {
		t.Errorf("aged-out event: %v; want not found, naming retention.period", err)
	}
	if n := count(t, pool, `SELECT count(*) FROM hookd.deliveries WHERE endpoint_id = $1`, ok.ID); n != 0 {
		t.Errorf("%d deliveries of the aged-out event remain", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM hookd.attempts WHERE endpoint_id = $1`, ok.ID); n != 0 {
		t.Errorf("%d attempts of the aged-out event remain", n)
	}

	// The retrying delivery survived, moved forward with its event.
	ev, err := outbox.Get(ctx, pool, waiting.Event.ID)
	if err != nil || !ev.StoredAt.After(stored) {
		t.Fatalf("carried event: %+v, %v; want it stored anew", ev, err)
	}
	ds, err := delivery.ForEvent(ctx, pool, waiting.Event.ID)
	if err != nil || len(ds) != 1 || ds[0].State != delivery.StateRetrying {
		t.Fatalf("carried delivery: %+v, %v", ds, err)
	}
	atts, err := delivery.Attempts(ctx, pool, ds[0].ID)
	if err != nil || len(atts) != 1 || atts[0].ResponseBody != "body of "+waiting.Event.ID {
		t.Fatalf("carried attempts: %+v, %v", atts, err)
	}

	// The feed goes on from what is kept and says events were dropped.
	testkit.Eventually(t, "the feed after the drop", func() bool {
		page, err = outbox.Feed(ctx, pool, outbox.FeedParams{After: cur})
		return err == nil && len(page.Events) == 2
	})
	if !page.AgedOut || page.Events[0].ID != waiting.Event.ID || page.Events[1].ID != slow.Event.ID {
		t.Fatalf("feed after the drop: %+v", page)
	}

	// It is delivered afterwards, to the endpoint that recovered.
	if _, err := delivery.Promote(ctx, pool, 10); err != nil {
		t.Fatal(err)
	}
	jobs := finish(t, pool, 200, delivery.StateSucceeded, time.Now())
	if len(jobs) != 1 || jobs[0].EventID != waiting.Event.ID || jobs[0].EndpointID != failing.ID || string(jobs[0].EventData) != "{}" {
		t.Fatalf("after retention the retrying delivery was claimed as %+v", jobs)
	}
	d, err := delivery.Get(ctx, pool, ds[0].ID)
	if err != nil || d.State != delivery.StateSucceeded || d.Attempts != 2 {
		t.Fatalf("delivered afterwards: %+v, %v", d, err)
	}
}

// A period of minutes works from the first run: the day-wide partitions
// a new schema starts with are replaced, while empty, by partitions of
// the period's span, so the day's first events leave after the period,
// not the next day.
func TestShortPeriodWorksFromTheFirstRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://ok.example/"}); err != nil {
		t.Fatal(err)
	}
	opts := retention.Options{Period: 2 * time.Minute}
	now := time.Now()
	if _, err := retention.Run(ctx, pool, opts, now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM hookd.partitions WHERE parent = ANY($1)
		AND upper_bound > $2 AND upper_bound - lower_bound > interval '1 minute'`, partition.History, now); n != 0 {
		t.Fatalf("%d history partitions wider than the span of a 2m period are still to be written", n)
	}
	ev, err := outbox.NewPublisher(pool, outbox.Options{}).Publish(ctx, outbox.Event{Type: "a.b"})
	if err != nil {
		t.Fatal(err)
	}
	finish(t, pool, 200, delivery.StateSucceeded, time.Now())
	if n := count(t, pool, `SELECT count(*) FROM hookd.partitions WHERE parent = 'events'
		AND lower_bound <= $1 AND upper_bound > $1 AND upper_bound - lower_bound = interval '1 minute'`, ev.Event.StoredAt); n != 1 {
		t.Fatalf("the event was stored in no partition of a minute")
	}
	rep, err := retention.Run(ctx, pool, opts, ev.Event.StoredAt.Add(opts.Period+2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dropped) == 0 || count(t, pool, `SELECT count(*) FROM hookd.events`) != 0 ||
		count(t, pool, `SELECT count(*) FROM hookd.finished`) != 0 || count(t, pool, `SELECT count(*) FROM hookd.attempts`) != 0 {
		t.Fatalf("four minutes after an event under a 2m period: dropped %v, and its event, delivery or attempt is still kept", rep.Dropped)
	}
}
