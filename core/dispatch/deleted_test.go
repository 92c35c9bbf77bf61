package dispatch

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/testkit"
)

// An attempt whose endpoint is deleted while it is in flight has nothing
// left to record into; its result must be dropped without holding up the
// results of every other delivery.
func TestResultOfDeletedEndpointDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	gone := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		select {
		case <-release:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, status(http.StatusOK))
	doomed := b.endpoint(t, gone.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"a.*"} })
	b.endpoint(t, fast.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"a.*", "b.*"} })
	log := &testkit.SyncBuffer{}
	b.start(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
		o.Delivery.ShutdownTimeout = 10 * time.Millisecond
	})
	b.publish(t, "a.x", `{}`)
	testkit.Eventually(t, "the attempt to the doomed endpoint to be in flight", func() bool { return gone.inflight.Load() == 1 })
	if err := endpoint.Delete(context.Background(), b.pool, doomed.ID); err != nil {
		t.Fatal(err)
	}
	close(release) // the request now succeeds: its result has no delivery to go to
	const n = 20
	for range n {
		b.publish(t, "b.x", `{}`)
	}
	testkit.Eventually(t, "every delivery to the other endpoint to succeed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`) == n+1
	})
	if got := fast.hits.Load(); got != n+1 {
		t.Errorf("the other endpoint got %d requests, want %d (each delivery once)", got, n+1)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.attempts WHERE endpoint_id = $1`, doomed.ID); got != 0 {
		t.Errorf("%d attempts recorded for the deleted endpoint", got)
	}
	testkit.Eventually(t, "the dropped result to be logged", func() bool {
		return strings.Contains(log.String(), "results dropped: their deliveries no longer exist")
	})
}
