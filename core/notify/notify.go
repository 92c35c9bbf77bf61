// Package notify multiplexes PostgreSQL LISTEN channels over one
// connection: the dispatcher and the inbox consumer subscribe to the
// channels they care about instead of each holding a connection and a
// hand-written loop of its own (core/app makes one per process).
//
// A subscription is a coalescing wake-up: a buffered channel of one that
// receives a value when a notification arrives on the subscribed
// PostgreSQL channel, and also after every (re)connection, since
// notifications sent while no connection listened are lost. Subscribers
// therefore treat a wake-up as "look again", never as a count.
//
//	n := notify.New(pool, logger)
//	wake, cancel := n.Subscribe("hookd_work")
//	defer cancel()
//	_ = n.Start(ctx)
//	defer n.Stop(context.Background())
//	for range wake { ... look for work ... }
package notify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/service"
)

// ApplicationName names the listening connection in pg_stat_activity.
const ApplicationName = "hookd listener"

// Notifier listens on one connection and wakes subscribers.
type Notifier struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[string][]chan struct{}
	hooks  map[int]SessionHook
	nextID int
	listen chan struct{} // a new channel to LISTEN on, or a new hook to run

	runner service.Runner
}

// New returns a Notifier on pool; it opens its own connection on Start.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{pool: pool, logger: logger.With("service", "notify"), subs: map[string][]chan struct{}{},
		hooks: map[int]SessionHook{}, listen: make(chan struct{}, 1)}
}

// A SessionHook runs on the listening connection once it listens, and
// again on every new connection: for session state that must last as
// long as the process is connected, such as the dispatcher's liveness
// lock (a session-level advisory lock, which PostgreSQL releases when the
// connection ends, however the process ended). An error is logged and
// leaves listening as it is; the hook runs again on the next connection.
type SessionHook func(ctx context.Context, conn *pgx.Conn) error

// OnSession adds a hook, run on the current connection soon (and on every
// later one), and returns a function that removes it. Removing it does not
// undo what it did on the current connection.
func (n *Notifier) OnSession(hook SessionHook) func() {
	n.mu.Lock()
	id := n.nextID
	n.nextID++
	n.hooks[id] = hook
	n.mu.Unlock()
	wake(n.listen)
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.hooks, id)
	}
}

// Subscribe returns a wake-up for channel and a function that ends the
// subscription. It may be called before or after Start.
func (n *Notifier) Subscribe(channel string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	_, known := n.subs[channel]
	n.subs[channel] = append(n.subs[channel], ch)
	n.mu.Unlock()
	if !known {
		wake(n.listen)
	}
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.subs[channel] = slices.DeleteFunc(n.subs[channel], func(c chan struct{}) bool { return c == ch })
	}
}

// Start listens until Stop or ctx ends, reconnecting after failures.
func (n *Notifier) Start(ctx context.Context) error {
	return n.runner.Start(ctx, "notify", n.run)
}

// Stop ends listening and waits for it, up to ctx; safe to call twice.
func (n *Notifier) Stop(ctx context.Context) error { return n.runner.StopContext(ctx) }

func (n *Notifier) run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.session(ctx, func() { wait = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		n.logger.Warn("listening for notifications failed; subscribers poll until it reconnects",
			slog.String("error", errString(err)), slog.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// session holds one connection: it listens on every subscribed channel,
// runs the session hooks, wakes everyone (what was sent while nobody
// listened is lost), then forwards notifications until the connection
// fails or ctx ends. A channel subscribed or a hook added meanwhile is
// taken on the same connection, so that what the hooks hold on it stays
// held.
func (n *Notifier) session(ctx context.Context, connected func()) error {
	cfg := n.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	listening := map[string]bool{}
	ran := map[int]bool{}
	first := true
	for {
		// Drain the request: this round takes every channel and hook
		// added so far.
		select {
		case <-n.listen:
		default:
		}
		for _, ch := range n.channels() {
			if listening[ch] {
				continue
			}
			if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
				return err
			}
			listening[ch] = true
		}
		for id, hook := range n.newHooks(ran) {
			ran[id] = true
			if err := hook(ctx, conn); err != nil {
				if ctx.Err() != nil || conn.IsClosed() {
					return err
				}
				n.logger.Warn("a hook of the listening connection failed; it runs again on the next connection",
					slog.String("error", err.Error()))
			}
		}
		if first {
			first = false
			connected()
		}
		n.wakeAll() // a new subscriber looks once, as after a reconnection
		if err := n.waitUntilAdded(ctx, conn); err != nil {
			return err
		}
	}
}

// waitUntilAdded forwards notifications until a channel is subscribed or
// a hook added (nil), or the connection fails or ctx ends (an error).
func (n *Notifier) waitUntilAdded(ctx context.Context, conn *pgx.Conn) error {
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var added atomic.Bool
	go func() {
		select {
		case <-n.listen:
			added.Store(true)
			cancel()
		case <-waitCtx.Done():
		}
	}()
	for {
		msg, err := conn.WaitForNotification(waitCtx)
		if err != nil {
			if ctx.Err() == nil && added.Load() && !conn.IsClosed() {
				return nil
			}
			return err
		}
		n.wakeChannel(msg.Channel)
	}
}

// newHooks returns the hooks not in ran.
func (n *Notifier) newHooks(ran map[int]bool) map[int]SessionHook {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[int]SessionHook{}
	for id, h := range n.hooks {
		if !ran[id] {
			out[id] = h
		}
	}
	return out
}

func (n *Notifier) channels() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.subs))
	for ch := range n.subs {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

func (n *Notifier) wakeChannel(channel string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range n.subs[channel] {
		wake(ch)
	}
}

func (n *Notifier) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, subs := range n.subs {
		for _, ch := range subs {
			wake(ch)
		}
	}
}

// wake does a non-blocking send on a coalescing channel.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func errString(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}
