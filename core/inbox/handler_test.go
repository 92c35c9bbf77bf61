package inbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
)

// TestAcceptsEachScheme: a request signed by each sender's own method is
// stored once and answered 200 after the commit.
func TestAcceptsEachScheme(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	for _, scheme := range []string{"hookd", "standard", "stripe", "github"} {
		b.source(t, inbox.CreateParams{Name: "src-" + scheme, Scheme: scheme, Secrets: []string{secretB, secretA}})
	}
	now := time.Now()
	cases := []struct {
		source, eventID, typ string
		req                  request
	}{
		{"src-hookd", "evt_h1", "invoice.paid", hookdSigned(t, "evt_h1", now, `{"id":"evt_h1","type":"invoice.paid","data":{}}`, secretA)},
		{"src-standard", "msg_s1", "user.created", standardSigned(t, "msg_s1", now, `{"type":"user.created","data":{"id":7}}`, secretA)},
		{"src-stripe", "evt_3Pq", "payment_intent.succeeded", stripeSigned(now, `{"id":"evt_3Pq","object":"event","type":"payment_intent.succeeded"}`, secretA)},
		{"src-github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", githubSigned("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", `{"ref":"refs/heads/main"}`, secretA)},
	}
	for _, c := range cases {
		a := b.post(t, c.source, c.req)
		if a.status != http.StatusOK || a.body["status"] != "accepted" || a.body["event_id"] != c.eventID {
			t.Fatalf("%s: answer %d %v", c.source, a.status, a.body)
		}
		page, err := inbox.List(context.Background(), b.pool, inbox.ListParams{Source: c.source})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("%s: list %v %v", c.source, page, err)
		}
		ev, err := inbox.Get(context.Background(), b.pool, page.Events[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.EventID != c.eventID || ev.Type != c.typ || ev.State != inbox.StatePending || string(ev.Body) != string(c.req.body) {
			t.Fatalf("%s: stored %+v", c.source, ev)
		}
		if !strings.Contains(ev.Verification, "matched secret 2 of 2") {
			t.Fatalf("%s: verification %q", c.source, ev.Verification)
		}
	}
	if n := counterValue(t, b.metrics.IntakeRequests.WithLabelValues("src-github", "accepted")); n != 1 {
		t.Fatalf("accepted metric %v", n)
	}
}

// TestRejects: every failed verification is 401 with a reason, stores
// nothing, and is counted in metrics and in the per-minute counters.
func TestRejects(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}, Tolerance: endpoint.Duration(5 * time.Minute)})
	b.source(t, inbox.CreateParams{Name: "gh", Scheme: "github", Secrets: []string{secretA}})
	now := time.Now()
	body := `{"type":"user.created"}`
	tampered := standardSigned(t, "m1", now, body, secretA)
	tampered.body = []byte(`{"type":"user.deleted"}`)
	noSig := standardSigned(t, "m1", now, body, secretA)
	noSig.header.Del("webhook-signature")
	cases := []struct {
		name, source string
		req          request
		reason       string
	}{
		{"tampered body", "std", tampered, "no signature matched"},
		{"wrong secret", "std", standardSigned(t, "m1", now, body, secretB), "no signature matched"},
		{"missing headers", "std", request{http.Header{}, []byte(body)}, "missing webhook-id header"},
		{"missing signature", "std", noSig, "missing webhook-signature header"},
		{"too old", "std", standardSigned(t, "m1", now.Add(-6*time.Minute), body, secretA), "timestamp too old"},
		{"too new", "std", standardSigned(t, "m1", now.Add(6*time.Minute), body, secretA), "timestamp too far in the future"},
		{"github wrong secret", "gh", githubSigned("d1", "push", body, secretB), "no signature matched"},
	}
	for _, c := range cases {
		a := b.post(t, c.source, c.req)
		if a.status != http.StatusUnauthorized || !strings.Contains(a.errMessage(), c.reason) {
			t.Fatalf("%s: answer %d %v, want 401 %q", c.name, a.status, a.body, c.reason)
		}
		if n := b.inboxRows(t); n != 0 {
			t.Fatalf("%s: %d inbox rows after a rejection", c.name, n)
		}
	}
	if n := counterValue(t, b.metrics.IntakeVerifyFailures.WithLabelValues("std", "no signature matched")); n != 2 {
		t.Fatalf("verify failure metric %v, want 2", n)
	}
	// Without Start each rejection is written at once.
	stats, err := inbox.Stats(context.Background(), b.pool, now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []inbox.SourceStats{{Source: "gh", Rejected: 1}, {Source: "std", Rejected: 6}}
	if len(stats) != 2 || stats[0] != want[0] || stats[1] != want[1] {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
}

// TestRejectionsBatchedWhenStarted: with the flusher running, counts still
// reach the database, and Stop writes what is left.
func TestRejectionsBatchedWhenStarted(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{FlushInterval: time.Hour})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
	if err := b.handler.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if a := b.post(t, "std", standardSigned(t, "m", time.Now(), "{}", secretB)); a.status != 401 {
			t.Fatalf("answer %d", a.status)
		}
	}
	if n := b.count(t, `SELECT coalesce(sum(rejected), 0)::int FROM hookd.intake_minutes`); n != 0 {
		t.Fatalf("%d rejections written before the flush", n)
	}
	b.handler.Stop(context.Background())
	b.handler.Stop(context.Background())
	if n := b.count(t, `SELECT coalesce(sum(rejected), 0)::int FROM hookd.intake_minutes`); n != 5 {
		t.Fatalf("%d rejections written at stop, want 5", n)
	}
}

func TestOversizedAndUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{MaxBodyBytes: 64})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
	big := `{"type":"x","pad":"` + strings.Repeat("a", 100) + `"}`
	a := b.post(t, "std", standardSigned(t, "m1", time.Now(), big, secretA))
	if a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.errMessage(), "intake.max_body_bytes") {
		t.Fatalf("oversized: %d %v", a.status, a.body)
	}
	a = b.post(t, "nope", standardSigned(t, "m1", time.Now(), "{}", secretA))
	if a.status != http.StatusNotFound || !strings.Contains(a.errMessage(), `"nope"`) {
		t.Fatalf("unknown source: %d %v", a.status, a.body)
	}
	if n := b.inboxRows(t); n != 0 {
		t.Fatalf("%d inbox rows", n)
	}
}

// TestDuplicate: a sender's retry is answered 200 "duplicate", stored once
// and counted.
func TestDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
	first := b.post(t, "std", standardSigned(t, "m1", time.Now(), `{"n":1}`, secretA))
	// The retry is signed again with a fresh timestamp, as senders do.
	again := b.post(t, "std", standardSigned(t, "m1", time.Now().Add(time.Second), `{"n":1}`, secretA))
	if first.status != 200 || first.body["status"] != "accepted" || again.status != 200 || again.body["status"] != "duplicate" {
		t.Fatalf("answers %v, %v", first, again)
	}
	if first.body["id"] != again.body["id"] {
		t.Fatalf("ids differ: %v %v", first.body["id"], again.body["id"])
	}
	if n := b.inboxRows(t); n != 1 {
		t.Fatalf("%d rows", n)
	}
	if n := b.count(t, `SELECT duplicates FROM hookd.inbox`); n != 1 {
		t.Fatalf("duplicates %d", n)
	}
	stats, err := inbox.Stats(context.Background(), b.pool, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0] != (inbox.SourceStats{Source: "std", Accepted: 1, Duplicates: 1}) {
		t.Fatalf("stats %+v", stats)
	}
}
