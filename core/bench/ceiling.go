package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/signing"
)

// The two header sets the ceiling is measured with.
const (
	// HeadersBaseline is what the baseline sends: Content-Type and the
	// three Standard Webhooks headers, one v1 signature.
	HeadersBaseline = "baseline"
	// HeadersHookd is what hookd sends: both signature families (six
	// headers, two HMACs), User-Agent and Content-Type.
	HeadersHookd = "hookd"
)

// baselineIdleConns is the baseline's idle connections per host: the
// larger of its senders (64) and its River workers (100).
const baselineIdleConns = 100

// ceilingClient is the baseline's client: HTTP/1.1 keep-alive, idle
// connections for every sender, no compression, no proxy.
func ceilingClient(idle int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// runCeiling sends n signed POSTs from conc goroutines over one
// keep-alive client to the receiver, no database: the most this machine
// can deliver with the given header set.
func (b *bench) runCeiling(ctx context.Context, headers string, n, conc int) Ceiling {
	idle := max(conc, baselineIdleConns)
	c := Ceiling{Headers: headers, Requests: n, Concurrency: conc, IdleConns: idle}
	b.rcv.reset()
	client := ceilingClient(idle)
	defer client.CloseIdleConnections()
	key := b.rcv.key
	var (
		next atomic.Int64
		errs atomic.Int64
		rtt  = make([]time.Duration, n)
		wg   sync.WaitGroup
	)
	cpu := startCPU(b.postmaster, true)
	start := time.Now()
	withPart(ctx, partLoad, func(ctx context.Context) {
		for range conc {
			wg.Go(func() {
				for ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					t := time.Now()
					id := fmt.Sprintf("msg_ceiling_%s_%d", headers, i)
					var err error
					if headers == HeadersHookd {
						err = postHookd(ctx, client, b.rcv.URL, b.secret, id, b.payload)
					} else {
						err = postBaseline(ctx, client, b.rcv.URL, key, id, b.payload)
					}
					if err != nil {
						errs.Add(1)
						continue
					}
					rtt[i] = time.Since(t)
				}
			})
		}
		wg.Wait()
	})
	elapsed := time.Since(start)
	c.CPU, _ = cpu.stop()
	c.Received, c.Errors = b.rcv.unique.Load(), errs.Load()
	c.PerSec = float64(c.Received) / elapsed.Seconds()
	c.RTT = distOf(rtt)
	return c
}

// postBaseline sends what the baseline sends: its event body, marshalled
// and signed afresh, with Content-Type and the Standard Webhooks headers.
func postBaseline(ctx context.Context, client *http.Client, url string, key []byte, id string, payload []byte) error {
	body, err := json.Marshal(struct {
		ID          string          `json:"id"`
		Type        string          `json:"type"`
		PublishedAt int64           `json:"published_at"`
		Data        json.RawMessage `json:"data"`
	}{id, "invoice.paid", time.Now().UnixNano(), payload})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(signing.HeaderStandardID, id)
	h.Set(signing.HeaderStandardTimestamp, ts)
	h.Set(signing.HeaderStandardSignature, standardSignature(key, id, ts, body))
	return post(ctx, client, url, h, body)
}

// postHookd sends what the dispatcher sends: hookd's envelope with
// Content-Type, User-Agent and both signature families.
func postHookd(ctx context.Context, client *http.Client, url, secret, id string, payload []byte) error {
	body, err := json.Marshal(struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Created string          `json:"created"`
		Data    json.RawMessage `json:"data"`
	}{id, "invoice.paid", time.Now().UTC().Format(time.RFC3339Nano), payload})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "hookd/bench")
	if err := signing.Sign(h, id, time.Now(), body, []string{secret}); err != nil {
		return err
	}
	return post(ctx, client, url, h, body)
}

func post(ctx context.Context, client *http.Client, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
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
