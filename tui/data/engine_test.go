package data_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/data"
)

// deadWorld has three named endpoints and, per endpoint, dead letters
// with known reasons, written as the engine leaves them: erp n dead
// (connect refused), billing 5 dead with 503 and 2 retrying, search 3
// succeeded.
type deadWorld struct {
	pool                 *pgxpool.Pool
	src                  *data.Postgres
	erp, billing, search string
}

func seedDead(t *testing.T, erpDead int) *deadWorld {
	t.Helper()
	ctx := context.Background()
	w := &deadWorld{pool: dbtest.NewPool(t)}
	w.src = data.NewPostgres(w.pool)
	for _, p := range []struct {
		dst  *string
		desc string
		url  string
	}{{&w.erp, "Legacy ERP", "https://erp.example/in"}, {&w.billing, "Billing service", "https://billing.example/hooks"},
		{&w.search, "", "https://search.example/wh"}} {
		ep, err := endpoint.Create(ctx, w.pool, endpoint.CreateParams{URL: p.url, Description: p.desc})
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = ep.ID
	}
	insert := func(n int, ep, state string, attempts int, status any, class, errText string) {
		t.Helper()
		_, err := w.pool.Exec(ctx, `
			WITH ev AS (
				INSERT INTO hookd.events (id, type, data, fanned_out)
				SELECT 'evt_' || $1 || '_' || $2 || '_' || i, 'invoice.paid', '{"i":1}', true FROM generate_series(1, $3::int) i
				RETURNING id, type, stored_at
			), ids AS (
				INSERT INTO hookd.event_ids (id, stored_at) SELECT id, stored_at FROM ev
			), queued AS (
				-- pending here means waiting out a backoff: retrying
				INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state, attempts, last_status,
					last_error_class, last_error, next_attempt_at)
				SELECT id, stored_at, $1, type, 'retrying', $4, $5::int, $6, $7, now() + interval '1 hour'
				FROM ev WHERE $2 = 'pending' ORDER BY id
			)
			INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, last_status,
				last_error_class, last_error, created_at, completed_at)
			SELECT nextval('hookd.delivery_ids'), id, stored_at, $1, type, $2, $4, $5::int, $6, $7, now(), now()
			FROM ev WHERE $2 IN ('dead', 'succeeded') ORDER BY id`, ep, state, n, attempts, status, class, errText)
		if err != nil {
			t.Fatal(err)
		}
	}
	insert(3, w.search, "succeeded", 1, 200, "", "")
	insert(5, w.billing, "dead", 10, 503, delivery.ClassHTTPStatus, "HTTP 503 Service Unavailable")
	insert(2, w.billing, "pending", 3, 503, delivery.ClassHTTPStatus, "HTTP 503 Service Unavailable")
	insert(erpDead, w.erp, "dead", 10, nil, delivery.ClassConnect, "connection failed: dial tcp 10.0.0.9:443: connect: connection refused")
	return w
}

func TestSearchTermsTheEngineListDoesNotTake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := seedDead(t, 4)
	for name, tc := range map[string]struct {
		q    data.DeliveryQuery
		want int
	}{
		"text":            {data.DeliveryQuery{Text: "REFUSED"}, 4},
		"reason":          {data.DeliveryQuery{Reason: delivery.ClassHTTPStatus}, 7},
		"status class":    {data.DeliveryQuery{StatusMin: 500, StatusMax: 599}, 7},
		"retrying":        {data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateRetrying}}, 2},
		"two endpoints":   {data.DeliveryQuery{EndpointIDs: []string{w.erp, w.search}}, 7},
		"dead of two":     {data.DeliveryQuery{EndpointIDs: []string{w.erp, w.billing}, Filter: delivery.Filter{State: delivery.StateDead}}, 9},
		"matches nothing": {data.DeliveryQuery{EndpointIDs: []string{}}, 0},
	} {
		page, err := w.src.Deliveries(ctx, tc.q)
		if err != nil || len(page.Deliveries) != tc.want || page.Next != 0 || page.Scanned {
			t.Errorf("%s: %v, %d rows (next %d), want %d", name, err, len(page.Deliveries), page.Next, tc.want)
			continue
		}
		if !slices.IsSortedFunc(page.Deliveries, func(a, b delivery.Delivery) int { return int(b.ID - a.ID) }) {
			t.Errorf("%s: not newest first", name)
		}
		for _, d := range page.Deliveries {
			if l, ok := page.Labels[d.EndpointID]; !ok || l.Name() == "" {
				t.Errorf("%s: delivery %d's endpoint is not named", name, d.ID)
			}
		}
	}
	// Pages continue where they stopped, across the merged ranges.
	var all []int64
	q := data.DeliveryQuery{EndpointIDs: []string{w.erp, w.billing}, Limit: 3}
	for {
		page, err := w.src.Deliveries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Deliveries {
			all = append(all, d.ID)
		}
		if page.Next == 0 {
			break
		}
		q.Before = page.Next
	}
	if len(all) != 11 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(all))) != 11 {
		t.Fatalf("paging through 11 deliveries of two endpoints: %v", all)
	}
}

