package notify_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/notify"
	"github.com/hookd/hookd/core/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(dbtest.Wrap(m), goleak.IgnoreAnyFunction(dbtest.SharedServerGoroutine))
}

// waitWake waits for one wake-up on ch.
func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testkit.Timeout):
		t.Fatalf("no wake-up for %s", what)
	}
}

// drain empties a coalescing channel.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func TestSubscribersShareOneConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	n := notify.New(pool, nil)
	work, cancelWork := n.Subscribe("hookd_work")
	defer cancelWork()
	inbox, cancelInbox := n.Subscribe("hookd_inbox")
	defer cancelInbox()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })

	// Every subscriber is woken once connected: notifications sent before
	// anyone listened are lost, so everyone looks again.
	waitWake(t, work, "the first connection (work)")
	waitWake(t, inbox, "the first connection (inbox)")

	listeners := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`
	var count int
	testkit.Eventually(t, "one listening connection", func() bool {
		_ = pool.QueryRow(ctx, listeners).Scan(&count)
		return count == 1
	})

	if _, err := pool.Exec(ctx, `SELECT pg_notify('hookd_work', '')`); err != nil {
		t.Fatal(err)
	}
	waitWake(t, work, "a notification on hookd_work")
	select {
	case <-inbox:
		t.Fatal("a notification on hookd_work woke the inbox subscriber")
	case <-time.After(50 * time.Millisecond):
	}

	// A channel subscribed later is listened on too.
	late, cancelLate := n.Subscribe("hookd_late")
	defer cancelLate()
	waitWake(t, late, "the new subscription")
	drain(work)
	drain(inbox)
	testkit.Eventually(t, "a notification on the late channel", func() bool {
		if _, err := pool.Exec(ctx, `SELECT pg_notify('hookd_late', '')`); err != nil {
			t.Fatal(err)
		}
		select {
		case <-late:
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})

	// A lost connection is made again and everyone is woken.
	drain(work)
	drain(inbox)
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`); err != nil {
		t.Fatal(err)
	}
	waitWake(t, work, "the reconnection (work)")
	waitWake(t, inbox, "the reconnection (inbox)")
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal("a second Stop failed:", err)
	}
}
