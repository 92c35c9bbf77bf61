package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/signing"
)

// runCeiling sends opts.Events signed POSTs, built the way the dispatcher
// builds them, from opts.Workers goroutines over one keep-alive client.
func runCeiling(ctx context.Context, rcv *receiver, secret string, payload []byte, opts Options) Ceiling {
	rcv.reset()
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * opts.Workers,
		MaxIdleConnsPerHost: opts.Workers,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		next atomic.Int64
		errs atomic.Int64
		rtt  = make([]time.Duration, opts.Events)
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range opts.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= opts.Events {
					return
				}
				t := time.Now()
				if err := postSigned(ctx, client, rcv.URL, secret, fmt.Sprintf("evt_ceiling_%d", i), payload); err != nil {
					errs.Add(1)
					continue
				}
				rtt[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	c := Ceiling{Requests: opts.Events, Concurrency: opts.Workers, Errors: errs.Load()}
	c.PerSec = float64(rcv.unique.Load()) / elapsed.Seconds()
	c.RTT = distOf(rtt)
	return c
}

func postSigned(ctx context.Context, client *http.Client, url, secret, id string, payload []byte) error {
	body, err := json.Marshal(map[string]any{"id": id, "type": "bench.ceiling",
		"created": time.Now().UTC().Format(time.RFC3339), "data": json.RawMessage(payload)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookd-bench")
	if err := signing.Sign(req.Header, id, time.Now(), body, []string{secret}); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}

// bench holds what the database phases share.
type bench struct {
	opts    Options
	pool    *pgxpool.Pool
	rcv     *receiver
	secret  string
	payload []byte
}

// reset gives the bench a fresh schema (the bench's database is its own)
// and creates the endpoints, endpoint i subscribed to type bench.e<i>.
func (b *bench) reset(ctx context.Context) error {
	if _, err := b.pool.Exec(ctx, `DROP SCHEMA hookd CASCADE`); err != nil {
		return err
	}
	if err := db.MigratePool(ctx, b.pool); err != nil {
		return err
	}
	if _, err := partition.Ensure(ctx, b.pool, partition.SpanFor(config.DefaultRetentionPeriod), time.Now()); err != nil {
		return err
	}
	for i := range b.opts.Endpoints {
		if _, err := endpoint.Create(ctx, b.pool, endpoint.CreateParams{
			URL: fmt.Sprintf("%s?endpoint=%d", b.rcv.URL, i), Secret: b.secret,
			EventTypes: []string{fmt.Sprintf("bench.e%d", i)}, MaxInFlight: b.opts.Workers,
		}); err != nil {
			return err
		}
	}
	b.rcv.reset()
	return nil
}

// dispatcher returns a dispatcher over the bench's database.
func (b *bench) dispatcher() *dispatch.Dispatcher {
	d := allowLoopback(b.opts.Delivery)
	d.Workers = b.opts.Workers
	d.MaxInFlightPerEndpoint = b.opts.Workers
	return dispatch.New(b.pool, dispatch.Options{Delivery: d, Logger: b.opts.Logger, Version: "bench"})
}

// publish writes events i in [from, to) in one transaction and returns
// their ids.
func (b *bench) publish(ctx context.Context, pub *outbox.Publisher, from, to int) ([]string, error) {
	out := make([]string, 0, to-from)
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		for i := from; i < to; i++ {
			res, err := pub.PublishTx(ctx, tx, outbox.Event{ID: ids.New("evt"),
				Type: fmt.Sprintf("bench.e%d", i%b.opts.Endpoints), Data: b.payload})
			if err != nil {
				return err
			}
			out = append(out, res.Event.ID)
		}
		return nil
	})
	return out, err
}

func (b *bench) burndown(ctx context.Context) (Burndown, error) {
	o := b.opts
	r := Burndown{Events: o.Events, Endpoints: o.Endpoints, Workers: o.Workers}
	if err := b.reset(ctx); err != nil {
		return r, err
	}
	pub := outbox.NewPublisher(b.pool, outbox.Options{})
	start := time.Now()
	chunks := make(chan int)
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for range publishers / 4 {
		wg.Go(func() {
			for from := range chunks {
				if _, err := b.publish(ctx, pub, from, min(from+1000, o.Events)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() {
		defer close(chunks)
		for from := 0; from < o.Events; from += 1000 {
			select {
			case chunks <- from:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return r, err
	default:
	}
	r.PublishRate = float64(o.Events) / time.Since(start).Seconds()

	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return r, err
		}
		defer pprof.StopCPUProfile()
	}
	d := b.dispatcher()
	cpu, _ := sampleCPU()
	start = time.Now()
	if err := d.Start(ctx); err != nil {
		return r, err
	}
	defer func() { _ = d.Stop(context.Background()) }()
	if err := b.await(ctx, func() bool { return b.rcv.unique.Load() >= int64(o.Events) }); err != nil {
		return r, fmt.Errorf("burn-down: %d of %d received: %w", b.rcv.unique.Load(), o.Events, err)
	}
	r.PerSec = float64(o.Events) / time.Unix(0, b.rcv.last.Load()).Sub(start).Seconds()
	if err := b.await(ctx, func() bool { return b.succeeded(ctx) >= o.Events }); err != nil {
		return r, fmt.Errorf("burn-down: recording: %w", err)
	}
	r.RecordedPerSec = float64(o.Events) / time.Since(start).Seconds()
	r.MachineBusy = busySince(cpu)
	r.Received, r.Duplicates, r.Rejected = b.rcv.unique.Load(), b.rcv.duplicates.Load(), b.rcv.rejected.Load()
	return r, nil
}

func (b *bench) succeeded(ctx context.Context) int {
	var n int
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM hookd.finished WHERE state = 'succeeded'`).Scan(&n)
	return n
}

// await polls cond until it holds, ctx ends or the phase times out.
func (b *bench) await(ctx context.Context, cond func() bool) error {
	deadline := time.Now().Add(b.opts.PhaseTimeout)
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", b.opts.PhaseTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// steady offers Rate events per second for Duration: every 10 ms one
// transaction carries that tick's share of events (as the baseline's one
// InsertMany per tick), handed to concurrent publishers so that a slow
// commit does not hold back the next tick. It measures publish-to-receipt
// latency from the start of each event's transaction.
func (b *bench) steady(ctx context.Context) (Steady, error) {
	o := b.opts
	st := Steady{OfferedPerSec: o.Rate, Duration: o.Duration.String()}
	if err := b.reset(ctx); err != nil {
		return st, err
	}
	d := b.dispatcher()
	if err := d.Start(ctx); err != nil {
		return st, err
	}
	defer func() { _ = d.Stop(context.Background()) }()
	pub := outbox.NewPublisher(b.pool, outbox.Options{})
	type sent struct {
		id       string
		at, done time.Time // transaction begun, committed
	}
	type batch struct{ from, to int }
	var (
		mu    sync.Mutex
		all   []sent
		first error
		wg    sync.WaitGroup
		slots = make(chan batch, publishers)
	)
	for range publishers {
		wg.Go(func() {
			for bt := range slots {
				at := time.Now()
				got, err := b.publish(ctx, pub, bt.from, bt.to)
				done := time.Now()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					for _, id := range got {
						all = append(all, sent{id, at, done})
					}
				}
				mu.Unlock()
			}
		})
	}
	const tick = 10 * time.Millisecond
	start, owed, n := time.Now(), 0.0, 0
	for k := 0; time.Since(start) < o.Duration && ctx.Err() == nil; k++ {
		owed += o.Rate * tick.Seconds()
		if c := int(owed); c > 0 {
			owed -= float64(c)
			select {
			case slots <- batch{n, n + c}:
				n += c
			default: // publishers are saturated: offered load is dropped, and said so
				st.Dropped += c
			}
		}
		if wait := time.Until(start.Add(time.Duration(k+1) * tick)); wait > 0 {
			time.Sleep(wait)
		}
	}
	close(slots)
	wg.Wait()
	if first != nil {
		return st, first
	}
	st.Published = len(all)
	_ = b.await(ctx, func() bool { return b.rcv.unique.Load() >= int64(len(all)) })
	lat := make([]time.Duration, 0, len(all))
	var commit, after []time.Duration
	for _, s := range all {
		if at := b.rcv.receivedAt(s.id); !at.IsZero() {
			lat = append(lat, at.Sub(s.at))
			commit = append(commit, s.done.Sub(s.at))
			after = append(after, at.Sub(s.done))
		} else {
			st.Missing++
		}
	}
	st.Received = b.rcv.unique.Load()
	st.Latency, st.Commit, st.CommitToReceipt = distOf(lat), distOf(commit), distOf(after)
	return st, nil
}

// publishers publish concurrently in the steady phase.
const publishers = 16
