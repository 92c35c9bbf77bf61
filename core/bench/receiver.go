package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/signing"
)

// receiver is the fast local endpoint on 127.0.0.1: it reads the body,
// checks the Standard Webhooks signature (one HMAC, as a real receiver
// would), records the first receipt time per event id and answers 204.
type receiver struct {
	key []byte
	srv *http.Server
	URL string

	shards [64]struct {
		mu   sync.Mutex
		seen map[string]time.Time
	}
	unique     atomic.Int64
	duplicates atomic.Int64
	rejected   atomic.Int64
	last       atomic.Int64 // unix ns of the latest first receipt
}

func startReceiver(secret string) (*receiver, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{key: key, URL: "http://" + ln.Addr().String() + "/hooks"}
	r.reset()
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) Close() { _ = r.srv.Close() }

// reset forgets every receipt; call it between phases.
func (r *receiver) reset() {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		s.seen = map[string]time.Time{}
		s.mu.Unlock()
	}
	r.unique.Store(0)
	r.duplicates.Store(0)
	r.rejected.Store(0)
	r.last.Store(0)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	id := req.Header.Get(signing.HeaderStandardID)
	if err != nil || id == "" || !r.verify(id, req.Header.Get(signing.HeaderStandardTimestamp), body, req.Header.Get(signing.HeaderStandardSignature)) {
		r.rejected.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	now := time.Now()
	s := &r.shards[shardOf(id)]
	s.mu.Lock()
	_, dup := s.seen[id]
	if !dup {
		s.seen[id] = now
	}
	s.mu.Unlock()
	if dup {
		r.duplicates.Add(1)
	} else {
		r.unique.Add(1)
		for {
			prev := r.last.Load()
			if now.UnixNano() <= prev || r.last.CompareAndSwap(prev, now.UnixNano()) {
				break
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) verify(id, ts string, body []byte, header string) bool {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for sig := range strings.FieldsSeq(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// receivedAt returns the first receipt time of id, zero when never.
func (r *receiver) receivedAt(id string) time.Time {
	s := &r.shards[shardOf(id)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

func shardOf(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % 64)
}
