package notify_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jackc/pgx/v5"

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

	listeners := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hookd listener'`
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
		WHERE datname = current_database() AND application_name = 'hookd listener'`); err != nil {
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

// TestSessionHooksRunOnTheListeningConnection: a hook runs on the
// listening connection, a hook added later runs on that same connection
// (what the first one holds there stays held), and both run again on the
// connection made after one is lost.
func TestSessionHooksRunOnTheListeningConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	n := notify.New(pool, nil)
	_, cancelWork := n.Subscribe("hookd_work")
	defer cancelWork()
	pids := func() (chan int32, notify.SessionHook) {
		ch := make(chan int32, 4)
		return ch, func(ctx context.Context, conn *pgx.Conn) error {
			var pid int32
			err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
			ch <- pid
			return err
		}
	}
	next := func(ch chan int32, what string) int32 {
		t.Helper()
		select {
		case pid := <-ch:
			return pid
		case <-time.After(testkit.Timeout):
			t.Fatalf("the hook did not run %s", what)
			return 0
		}
	}
	first, hook := pids()
	defer n.OnSession(hook)()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	pid := next(first, "on the first connection")
	var listener int32
	testkit.Eventually(t, "the listening connection", func() bool {
		return pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, notify.ApplicationName).
			Scan(&listener) == nil
	})
	if listener != pid {
		t.Fatalf("the hook ran on backend %d, the listener is %d", pid, listener)
	}

	second, hook2 := pids()
	defer n.OnSession(hook2)()
	if got := next(second, "when added"); got != pid {
		t.Fatalf("a hook added later ran on backend %d, want the listening connection %d", got, pid)
	}
	select {
	case again := <-first:
		t.Fatalf("adding a hook ran the first one again (backend %d)", again)
	default:
	}

	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	a, b := next(first, "after the reconnection"), next(second, "after the reconnection")
	if a == pid || a != b {
		t.Fatalf("after the reconnection the hooks ran on backends %d and %d (the lost one was %d)", a, b, pid)
	}
}
