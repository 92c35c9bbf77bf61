package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type testBundle struct {
	pool *pgxpool.Pool
	pub  *outbox.Publisher
}

func setup(t *testing.T) (context.Context, *testBundle) {
	t.Helper()
	pool := dbtest.NewPool(t)
	return t.Context(), &testBundle{pool: pool, pub: outbox.NewPublisher(pool, outbox.Options{MaxPayloadBytes: 1024})}
}

func addEndpoint(t *testing.T, ctx context.Context, pool *pgxpool.Pool, types ...string) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://receiver.example/hook", EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func count(t *testing.T, ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublishTxRolledBackLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool)

	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.pub.PublishTx(ctx, tx, outbox.Event{Type: "invoice.paid", Data: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 1 {
		t.Fatalf("deliveries inside the transaction = %d, want 1", res.Deliveries)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.events`); n != 0 {
		t.Fatalf("events after rollback = %d, want 0", n)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries`); n != 0 {
		t.Fatalf("deliveries after rollback = %d, want 0", n)
	}
}

func TestPublishTxCommittedFansOutToMatchingEnabledEndpoints(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	all := addEndpoint(t, ctx, b.pool)
	star := addEndpoint(t, ctx, b.pool, "*")
	payments := addEndpoint(t, ctx, b.pool, "payment.*")
	exact := addEndpoint(t, ctx, b.pool, "payment.succeeded", "invoice.paid")
	other := addEndpoint(t, ctx, b.pool, "invoice.*")
	disabled := addEndpoint(t, ctx, b.pool, "payment.*")
	if _, err := endpoint.Disable(ctx, b.pool, disabled.ID, "test"); err != nil {
		t.Fatal(err)
	}

	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The business write and the event commit together.
	if _, err := tx.Exec(ctx, `CREATE TABLE orders (id int)`); err != nil {
		t.Fatal(err)
	}
	res, err := b.pub.PublishTx(ctx, tx, outbox.Event{ID: "evt_1", Type: "payment.succeeded", Data: json.RawMessage(`{"amount":42}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.Deliveries != 4 {
		t.Fatalf("result = %+v, want 4 new deliveries", res)
	}
	rows, err := b.pool.Query(ctx, `SELECT endpoint_id FROM hookd.deliveries WHERE event_id = 'evt_1' ORDER BY endpoint_id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{all.ID: true, star.ID: true, payments.ID: true, exact.ID: true}
	if len(got) != len(want) {
		t.Fatalf("deliveries to %v, want exactly %v", got, want)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("unexpected delivery to %s (other=%s disabled=%s)", id, other.ID, disabled.ID)
		}
	}
}

func TestPublishSameIDTwiceYieldsOneEvent(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool)

	first, err := b.pub.Publish(ctx, outbox.Event{ID: "order-7", Type: "order.created", Data: json.RawMessage(`{"v":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.pub.Publish(ctx, outbox.Event{ID: "order-7", Type: "order.created", Data: json.RawMessage(`{"v":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate {
		t.Fatalf("duplicate flags = %v, %v; want false, true", first.Duplicate, second.Duplicate)
	}
	if string(second.Event.Data) != `{"v":1}` || !second.Event.Created.Equal(first.Event.Created) {
		t.Fatalf("second publish reported %+v, want the first event", second.Event)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.events`); n != 1 {
		t.Fatalf("events = %d, want 1", n)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries`); n != 1 {
		t.Fatalf("deliveries = %d, want 1", n)
	}
}

func TestPublishConcurrentSameIDYieldsOneEvent(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool)
	var wg sync.WaitGroup
	dups := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			res, err := b.pub.Publish(ctx, outbox.Event{ID: "same", Type: "a.b"})
			if err != nil {
				t.Error(err)
				return
			}
			dups <- res.Duplicate
		})
	}
	wg.Wait()
	close(dups)
	fresh := 0
	for d := range dups {
		if !d {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d publishers created the event, want 1", fresh)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries`); n != 1 {
		t.Fatalf("deliveries = %d, want 1", n)
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	cases := []struct {
		name  string
		ev    outbox.Event
		field string
	}{
		{"no type", outbox.Event{Data: json.RawMessage(`{}`)}, "type"},
		{"bad type", outbox.Event{Type: "has space"}, "type"},
		{"bad id", outbox.Event{ID: "has space", Type: "a.b"}, "id"},
		{"bad json", outbox.Event{Type: "a.b", Data: json.RawMessage(`{"a":`)}, "data"},
		{"invalid utf-8 in a string", outbox.Event{Type: "a.b", Data: json.RawMessage("{\"a\":\"\xff\xfe\"}")}, "data"},
		{"created past year 9999 in UTC", outbox.Event{Type: "a.b",
			Created: time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -3600))}, "created"},
		{"created before 1970", outbox.Event{Type: "a.b", Created: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}, "created"},
		{"reserved id prefix", outbox.Event{ID: "in:fwd2:evt_pre", Type: "a.b"}, "id"},
	}
	for _, tc := range cases {
		_, err := b.pub.Publish(ctx, tc.ev)
		var v *validate.Error
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%s: error %v, want a validation error on %q", tc.name, err, tc.field)
		}
	}
	_, err := b.pub.Publish(ctx, outbox.Event{Type: "a.b", Data: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)})
	var tl *validate.TooLargeError
	if !errors.As(err, &tl) || tl.Key != "delivery.max_payload_bytes" {
		t.Fatalf("oversized payload: %v, want a TooLargeError naming delivery.max_payload_bytes", err)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.events`); n != 0 {
		t.Fatalf("events = %d after bad input, want 0", n)
	}
}

// A fan-out stopped half-way (events written, some deliveries missing, as
// after a crash or from a plain SQL producer) completes with no duplicates.
func TestFanoutCompletesInterruptedFanOut(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	eps := []*endpoint.Endpoint{addEndpoint(t, ctx, b.pool), addEndpoint(t, ctx, b.pool, "order.*"), addEndpoint(t, ctx, b.pool, "user.*")}
	for i := range 20 {
		if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data) VALUES ($1, 'order.created', '{}')`, fmt.Sprintf("raw-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The crash happened after the first endpoint's deliveries for half the events.
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state)
		SELECT id, stored_at, $1, type, 'pending' FROM hookd.events WHERE seq % 2 = 0`, eps[0].ID); err != nil {
		t.Fatal(err)
	}
	n, err := outbox.RunFanout(ctx, b.pool, 7)
	if err != nil || n != 7 {
		t.Fatalf("first batch: %d, %v; want 7", n, err)
	}
	for {
		n, err := outbox.RunFanout(ctx, b.pool, 7)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries`); n != 40 {
		t.Fatalf("deliveries = %d, want 40 (20 events x 2 matching endpoints)", n)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries WHERE endpoint_id = $1`, eps[2].ID); n != 0 {
		t.Fatalf("non-matching endpoint got %d deliveries", n)
	}
	if n := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.events WHERE NOT fanned_out`); n != 0 {
		t.Fatalf("%d events left un-fanned", n)
	}
}

