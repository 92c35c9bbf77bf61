package faulttest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/testkit"
)

// restartEvents is how many events are on their way when PostgreSQL
// restarts.
const restartEvents = 2000

// ownServer starts a PostgreSQL server of the test's own in a directory
// its account can reach (when the tests run as root it runs as another
// user), with a hookd database in it.
func ownServer(t *testing.T, opts pgembed.Options) *pgembed.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgembed.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPostgresRestartMidDelivery: PostgreSQL is restarted (a fast
// shutdown, then a start on the same port, as pg_ctl restart does) while
// 2,000 events are being delivered: every event reaches the receiver, and
// every delivery ends succeeded; none is left pending or in flight.
func TestPostgresRestartMidDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hookd-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// fsync off: the test is about a restart, not about a power cut.
	opts := pgembed.Options{DataDir: dir, Settings: map[string]string{"fsync": "off", "max_connections": "50"}}
	cluster := ownServer(t, opts)
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE hookd"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	rc := newReceiver(t, ok)
	srv, d := serve(t, faultConfig(cluster.URL("hookd")))
	if _, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: rc.srv.URL + "/hook"}); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < restartEvents; start += 500 {
		events := make([]outbox.Event, 500)
		for i := range events {
			events[i] = outbox.Event{ID: fmt.Sprintf("evt_%04d", start+i), Type: "order.created"}
		}
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			_, err := srv.Publisher.PublishBatch(ctx, tx, events)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	testkit.Eventually(t, "some deliveries before the restart", func() bool { return rc.servedCount() >= 300 })
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := cluster.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	before := rc.servedCount()
	if before >= restartEvents {
		t.Fatal("every event arrived before the restart; the test proves nothing")
	}
	opts.Port = cluster.Port()
	cluster = ownServer(t, opts)
	t.Logf("restarted PostgreSQL with %d of %d events received", before, restartEvents)

	testkit.EventuallyWithin(t, 3*time.Minute, "every event to reach the receiver", func() bool {
		return rc.servedCount() == restartEvents
	})
	testkit.EventuallyWithin(t, 2*time.Minute, "every delivery to be recorded succeeded", func() bool {
		var succeeded, other int
		err := d.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state <> 'succeeded')
			FROM hookd.deliveries`).Scan(&succeeded, &other)
		return err == nil && succeeded == restartEvents && other == 0
	})
	rc.mu.Lock()
	dup := 0
	for _, n := range rc.served {
		if n > 1 {
			dup++
		}
	}
	rc.mu.Unlock()
	t.Logf("%d events were received more than once (at-least-once across the restart)", dup)
}
