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
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/service"
)

// Notifier listens on one connection and wakes subscribers.
type Notifier struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[string][]chan struct{}
	listen chan struct{} // a new channel to LISTEN on

	runner service.Runner
}

// New returns a Notifier on pool; it opens its own connection on Start.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{pool: pool, logger: logger.With("service", "notify"), subs: map[string][]chan struct{}{},
		listen: make(chan struct{}, 1)}
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

// errResubscribe ends a session so that the next one listens on a channel
// subscribed since.
var errResubscribe = errors.New("a new channel to listen on")

func (n *Notifier) run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.session(ctx, func() { wait = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errResubscribe) {
			continue
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
// wakes everyone (what was sent while nobody listened is lost), then
// forwards notifications until the connection fails or ctx ends.
func (n *Notifier) session(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, n.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	// Drain the request to listen: this session listens on every channel
	// subscribed so far.
	select {
	case <-n.listen:
	default:
	}
	for _, ch := range n.channels() {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	connected()
	n.wakeAll()
	// A channel subscribed from now on ends the session, and the next one
	// listens on it too.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var resubscribe atomic.Bool
	go func() {
		select {
		case <-n.listen:
			resubscribe.Store(true)
			cancel()
		case <-waitCtx.Done():
		}
	}()
	for {
		msg, err := conn.WaitForNotification(waitCtx)
		if err != nil {
			if ctx.Err() == nil && resubscribe.Load() {
				return errResubscribe
			}
			return err
		}
		n.wakeChannel(msg.Channel)
	}
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
