package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/signing"
)

// slowPath is the receiver's path that answers only after slowDelay.
const slowPath = "/slow"

// receiver is the local endpoint on 127.0.0.1, doing what a real
// receiver does and the same work as the baseline's: it reads the body,
// checks that the timestamp is within 5 minutes and the Standard Webhooks
// signature (one HMAC), records the first receipt time per event id in
// one map under one mutex and answers 200. Requests to slowPath wait
// slowDelay first.
type receiver struct {
	key       []byte
	srv       *http.Server
	URL       string // the fast path
	slowDelay time.Duration

	mu         sync.Mutex
	seen       map[string]time.Time
	unique     atomic.Int64
	duplicates atomic.Int64
	rejected   atomic.Int64
	slow       atomic.Int64 // unique receipts on slowPath
	last       atomic.Int64 // unix ns of the latest first receipt
}

func startReceiver(secret string, slowDelay time.Duration) (*receiver, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{key: key, URL: "http://" + ln.Addr().String() + "/hooks", slowDelay: slowDelay}
	r.reset()
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	// Every connection's goroutine inherits the label: the receiver's CPU
	// is told apart from hookd's in the profile.
	withPart(context.Background(), partReceiver, func(context.Context) {
		go func() { _ = r.srv.Serve(ln) }()
	})
	return r, nil
}

func (r *receiver) Close() { _ = r.srv.Close() }

// slowURL is the receiver's slow path.
func (r *receiver) slowURL() string { return strings.TrimSuffix(r.URL, "/hooks") + slowPath }

// reset forgets every receipt; call it between phases.
func (r *receiver) reset() {
	r.mu.Lock()
	r.seen = map[string]time.Time{}
	r.mu.Unlock()
	r.unique.Store(0)
	r.duplicates.Store(0)
	r.rejected.Store(0)
	r.slow.Store(0)
	r.last.Store(0)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	id := req.Header.Get(signing.HeaderStandardID)
	ts := req.Header.Get(signing.HeaderStandardTimestamp)
	if err != nil || id == "" || !fresh(ts) || !r.verify(id, ts, body, req.Header.Get(signing.HeaderStandardSignature)) {
		r.rejected.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	slow := req.URL.Path == slowPath
	if slow {
		time.Sleep(r.slowDelay)
	}
	now := time.Now()
	r.mu.Lock()
	_, dup := r.seen[id]
	if !dup {
		r.seen[id] = now
	}
	r.mu.Unlock()
	if dup {
		r.duplicates.Add(1)
	} else {
		r.unique.Add(1)
		if slow {
			r.slow.Add(1)
		}
		for {
			prev := r.last.Load()
			if now.UnixNano() <= prev || r.last.CompareAndSwap(prev, now.UnixNano()) {
				break
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// fresh reports whether ts (unix seconds) is within 5 minutes of now.
func fresh(ts string) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := time.Since(time.Unix(sec, 0))
	return d < 5*time.Minute && d > -5*time.Minute
}

func (r *receiver) verify(id, ts string, body []byte, header string) bool {
	want := standardSignature(r.key, id, ts, body)
	for sig := range strings.FieldsSeq(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// standardSignature is the Standard Webhooks v1 signature:
// "v1," + base64(HMAC-SHA256(key, "<id>.<ts>.<body>")).
func standardSignature(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// receivedAt returns the first receipt time of id, zero when never.
func (r *receiver) receivedAt(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}
