package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/notify"
	"github.com/hookd/hookd/core/testkit"
)

// appTable is the application's own table, written in Handle's tx; its
// primary key would refuse a second processing of an event.
const appTable = `CREATE TABLE app_effects (source text, event_id text, PRIMARY KEY (source, event_id))`

func recordEffect(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO app_effects VALUES ($1, $2)`, ev.Source, ev.EventID)
	return err
}

func startConsumer(t *testing.T, b *bundle, opts inbox.ConsumerOptions) *inbox.Consumer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	opts.Metrics = b.metrics
	c, err := inbox.NewConsumer(b.pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func insertEvents(t *testing.T, b *bundle, source string, n int) {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), `INSERT INTO hookd.inbox (source, event_id, body)
		SELECT $1, 'e' || g, '{}'::bytea FROM generate_series(1, $2) g`, source, n); err != nil {
		t.Fatal(err)
	}
}

// TestConsumersExactlyOnce: two consumers, four workers each, over 1,000
// events: every event is handled once and its effect written once.
func TestConsumersExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	if _, err := b.pool.Exec(context.Background(), appTable); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, b, "app", 1000)
	var calls atomic.Int64
	handle := func(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
		calls.Add(1)
		return recordEffect(ctx, tx, ev)
	}
	c1 := startConsumer(t, b, inbox.ConsumerOptions{Handle: handle, Concurrency: 4})
	c2 := startConsumer(t, b, inbox.ConsumerOptions{Source: "app", Handle: handle, Concurrency: 4})
	testkit.Eventually(t, "1,000 events processed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'processed'`) == 1000
	})
	c1.Stop(context.Background())
	c2.Stop(context.Background())
	c2.Stop(context.Background())
	if n := b.count(t, `SELECT count(*) FROM app_effects`); n != 1000 {
		t.Fatalf("app table holds %d rows, want 1000", n)
	}
	if n := calls.Load(); n != 1000 {
		t.Fatalf("handler called %d times, want 1000", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.inbox WHERE attempts <> 1 OR processed_at IS NULL`); n != 0 {
		t.Fatalf("%d events with attempts other than 1", n)
	}
}

// flaky fails each event's first `fails` tries after writing its effect,
// so a failed try's write must be rolled back for the final one to succeed.
type flaky struct {
	mu     sync.Mutex
	tries  map[string]int
	fails  int
	always atomic.Bool
}

func (f *flaky) handle(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
	if err := recordEffect(ctx, tx, ev); err != nil {
		return err
	}
	f.mu.Lock()
	f.tries[ev.EventID]++
	n := f.tries[ev.EventID]
	f.mu.Unlock()
	if f.always.Load() || n <= f.fails {
		return errors.New("downstream unavailable")
	}
	return nil
}

func (f *flaky) triesOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries[id]
}

func TestConsumerRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	if _, err := b.pool.Exec(context.Background(), appTable); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, b, "app", 1)
	f := &flaky{tries: map[string]int{}, fails: 2}
	startConsumer(t, b, inbox.ConsumerOptions{Handle: f.handle, RetrySchedule: []time.Duration{time.Millisecond}})
	testkit.Eventually(t, "the event processed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'processed'`) == 1
	})
	ev, err := inbox.Get(context.Background(), b.pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Attempts != 3 || f.triesOf("e1") != 3 || ev.LastError != "downstream unavailable" {
		t.Fatalf("attempts %d, tries %d, last error %q", ev.Attempts, f.triesOf("e1"), ev.LastError)
	}
	if n := b.count(t, `SELECT count(*) FROM app_effects`); n != 1 {
		t.Fatalf("app table holds %d rows, want 1", n)
	}
}

// TestConsumerDeadThenReplay: an event failing MaxAttempts times is dead;
// Replay gives it a fresh budget and it is processed once.
func TestConsumerDeadThenReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	if _, err := b.pool.Exec(context.Background(), appTable); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, b, "app", 1)
	f := &flaky{tries: map[string]int{}}
	f.always.Store(true)
	startConsumer(t, b, inbox.ConsumerOptions{Handle: f.handle, MaxAttempts: 3,
		RetrySchedule: []time.Duration{time.Millisecond, 2 * time.Millisecond}})
	testkit.Eventually(t, "the event dead", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'dead'`) == 1
	})
	ctx := context.Background()
	page, err := inbox.List(ctx, b.pool, inbox.ListParams{State: inbox.StateDead})
	if err != nil || len(page.Events) != 1 || page.Events[0].Attempts != 3 || f.triesOf("e1") != 3 {
		t.Fatalf("dead list %+v %v, tries %d", page, err, f.triesOf("e1"))
	}
	f.always.Store(false)
	if _, err := inbox.Replay(ctx, b.pool, page.Events[0].ID); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the replayed event processed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'processed'`) == 1
	})
	if n := b.count(t, `SELECT count(*) FROM app_effects`); n != 1 {
		t.Fatalf("app table holds %d rows, want 1", n)
	}
	if _, err := inbox.Replay(ctx, b.pool, page.Events[0].ID); err == nil {
		t.Fatal("replaying a processed event succeeded")
	}
	if n := counterValue(t, b.metrics.InboxProcessed.WithLabelValues("dead")); n != 1 {
		t.Fatalf("dead metric %v", n)
	}
}

// TestConsumerWakesOnNotify: with polling effectively off, an event taken
// in by the handler reaches the consumer through NOTIFY, on a listener of
// the consumer's own or on the process's shared one.
func TestConsumerWakesOnNotify(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			t.Parallel()
			b := setup(t, inbox.HandlerOptions{})
			b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
			var n *notify.Notifier
			if shared {
				n = notify.New(b.pool, nil)
				if err := n.Start(t.Context()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.Stop(context.Background()) })
			}
			got := make(chan string, 1)
			startConsumer(t, b, inbox.ConsumerOptions{Source: "std", PollInterval: time.Hour, Notifier: n,
				Handle: func(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
					got <- ev.Type + " " + string(ev.Body)
					return nil
				}})
			if a := b.post(t, "std", standardSigned(t, "m1", time.Now(), `{"type":"order.placed"}`, secretA)); a.status != 200 {
				t.Fatalf("answer %d %v", a.status, a.body)
			}
			select {
			case s := <-got:
				if s != `order.placed {"type":"order.placed"}` {
					t.Fatalf("handled %q", s)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the consumer was not woken by the new event")
			}
		})
	}
}

// tlog writes log lines into the test's output.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestConsumerCrashMidHandle: the consumer's database session dies after
// Handle wrote its effect but before the commit (as when the process is
// killed): the effect is undone, the event stays pending, and the next
// claim processes it once.
func TestConsumerCrashMidHandle(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	if _, err := b.pool.Exec(context.Background(), appTable); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, b, "app", 1)
	var calls atomic.Int64
	startConsumer(t, b, inbox.ConsumerOptions{Logger: slog.New(slog.DiscardHandler),
		Handle: func(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
			if err := recordEffect(ctx, tx, ev); err != nil {
				return err
			}
			if calls.Add(1) == 1 {
				var pid int
				if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					return err
				}
				if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
					return err
				}
			}
			return nil
		}})
	testkit.Eventually(t, "the event processed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'processed'`) == 1
	})
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler called %d times, want 2 (crash, then success)", n)
	}
	if n := b.count(t, `SELECT count(*) FROM app_effects`); n != 1 {
		t.Fatalf("app table holds %d rows, want 1", n)
	}
}
