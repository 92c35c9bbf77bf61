package inbox_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/inbox"
)

// TestAckAfterPersist: the database goes away while a request is being
// received (its headers sent, its body half sent): the sender gets 503,
// never 200, and nothing is stored. Once the database is back, the
// sender's retry is accepted.
func TestAckAfterPersist(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{CacheTTL: time.Hour})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
	// Warm the pool and the source cache with another event.
	if a := b.post(t, "std", standardSigned(t, "warm", time.Now(), `{}`, secretA)); a.status != 200 {
		t.Fatalf("warm-up: %d %v", a.status, a.body)
	}

	req := standardSigned(t, "m1", time.Now(), `{"type":"order.placed","n":1}`, secretA)
	half := len(req.body) / 2
	pr, pw := io.Pipe()
	hr, err := http.NewRequest("POST", b.srv.URL+"/in/std", pr)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header = req.header.Clone()
	hr.ContentLength = int64(len(req.body))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := b.srv.Client().Do(hr)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	if _, err := pw.Write(req.body[:half]); err != nil {
		t.Fatal(err)
	}
	// Mid-request: refuse new connections and end the existing ones.
	restore := dbtest.Outage(t, b.pool.Config().ConnConfig.Database)
	if _, err := pw.Write(req.body[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil || res.status != http.StatusServiceUnavailable {
		t.Fatalf("answer during the outage: %d %v, want 503", res.status, res.err)
	}

	restore()
	if n := b.count(t, `SELECT count(*) FROM hookd.inbox WHERE event_id = 'm1'`); n != 0 {
		t.Fatalf("%d rows stored for a request answered 503", n)
	}
	retry := request{req.header, bytes.Clone(req.body)}
	if a := b.post(t, "std", retry); a.status != 200 || a.body["status"] != "accepted" {
		t.Fatalf("retry after the outage: %d %v", a.status, a.body)
	}
}
