package outbox_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// BenchmarkPublishFanOut publishes one event per transaction to every one
// of n endpoints, with no dispatcher running: the cost of a publish as
// its fan-out grows (the queue rows, and the wake check of each endpoint,
// which hookd.needing_wakes makes once for all of them).
func BenchmarkPublishFanOut(b *testing.B) {
	for _, n := range []int{4, 50} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			pool := dbtest.NewPool(b)
			for range n {
				if _, err := endpoint.Create(b.Context(), pool, endpoint.CreateParams{URL: "https://receiver.example/hook"}); err != nil {
					b.Fatal(err)
				}
			}
			pub := outbox.NewPublisher(pool, outbox.Options{})
			data := json.RawMessage(`{"order":1,"total":1999}`)
			b.ResetTimer()
			for range b.N {
				res, err := pub.Publish(b.Context(), outbox.Event{Type: "order.created", Data: data})
				if err != nil {
					b.Fatal(err)
				}
				if res.Deliveries != n {
					b.Fatalf("deliveries = %d, want %d", res.Deliveries, n)
				}
			}
		})
	}
}