// A search reads at most data.ScanLimit deliveries: past them it says so
// and the next page goes on from where it stopped.
func TestSearchIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := seedDead(t, data.ScanLimit+50)
	// The only match is older than the newest ScanLimit dead letters.
	var oldest int64
	if err := w.pool.QueryRow(ctx, `UPDATE hookd.finished SET last_error = 'needle' WHERE id = (SELECT min(id) FROM hookd.finished WHERE endpoint_id = $1)
		RETURNING id`, w.erp).Scan(&oldest); err != nil {
		t.Fatal(err)
	}
	q := data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead}, Text: "needle"}
	page, err := w.src.Deliveries(ctx, q)
	if err != nil || len(page.Deliveries) != 0 || !page.Scanned || page.Next == 0 {
		t.Fatalf("the first page stops after ScanLimit with no match: %v %+v", err, page)
	}
	q.Before = page.Next
	page, err = w.src.Deliveries(ctx, q)
	if err != nil || len(page.Deliveries) != 1 || page.Deliveries[0].ID != oldest {
		t.Fatalf("the next page finds the older match: %v %+v", err, page)
	}
	// A preview of that search lists the ids it found within the bound.
	pv, err := w.src.Preview(ctx, data.DeliveryQuery{Text: "needle"}, time.Now())
	if err != nil || pv.Count != 0 || !pv.Groups.Capped {
		t.Fatalf("the preview counts within the bound and says it is capped: %v %+v", err, pv)
	}
}

func TestGroupsAndPreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := seedDead(t, 4)
	g, err := w.src.DeadGroups(ctx, data.DeliveryQuery{})
	if err != nil || len(g.Groups) != 2 || g.Capped {
		t.Fatalf("%v %+v", err, g)
	}
	if top := g.Groups[0]; top.EndpointID != w.billing || top.Count != 5 || top.Reason() != "HTTP 503 Service Unavailable" ||
		top.Endpoint.Name() != "Billing service" {
		t.Fatalf("the largest group first, named: %+v", top)
	}
	if erp := g.Groups[1]; erp.Count != 4 || erp.Reason() != "connect: connection refused" || erp.Endpoint.Name() != "Legacy ERP" {
		t.Fatalf("Legacy ERP: 4 × connect: connection refused: %+v %q", erp, erp.Reason())
	}
	// A preview by the engine's filter counts exactly and replays by it.
	pv, err := w.src.Preview(ctx, data.DeliveryQuery{EndpointIDs: []string{w.erp}}, time.Now())
	if err != nil || pv.Count != 4 || pv.IDs != nil || pv.Groups.Groups[0].Health == nil {
		t.Fatalf("%v %+v", err, pv)
	}
	ctx = audit.NewContext(ctx, audit.SSHKey("SHA256:op", "alice"))
	n, err := w.src.ReplayQuery(ctx, pv, "/endpoint:erp")
	if err != nil || n != 4 {
		t.Fatalf("%v %d", err, n)
	}
	// A preview by text lists the ids, and the replay takes exactly those.
	pv, err = w.src.Preview(ctx, data.DeliveryQuery{Text: "503"}, time.Now())
	if err != nil || pv.Count != 5 || len(pv.IDs) != 5 {
		t.Fatalf("%v %+v", err, pv)
	}
	if n, err := w.src.ReplayQuery(ctx, pv, "/503"); err != nil || n != 5 {
		t.Fatalf("%v %d", err, n)
	}
	var dead int
	_ = w.pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'dead'`).Scan(&dead)
	if dead != 0 {
		t.Fatalf("%d dead letters left", dead)
	}
	trail, _ := w.src.Audit(ctx, audit.ListParams{})
	if len(trail.Entries) != 2 || trail.Entries[0].Target != "/503" || trail.Entries[0].Rows != 5 ||
		trail.Entries[1].Rows != 4 || trail.Entries[0].Actor.ID != "SHA256:op" || trail.Entries[0].Via != audit.ViaConsole {
		t.Fatalf("each replay is audited with its actor, filter and count: %+v", trail.Entries)
	}
}

func TestEndpointPagesAndNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := seedDead(t, 4)
	page, err := w.src.Endpoints(ctx, data.EndpointQuery{Limit: 2})
	if err != nil || len(page.Rows) != 2 || page.Next == "" || page.Total != 3 {
		t.Fatalf("%v %+v", err, page)
	}
	rest, err := w.src.Endpoints(ctx, data.EndpointQuery{Limit: 2, After: page.Next})
	if err != nil || len(rest.Rows) != 1 || rest.Next != "" || rest.Rows[0].Endpoint.ID <= page.Next {
		t.Fatalf("%v %+v", err, rest)
	}
	for _, r := range append(page.Rows, rest.Rows...) {
		if r.Endpoint.Secret != "" {
			t.Fatal("lists never read secrets")
		}
		if r.Endpoint.ID == w.billing && (r.Health.Dead != 5 || r.Health.Retrying != 2) {
			t.Fatalf("billing's health %+v", r.Health)
		}
	}
	found, err := w.src.FindEndpoints(ctx, "ERP", "", 10)
	if err != nil || len(found) != 1 || found[0].ID != w.erp {
		t.Fatalf("by description: %v %+v", err, found)
	}
	found, _ = w.src.FindEndpoints(ctx, "search.example", "", 10)
	if len(found) != 1 || found[0].Name() != "search.example/wh" {
		t.Fatalf("by URL, named by host and path: %+v", found)
	}
	only, err := w.src.Endpoints(ctx, data.EndpointQuery{IDs: []string{w.erp}})
	if err != nil || len(only.Rows) != 1 || only.Rows[0].Endpoint.ID != w.erp {
		t.Fatalf("%v %+v", err, only)
	}

	d, err := w.src.Endpoint(ctx, w.billing, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Minutes) != 60 || len(d.Recent) != 7 || d.Row.Endpoint.Secret != "" {
		t.Fatalf("the page: %d minutes, %d recent, secret %q", len(d.Minutes), len(d.Recent), d.Row.Endpoint.Secret)
	}
	if !slices.IsSortedFunc(d.Recent, func(a, b delivery.Delivery) int { return int(b.ID - a.ID) }) {
		t.Fatal("recent deliveries newest first, across states")
	}
	states := map[string]int64{}
	for _, g := range d.Errors.Groups {
		states[g.State] += g.Count
	}
	if states["dead"] != 5 || states["retrying"] != 2 {
		t.Fatalf("errors grouped by reason, dead and retrying: %+v", d.Errors)
	}
}

func TestLookupAndAuditedEndpointActions(t *testing.T) {
	t.Parallel()
	ctx := audit.NewContext(context.Background(), audit.Actor{Kind: audit.KindOS, ID: "carol"})
	w := seedDead(t, 1)
	var dl int64
	_ = w.pool.QueryRow(ctx, `SELECT min(id) FROM hookd.deliveries`).Scan(&dl)
	var ev string
	_ = w.pool.QueryRow(ctx, `SELECT event_id FROM hookd.deliveries WHERE id = $1`, dl).Scan(&ev)
	for id, kind := range map[string]string{w.erp: "endpoint", ev: "event", itoa(dl): "delivery"} {
		f, err := w.src.Lookup(ctx, id)
		if err != nil || f.Kind != kind {
			t.Errorf("lookup %s: %v %+v, want %s", id, err, f, kind)
		}
	}
	if _, err := w.src.Lookup(ctx, "evt_nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("an unknown id: %v", err)
	}

	before, _ := endpoint.Get(ctx, w.pool, w.erp)
	secret, err := w.src.RotateSecret(ctx, w.erp, time.Hour)
	if err != nil || secret == before.Secret || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("rotate: %v %q", err, secret)
	}
	evID, err := w.src.SendTestEvent(ctx, w.erp)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	rows, _ := w.pool.Query(ctx, `SELECT endpoint_id FROM hookd.deliveries WHERE event_id = $1`, evID)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		to = append(to, s)
	}
	rows.Close()
	if len(to) != 1 || to[0] != w.erp {
		t.Fatalf("the test event goes to that endpoint only: %v", to)
	}
	url, rate := "https://erp2.example/in", 5
	if err := w.src.UpdateEndpoint(ctx, w.erp, endpoint.UpdateParams{URL: &url, RateLimit: &rate}); err != nil {
		t.Fatal(err)
	}
	bad := "ftp://x"
	if err := w.src.UpdateEndpoint(ctx, w.erp, endpoint.UpdateParams{URL: &bad}); err == nil {
		t.Fatal("a bad URL is refused")
	}
	// The address guard holds for an edit, as for the CLI's and the API's.
	metadata := "http://169.254.169.254/latest"
	if err := w.src.UpdateEndpoint(ctx, w.erp, endpoint.UpdateParams{URL: &metadata}); err == nil ||
		!strings.Contains(err.Error(), "outbound address guard") {
		t.Fatalf("an edit aiming at the metadata address = %v, want the guard's refusal", err)
	}
	if err := w.src.Refused(ctx, audit.ActionDisable, w.erp); err != nil {
		t.Fatal(err)
	}
	trail, _ := w.src.Audit(ctx, audit.ListParams{})
	var got []string
	for _, e := range trail.Entries {
		got = append(got, e.Action+":"+e.Outcome)
		if strings.Contains(e.Detail+e.Target+e.Error, secret) {
			t.Fatal("the trail never holds a secret")
		}
		if e.Actor.ID != "carol" {
			t.Fatalf("actor %+v", e.Actor)
		}
	}
	want := []string{"disable:refused", "edit:failed", "edit:failed", "edit:ok", "test_event:ok", "rotate_secret:ok"}
	if !slices.Equal(got, want) {
		t.Fatalf("trail %v, want %v", got, want)
	}
	if e := trail.Entries[3]; e.Detail != "url=https://erp2.example/in rate_limit=5" {
		t.Fatalf("an edit names what it changed: %q", e.Detail)
	}
}

func itoa(n int64) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestInboxForwardsIdsAndRejections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := seedDead(t, 1)
	fwd := "ep_fwd_shop"
	if _, err := endpoint.Create(ctx, w.pool, endpoint.CreateParams{ID: fwd, Kind: endpoint.KindForward, URL: "https://shop.example/in"}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO hookd.sources (name, scheme, secrets, forward_to) VALUES ('shop', 'stripe', '{whsec_x}', 'https://shop.example/in')`,
		// As intake writes them: the event and its dedupe key.
		`WITH ev AS (
			INSERT INTO hookd.inbox (source, event_id, event_type, body, verification, state) VALUES
				('shop', 'evt_a', 'charge.succeeded', '{}', 'stripe: ok', 'forwarded'),
				('shop', 'evt_b', 'charge.failed', '{}', 'stripe: ok', 'processed')
			RETURNING id, source, event_id, stored_at
		)
		INSERT INTO hookd.inbox_ids (source, event_id, inbox_id, stored_at) SELECT source, event_id, id, stored_at FROM ev`,
		`WITH ev AS (
			INSERT INTO hookd.events (id, type, data, fanned_out, endpoint_id)
			VALUES ('in:shop:evt_a', 'shop.charge.succeeded', '{}', true, 'ep_fwd_shop') RETURNING id, stored_at
		), ids AS (
			INSERT INTO hookd.event_ids (id, stored_at) SELECT id, stored_at FROM ev
		)
		INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, last_error_class,
			last_error, created_at, completed_at)
		SELECT nextval('hookd.delivery_ids'), id, stored_at, 'ep_fwd_shop', 'shop.charge.succeeded', 'dead', 10, 'connect',
			'connection refused', now(), now() FROM ev`,
		`INSERT INTO hookd.intake_minutes (source, minute, rejected) VALUES ('shop', date_trunc('minute', now()), 7)`,
	} {
		if _, err := w.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	page, err := w.src.Inbox(ctx, data.InboxQuery{})
	if err != nil || len(page.Events) != 2 || page.Rejected["shop"] != 7 {
		t.Fatalf("%v %+v", err, page)
	}
	a := page.Events[1]
	if a.EventID != "evt_a" || a.Forward == nil || a.Forward.State != delivery.StateDead {
		t.Fatalf("a forwarded event carries its forward delivery: %+v", a)
	}
	if page.Events[0].Forward != nil {
		t.Fatal("a processed event has no forward")
	}
	byID, err := w.src.Inbox(ctx, data.InboxQuery{EventID: "evt_b"})
	if err != nil || len(byID.Events) != 1 || byID.Events[0].EventID != "evt_b" {
		t.Fatalf("id: by the sender's id: %v %+v", err, byID)
	}
	byNum, err := w.src.Inbox(ctx, data.InboxQuery{EventID: itoa(a.ID)})
	if err != nil || len(byNum.Events) != 1 || byNum.Events[0].ID != a.ID {
		t.Fatalf("id: by the inbox id: %v %+v", err, byNum)
	}
	ev, err := w.src.InboxEvent(ctx, a.ID)
	if err != nil || ev.Forward == nil || ev.Forward.EndpointID != fwd {
		t.Fatalf("%v %+v", err, ev)
	}
}
