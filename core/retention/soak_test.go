package retention_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/retention"
)

// BenchmarkRetentionSoak publishes and delivers at a steady rate for
// longer than several retention periods while retention drops partitions,
// and reports whether the database stays the same size and whether
// delivery slows down while a drop runs. It asserts no time. Run it with
//
//	go test ./core/retention -run '^$' -bench RetentionSoak -benchtime 1x -v
//
// HOOKD_SOAK (default 15m) sets the run's length, HOOKD_SOAK_RATE (500)
// the events per second, HOOKD_SOAK_PERIOD (2m) retention.period.
func BenchmarkRetentionSoak(b *testing.B) {
	length := envDuration(b, "HOOKD_SOAK", 15*time.Minute)
	period := envDuration(b, "HOOKD_SOAK_PERIOD", 2*time.Minute)
	rate := 500
	if v := os.Getenv("HOOKD_SOAK_RATE"); v != "" {
		if _, err := fmt.Sscan(v, &rate); err != nil || rate <= 0 {
			b.Fatalf("HOOKD_SOAK_RATE=%q: want a positive number", v)
		}
	}
	for range b.N {
		soak(b, length, period, rate)
	}
}

func envDuration(b *testing.B, key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration", key, v)
	}
	return d
}

// soakWindow is how finely throughput and latency are binned.
const soakWindow = 5 * time.Second

func soak(b *testing.B, length, period time.Duration, rate int) {
	ctx := context.Background()
	pool := dbtest.NewPool(b)

	var mu sync.Mutex
	published := map[string]time.Time{}
	var received []receipt
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Webhook-Id")
		now := time.Now()
		mu.Lock()
		if at, ok := published[id]; ok {
			received = append(received, receipt{at: now, latency: now.Sub(at)})
			delete(published, id)
		}
		mu.Unlock()
	}))
	defer rcv.Close()
	const endpoints = 4
	for i := range endpoints {
		if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: rcv.URL, EventTypes: []string{fmt.Sprintf("soak.e%d", i)}}); err != nil {
			b.Fatal(err)
		}
	}
	opts := retention.Options{Period: period}
	if _, err := retention.Run(ctx, pool, opts, time.Now()); err != nil {
		b.Fatal(err)
	}
	d := config.Default().Delivery
	d.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	disp := dispatch.New(pool, dispatch.Options{Delivery: d})
	if err := disp.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer disp.Stop(ctx) //nolint:errcheck // the run is over

	runCtx, stop := context.WithTimeout(ctx, length)
	defer stop()
	var wg sync.WaitGroup
	var drops []span
	wg.Go(func() { // retention, as the maintenance leader runs it
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			rep, err := retention.Run(ctx, pool, opts, start)
			if err != nil {
				b.Errorf("retention: %v", err)
				return
			}
			if len(rep.Dropped) > 0 {
				mu.Lock()
				drops = append(drops, span{start, time.Now()})
				mu.Unlock()
			}
		}
	})
	var sizes []sizeSample
	wg.Go(func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			s, err := sampleSize(ctx, pool)
			if err != nil {
				b.Errorf("sizes: %v", err)
				return
			}
			sizes = append(sizes, s)
		}
	})
	pub := outbox.NewPublisher(pool, outbox.Options{})
	var lsn0, lsn1 int64
	if err := pool.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&lsn0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	// Events go out in batches of rate/100 every 10 ms.
	perTick := max(rate/100, 1)
	tick := time.NewTicker(10 * time.Millisecond)
	n := 0
	var publishTimes []time.Duration
publishing:
	for {
		select {
		case <-runCtx.Done():
			break publishing
		case <-tick.C:
		}
		evs := make([]outbox.Event, perTick)
		now := time.Now()
		mu.Lock()
		for i := range evs {
			evs[i] = outbox.Event{ID: fmt.Sprintf("evt_soak_%d", n), Type: fmt.Sprintf("soak.e%d", n%endpoints), Data: []byte(`{"n":1}`)}
			published[evs[i].ID] = now
			n++
		}
		mu.Unlock()
		if _, err := pub.PublishBatch(ctx, nil, evs); err != nil {
			b.Fatal(err)
		}
		publishTimes = append(publishTimes, time.Since(now))
	}
	tick.Stop()
	elapsed := time.Since(start)
	wg.Wait()
	if err := pool.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&lsn1); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	report(b, soakReport{published: n, publishTimes: publishTimes, elapsed: elapsed, start: start, received: received, drops: drops,
		sizes: sizes, wal: lsn1 - lsn0, period: period})
}

type receipt struct {
	at      time.Time
	latency time.Duration
}

type span struct{ from, to time.Time }

type sizeSample struct {
	at         time.Time
	bytes      int64
	partitions int
	finished   int64
}

