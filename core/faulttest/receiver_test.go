package faulttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// Faults a receiver commits on an event's first request, by event number.
const (
	faultReset = iota // the connection is reset (RST) before any answer
	faultHang         // no answer until the attempt times out
	faultClose        // the connection is closed without an answer
	faults
)

// faulty fails each event's first request with its fault and answers
// 200 from then on.
func faulty(w http.ResponseWriter, r *http.Request, n int) bool {
	if n > 1 {
		w.WriteHeader(http.StatusOK)
		return true
	}
	num, _ := strconv.Atoi(strings.TrimPrefix(r.Header.Get("webhook-id"), "evt_"))
	switch num % faults {
	case faultHang:
		<-r.Context().Done() // hookd gives up at delivery.timeout
		return false
	default:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tcp, ok := conn.(*net.TCPConn); ok && num%faults == faultReset {
			_ = tcp.SetLinger(0) // close with RST
		}
		conn.Close()
		return false
	}
}

// TestReceiverFaults: a receiver that resets the connection, hangs past
// the timeout, or closes without answering on every event's first try:
// every event is delivered, and answered 2xx exactly once; each delivery
// has its failed attempt, recorded with its class (timeout for the hang,
// no_response for the others: the request was sent), then its successful
// one.
func TestReceiverFaults(t *testing.T) {
	t.Parallel()
	const events = 60
	ctx := context.Background()
	rc := newReceiver(t, faulty)
	cfg := faultConfig(dbURL(t))
	srv, d := serve(t, cfg)
	if _, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: rc.srv.URL + "/hook"}); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if _, err := srv.Publisher.Publish(ctx, outbox.Event{ID: fmt.Sprintf("evt_%d", i), Type: "order.created"}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "every event to be answered 2xx", func() bool { return rc.servedCount() == events })
	testkit.Eventually(t, "every delivery to be recorded succeeded", func() bool {
		var n int
		err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`).Scan(&n)
		return err == nil && n == events
	})
	rc.mu.Lock()
	for id, n := range rc.served {
		if n != 1 {
			t.Errorf("%s was answered 2xx %d times, want once", id, n)
		}
	}
	rc.mu.Unlock()

	for i := range events {
		id := fmt.Sprintf("evt_%d", i)
		ds, err := delivery.ForEvent(ctx, d.Pool, id)
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: deliveries %v, %v", id, ds, err)
		}
		attempts, err := delivery.Attempts(ctx, d.Pool, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		want := delivery.ClassNoResponse // the request was sent whole before the receiver closed or reset
		if i%faults == faultHang {
			want = delivery.ClassTimeout
		}
		if len(attempts) != 2 || attempts[0].ErrorClass != want || !attempts[1].Succeeded() {
			var got []string
			for _, a := range attempts {
				got = append(got, fmt.Sprintf("%q %q", a.ErrorClass, a.Error))
			}
			t.Errorf("%s: attempts %v, want a %s failure then a success", id, got, want)
		}
	}
}