func TestFanoutServiceStartStop(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool)
	f := outbox.NewFanout(b.pool, nil, 0)
	for range 3 {
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		f.Stop(context.Background())
		f.Stop(context.Background())
	}
	f = outbox.NewFanout(b.pool, nil, 0)
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data) VALUES ('raw', 'a.b', '{}')`); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	testkit.Eventually(t, "the condition", func() bool {
		return count(t, ctx, b.pool, `SELECT count(*) FROM hookd.deliveries WHERE event_id = 'raw'`) == 1
	})
}

// Publishing a small batch plans its statement generically by a setting
// local to the transaction, which it puts back: the caller's statements
// after it run with the caller's setting, in the transaction and after.
func TestPublishTxLeavesTheCallersPlanSettingAlone(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool)
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	show := func(q pgx.Tx) string {
		var mode string
		var err error
		if q != nil {
			err = q.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode)
		} else {
			err = conn.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return mode
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pub.PublishTx(ctx, tx, outbox.Event{Type: "invoice.paid"}); err != nil {
		t.Fatal(err)
	}
	if mode := show(tx); mode != "force_custom_plan" {
		t.Errorf("plan_cache_mode in the caller's transaction after publishing = %s, want its own force_custom_plan", mode)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if mode := show(nil); mode != "auto" {
		t.Errorf("plan_cache_mode after the transaction = %s, want auto", mode)
	}
}

// One batch of several event types, some repeated, with a directed
// event, a tenant's events and broadcasts: each event goes to the
// endpoints its own type matches among those it may reach, however many
// events of the batch share the type (the patterns are computed once a
// type).
func TestPublishBatchFansOutEachEventByItsType(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	all := addEndpoint(t, ctx, b.pool)
	payments := addEndpoint(t, ctx, b.pool, "payment.*")
	invoices := addEndpoint(t, ctx, b.pool, "invoice.paid")
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.tenants (id) VALUES ('cus_a')`); err != nil {
		t.Fatal(err)
	}
	theirs, err := endpoint.Create(ctx, b.pool, endpoint.CreateParams{URL: "https://a.example/hook", Tenant: "cus_a",
		EventTypes: []string{"payment.*"}})
	if err != nil {
		t.Fatal(err)
	}
	evs := []outbox.Event{
		{ID: "evt_p1", Type: "payment.succeeded"},
		{ID: "evt_i1", Type: "invoice.paid"},
		{ID: "evt_p2", Type: "payment.succeeded"},
		{ID: "evt_o1", Type: "order.created"},
		{ID: "evt_d1", Type: "invoice.paid", EndpointID: payments.ID},
		{ID: "evt_i2", Type: "invoice.paid"},
		{ID: "evt_t1", Type: "payment.succeeded", Tenant: "cus_a"},
		{ID: "evt_t2", Type: "invoice.paid", Tenant: "cus_a"},
		{ID: "evt_b1", Type: "payment.succeeded", Broadcast: true},
		{ID: "evt_b2", Type: "invoice.paid", Broadcast: true},
	}
	if _, err := b.pub.PublishBatch(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"evt_p1": all.ID + "," + payments.ID,
		"evt_p2": all.ID + "," + payments.ID,
		"evt_i1": all.ID + "," + invoices.ID,
		"evt_i2": all.ID + "," + invoices.ID,
		"evt_o1": all.ID,
		"evt_d1": payments.ID,
		"evt_t1": theirs.ID,
		"evt_t2": "",
		"evt_b1": all.ID + "," + payments.ID + "," + theirs.ID,
		"evt_b2": all.ID + "," + invoices.ID,
	}
	for id, eps := range want {
		var got string
		if err := b.pool.QueryRow(ctx, `SELECT coalesce(string_agg(endpoint_id, ',' ORDER BY endpoint_id), '')
			FROM hookd.deliveries WHERE event_id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		var sorted []string
		if eps != "" {
			sorted = strings.Split(eps, ",")
		}
		slices.Sort(sorted)
		if got != strings.Join(sorted, ",") {
			t.Errorf("%s went to %q, want %q", id, got, strings.Join(sorted, ","))
		}
	}
}

// TestDeliveriesFollowPublishOrder: a fifo endpoint sends in delivery id
// order, so the ids must follow publish order, the feed's: a batch's order
// (whose event ids need not sort that way) and, for events written by
// plain SQL, the order the fan-out service finds them in.
func TestDeliveriesFollowPublishOrder(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	one := addEndpoint(t, ctx, b.pool)
	two := addEndpoint(t, ctx, b.pool)
	batch := []outbox.Event{{ID: "zz-first", Type: "a.b"}, {ID: "mm-second", Type: "a.b"}, {ID: "aa-third", Type: "a.b"}}
	if _, err := b.pub.PublishBatch(ctx, nil, batch); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"yy-fourth", "bb-fifth"} {
		if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data) VALUES ($1, 'a.b', '{}')`, id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := outbox.RunFanout(ctx, b.pool, 10); err != nil || n != 2 {
		t.Fatalf("fan-out = %d, %v", n, err)
	}
	want := "zz-first,mm-second,aa-third,yy-fourth,bb-fifth"
	for _, ep := range []string{one.ID, two.ID} {
		var got string
		if err := b.pool.QueryRow(ctx, `SELECT string_agg(event_id, ',' ORDER BY id) FROM hookd.queue WHERE endpoint_id = $1`,
			ep).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s's deliveries in id order: %s, want %s", ep, got, want)
		}
	}
}