// sampleSize reads the size of everything in schema hookd (tables with
// their indexes and TOAST) and the number of partitions.
func sampleSize(ctx context.Context, pool *pgxpool.Pool) (sizeSample, error) {
	s := sizeSample{at: time.Now()}
	err := pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint,
			(SELECT count(*) FROM hookd.partitions)::int, (SELECT count(*) FROM hookd.finished)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'hookd' AND c.relkind IN ('r', 'm')`).Scan(&s.bytes, &s.partitions, &s.finished)
	return s, err
}

type soakReport struct {
	published    int
	publishTimes []time.Duration // of each batch, to its commit
	elapsed      time.Duration
	start        time.Time
	received     []receipt
	drops        []span
	sizes        []sizeSample
	wal          int64
	period       time.Duration
}

func report(b *testing.B, r soakReport) {
	// A window is a drop window when a drop ran during it.
	windows := int(r.elapsed / soakWindow)
	count := make([]int, windows)
	lat := make([][]time.Duration, windows)
	for _, rc := range r.received {
		w := int(rc.at.Sub(r.start) / soakWindow)
		if w >= 0 && w < windows {
			count[w]++
			lat[w] = append(lat[w], rc.latency)
		}
	}
	isDrop := make([]bool, windows)
	for _, d := range r.drops {
		for w := int(d.from.Sub(r.start) / soakWindow); w <= int(d.to.Sub(r.start)/soakWindow) && w < windows; w++ {
			if w >= 0 {
				isDrop[w] = true
			}
		}
	}
	var withDrop, without []int
	var latDrop, latOther []time.Duration
	for w := 1; w < windows; w++ { // the first window warms up
		if isDrop[w] {
			withDrop = append(withDrop, count[w])
			latDrop = append(latDrop, lat[w]...)
		} else {
			without = append(without, count[w])
			latOther = append(latOther, lat[w]...)
		}
	}
	perSec := func(cs []int) float64 {
		if len(cs) == 0 {
			return 0
		}
		sum := 0
		for _, c := range cs {
			sum += c
		}
		return float64(sum) / float64(len(cs)) / soakWindow.Seconds()
	}
	b.Logf("%d events published in %s (%.0f/s), %d received; %d retention runs dropped partitions",
		r.published, r.elapsed.Round(time.Second), float64(r.published)/r.elapsed.Seconds(), len(r.received), len(r.drops))
	b.Logf("deliveries/s in %d windows of %s with a drop: %.0f; in %d without: %.0f; ratio %.3f",
		len(withDrop), soakWindow, perSec(withDrop), len(without), perSec(without), perSec(withDrop)/perSec(without))
	b.Logf("publish→receipt with a drop: p50 %s p99 %s max %s; without: p50 %s p99 %s max %s",
		pct(latDrop, 50), pct(latDrop, 99), pct(latDrop, 100), pct(latOther, 50), pct(latOther, 99), pct(latOther, 100))
	b.Logf("publishing a batch of %d took p50 %s p99 %s max %s", max(r.published/max(len(r.publishTimes), 1), 1),
		pct(r.publishTimes, 50), pct(r.publishTimes, 99), pct(r.publishTimes, 100))
	b.Logf("WAL %d bytes per delivery", r.wal/int64(max(len(r.received), 1)))
	for _, s := range r.sizes {
		perDelivery := int64(0)
		if s.finished > 0 {
			perDelivery = s.bytes / s.finished
		}
		b.Logf("at %5s: schema hookd %6.1f MB in %3d partitions, %7d finished deliveries kept, %5d bytes per kept delivery",
			s.at.Sub(r.start).Round(time.Second), float64(s.bytes)/1e6, s.partitions, s.finished, perDelivery)
	}
	// Flat: after two periods, the size stays within its range.
	var steady []int64
	for _, s := range r.sizes {
		if s.at.Sub(r.start) >= 2*r.period+time.Minute {
			steady = append(steady, s.bytes)
		}
	}
	if len(steady) > 1 {
		lo, hi := slices.Min(steady), slices.Max(steady)
		b.Logf("after %s: size between %.1f and %.1f MB (max/min %.2f)", 2*r.period+time.Minute, float64(lo)/1e6, float64(hi)/1e6, float64(hi)/float64(lo))
		b.ReportMetric(float64(hi)/float64(lo), "size-max/min")
	}
	if len(without) > 0 && len(withDrop) > 0 {
		b.ReportMetric(perSec(withDrop)/perSec(without), "drop/nodrop-throughput")
	}
	b.ReportMetric(float64(r.wal)/float64(max(len(r.received), 1)), "WAL-B/delivery")
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)*p/100, len(s)-1)
	return s[i].Round(100 * time.Microsecond)
}
