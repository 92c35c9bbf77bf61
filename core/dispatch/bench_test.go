package dispatch

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// The benchmarks deliver b.N events to one endpoint on a fast local
// receiver and report deliveries per second. Run them with
//
//	go test -run '^$' -bench Dispatch -benchtime 5000x ./core/dispatch
//
// The full benchmark, with latency percentiles and the no-database
// ceiling, is `hookd bench`.

// BenchmarkDispatch publishes from 8 goroutines while the dispatcher
// runs: end to end, publishing included.
func BenchmarkDispatch(b *testing.B) {
	bd, rc := benchSetup(b)
	bd.start(b, benchOptions)
	b.ResetTimer()
	start := time.Now()
	benchPublish(b, bd)
	testkit.Eventually(b, "every event to be delivered", func() bool { return rc.hits.Load() >= int64(b.N) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

// BenchmarkDispatchBacklog publishes first, then times the dispatcher
// draining the backlog until every result is recorded.
func BenchmarkDispatchBacklog(b *testing.B) {
	bd, _ := benchSetup(b)
	benchPublish(b, bd)
	b.ResetTimer()
	start := time.Now()
	bd.start(b, benchOptions)
	testkit.Eventually(b, "every delivery to be recorded", func() bool {
		return bd.count(b, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`) >= b.N
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

func benchSetup(b *testing.B) (*bundle, *receiver) {
	bd := setup(b)
	rc := newReceiver(b, status(http.StatusNoContent))
	bd.endpoint(b, rc.URL, func(p *endpoint.CreateParams) { p.MaxInFlight = 64 })
	return bd, rc
}

func benchOptions(o *Options) {
	o.Delivery.Workers = 64
	o.Delivery.ClaimBatch = 100
}

func benchPublish(b *testing.B, bd *bundle) {
	const publishers = 8
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < b.N; i += publishers {
				ev := outbox.Event{Type: "bench.event", Data: []byte(`{"n":1}`)}
				if _, err := bd.pub.Publish(context.Background(), ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
