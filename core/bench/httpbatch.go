package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/outbox"
)

// batchRoute is the API's batch publishing route.
const batchRoute = "/v1/events/batch"

// httpConc is how many batch requests are sent at once.
const httpConc = 4

// httpBatch publishes opts.Events events through POST /v1/events/batch of
// an API served in this process on loopback, outbox.MaxBatch events a
// request. When the API has no such route, nothing is measured and the
// note says so.
func (b *bench) httpBatch(ctx context.Context, live int) (HTTPBatch, error) {
	n := b.opts.Events
	r := HTTPBatch{Publish: Publish{Events: n, PerCall: outbox.MaxBatch, Concurrency: httpConc}}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return r, err
	}
	defer pool.Close() // after the meter closed it: a no-op
	key := ids.New("key")
	srv := &http.Server{Handler: api.New(api.Options{Pool: pool, Publisher: outbox.NewPublisher(pool, outbox.Options{}),
		APIKeys: []string{key}, MaxBodyBytes: 8 << 20}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	withPart(ctx, partHookd, func(context.Context) { go func() { _ = srv.Serve(ln) }() })
	defer srv.Close()
	url := "http://" + ln.Addr().String() + batchRoute
	client := ceilingClient(httpConc)
	defer client.CloseIdleConnections()
	send := func(ctx context.Context, from, to int) error {
		return b.postBatch(ctx, client, url, key, from, to, live)
	}

	// One event first: does the route exist?
	if err := send(ctx, 0, 1); err != nil {
		var st *statusError
		if errors.As(err, &st) && (st.code == http.StatusNotFound || st.code == http.StatusMethodNotAllowed) {
			r.Note = "POST " + batchRoute + " does not exist in this build: measured PublishBatch only"
			return r, nil
		}
		r.Available = true
		r.Note = "the first request failed: " + err.Error()
		return r, nil
	}
	r.Available = true
	m := b.startMeter(ctx)
	start := time.Now()
	err = inParallel(ctx, httpConc, func(ctx context.Context, w int) error {
		for from := 1 + w*outbox.MaxBatch; from < n+1; from += httpConc * outbox.MaxBatch {
			if err := send(ctx, from, min(from+outbox.MaxBatch, n+1)); err != nil {
				return err
			}
		}
		return nil
	})
	r.PerSec = float64(n) / time.Since(start).Seconds()
	cost, _ := m.stop(ctx, pool, int64(n), "event")
	r.Cost = &cost
	if err != nil {
		r.PerSec = 0
		r.Note = "a request failed: " + err.Error()
	}
	return r, nil
}

// batchEvent is one event of a batch request.
type batchEvent struct {
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Tenant string          `json:"tenant,omitempty"`
}

func (b *bench) postBatch(ctx context.Context, client *http.Client, url, key string, from, to, live int) error {
	evs := make([]batchEvent, 0, to-from)
	for i := from; i < to; i++ {
		ev := b.liveEvent(i, live)
		evs = append(evs, batchEvent{Type: ev.Type, Data: ev.Data, Tenant: ev.Tenant})
	}
	body, err := json.Marshal(map[string]any{"events": evs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("answered %d: %s", e.code, e.body) }
