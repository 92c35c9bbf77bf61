package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

// `hookd serve` delivers what `hookd publish` queued, signed, and accepts a
// signed intake request that `hookd inbox` then shows.
func TestServeDeliversAndReceives(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)

	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)

	srcSecret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOOKD_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8",
		"HOOKD_DELIVERY_POLL_INTERVAL":    "50ms",
		"HOOKD_INTAKE_SOURCES":            `[{"name":"partner","scheme":"standard","secrets":["` + srcSecret + `"]}]`,
		"HOOKD_LOG_LEVEL":                 "warn",
	}
	addr, stop := startServe(t, env, "--database-url", dbURL, "--listen", "127.0.0.1:0")

	// The receiver is on loopback, which the CLI allows only when told.
	add := hookdEnv(t, map[string]string{"HOOKD_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8"},
		"--database-url", dbURL, "endpoints", "add", "--url", receiver.URL+"/hook", "--events", "order.*")
	if add.code != 0 {
		t.Fatalf("endpoints add: exit %d: %s", add.code, add.errOut)
	}
	secret := field(t, add.out, "secret")
	mustHookd(t, dbURL, "publish", "--type", "order.created", "--id", "evt_e2e", "--data", `{"n":1}`)

	testkit.Eventually(t, "the delivery to reach the receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	r, body := got[0], bodies[0]
	mu.Unlock()
	if _, err := signing.Verify(signing.SchemeStandard, r.Header, body, []string{secret}, time.Minute, time.Now()); err != nil {
		t.Errorf("delivered request does not verify: %v (headers %v)", err, r.Header)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "hookd/") {
		t.Errorf("User-Agent = %q", ua)
	}
	testkit.Eventually(t, "the delivery to be recorded as succeeded", func() bool {
		return strings.Contains(mustHookd(t, dbURL, "deliveries", "ls", "--state", "succeeded"), "evt_e2e")
	})

	// Intake: a request signed like a Standard Webhooks sender is stored once.
	in := []byte(`{"type":"partner.ping","id":"p1"}`)
	h := http.Header{}
	if err := signing.Sign(h, "msg_p1", time.Now(), in, []string{srcSecret}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/in/partner", bytes.NewReader(in))
		req.Header = h.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("intake answered %d", resp.StatusCode)
		}
	}
	// What the intake has no route for is answered in the API's JSON.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/in/partner", http.StatusMethodNotAllowed}, {http.MethodPost, "/in/", http.StatusNotFound}} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error struct{ Code string } }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || err != nil || e.Error.Code == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %q (%v), want %d in JSON", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), err, c.status)
		}
	}
	ls := mustHookd(t, dbURL, "inbox", "ls", "--source", "partner")
	if lines := strings.Split(strings.TrimSpace(ls), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "msg_p1") {
		t.Fatalf("inbox ls:\n%s", ls)
	}
	var page struct {
		Events []struct {
			ID         int64 `json:"id"`
			Duplicates int   `json:"duplicates"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "inbox", "ls", "--json")), &page); err != nil || len(page.Events) != 1 || page.Events[0].Duplicates != 1 {
		t.Fatalf("inbox ls --json: %v %+v", err, page)
	}
	show := mustHookd(t, dbURL, "inbox", "show", "1")
	for _, want := range []string{"partner.ping", "Webhook-Id: msg_p1", "verification:", `"id": "p1"`} {
		if !strings.Contains(show, want) {
			t.Errorf("inbox show lacks %q:\n%s", want, show)
		}
	}
	if r := hookd(t, dbURL, "inbox", "replay", "1"); r.code != 1 || !strings.Contains(r.errOut, "only dead events") {
		t.Errorf("inbox replay of a pending event: exit %d, %q", r.code, r.errOut)
	}
	if srcs := mustHookd(t, dbURL, "sources", "ls"); !strings.Contains(srcs, "partner") || !strings.Contains(srcs, "config") {
		t.Errorf("sources ls:\n%s", srcs)
	}

	if res := stop(); res.code != 0 {
		t.Errorf("serve exit %d: %s", res.code, res.errOut)
	}
}

func TestSourcesAddShowRm(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	out := mustHookd(t, dbURL, "sources", "add", "gh", "--scheme", "github", "--secret", "s3cret-for-github")
	if !strings.Contains(out, "/in/gh") {
		t.Errorf("sources add printed:\n%s", out)
	}
	if show := mustHookd(t, dbURL, "sources", "show", "gh"); !strings.Contains(show, "s3cret-for-github") {
		t.Errorf("sources show:\n%s", show)
	}
	if r := hookd(t, dbURL, "sources", "add", "bad", "--scheme", "nope", "--secret", "x"); r.code != 1 || !strings.Contains(r.errOut, "scheme") {
		t.Errorf("bad scheme: exit %d, %q", r.code, r.errOut)
	}
	mustHookd(t, dbURL, "sources", "rm", "gh")
	if r := hookd(t, dbURL, "sources", "show", "gh"); r.code != 1 || !strings.Contains(r.errOut, "not found") {
		t.Errorf("show after rm: exit %d, %q", r.code, r.errOut)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, _ := signing.GenerateSecret()
	body := []byte(`{"id":"evt_1","type":"a.b"}`)
	h := http.Header{}
	sent := time.Now().Add(-time.Hour)
	if err := signing.Sign(h, "evt_1", sent, body, []string{secret}); err != nil {
		t.Fatal(err)
	}
	var hb strings.Builder
	hb.WriteString("POST /in/x HTTP/1.1\r\n")
	for k, vs := range h {
		for _, v := range vs {
			hb.WriteString(k + ": " + v + "\r\n")
		}
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hf, bf := write("headers.txt", []byte(hb.String())), write("body.json", body)
	tampered := write("tampered.json", []byte(`{"id":"evt_1","type":"a.c"}`))
	at := sent.Add(time.Second).Format(time.RFC3339)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--scheme", "hookd", "--secret", secret, "--headers", hf, "--body", bf, "--at", at}, 0, "verified: hookd"},
		{[]string{"--scheme", "standard", "--secret", "whsec_" + strings.Repeat("A", 43) + "=", "--secret", secret, "--headers", hf, "--body", bf, "--at", at}, 0, "secret 2 of 2"},
		{[]string{"--scheme", "standard", "--secret", secret, "--headers", hf, "--body", tampered, "--at", at}, 1, "rejected: no signature matched"},
		{[]string{"--scheme", "standard", "--secret", secret, "--headers", hf, "--body", bf}, 1, "rejected: timestamp too old"},
	} {
		r := hookdEnv(t, nil, append([]string{"verify"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.out, tc.want) {
			t.Errorf("verify %v: exit %d, out %q, err %q; want %d and %q", tc.args[:2], r.code, r.out, r.errOut, tc.code, tc.want)
		}
	}
	r := hookdEnv(t, nil, "verify", "--scheme", "nope", "--secret", secret, "--headers", hf, "--body", bf)
	if r.code != 1 || !strings.Contains(r.errOut, "--scheme") {
		t.Errorf("bad scheme: exit %d, %q", r.code, r.errOut)
	}
}
