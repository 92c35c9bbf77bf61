package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
)

// field returns the value of "key: value" in kv output.
func field(t *testing.T, out, key string) string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q in output:\n%s", key, out)
	return ""
}

func TestEndpointsLifecycle(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)

	out := mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/hook",
		"--events", "payment.*,invoice.paid", "--description", "shop", "--header", "X-Team=billing",
		"--max-in-flight", "3", "--timeout", "5s", "--rate-limit", "10")
	id, secret := field(t, out, "id"), field(t, out, "secret")
	if !strings.HasPrefix(id, "ep_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("add printed id %q secret %q", id, secret)
	}

	ls := mustHookd(t, dbURL, "endpoints", "ls")
	if !strings.Contains(ls, id) || !strings.Contains(ls, "payment.*,invoice.paid") || !strings.Contains(ls, "enabled") {
		t.Errorf("ls:\n%s", ls)
	}
	var list struct {
		Endpoints []endpoint.Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "endpoints", "ls", "--json")), &list); err != nil || len(list.Endpoints) != 1 {
		t.Fatalf("ls --json: %v, %d endpoints; want {\"endpoints\": [one]}", err, len(list.Endpoints))
	}
	eps := list.Endpoints
	if eps[0].MaxInFlight != 3 || eps[0].RateLimit != 10 || eps[0].Headers["X-Team"] != endpoint.Redacted {
		t.Errorf("stored endpoint %+v", eps[0])
	}

	show := mustHookd(t, dbURL, "endpoints", "show", id)
	for _, want := range []string{"https://example.com/hook", "health:", "consecutive failures", "X-Team"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}

	// --events holding no type (an unset shell variable) is refused, not
	// read as every type.
	for _, empty := range []string{"", " , "} {
		if r := hookd(t, dbURL, "endpoints", "update", id, "--events", empty); r.code == 0 || !strings.Contains(r.errOut, "--events: ") {
			t.Errorf("update --events %q: exit %d, %s", empty, r.code, r.errOut)
		}
		if r := hookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/other", "--events", empty); r.code == 0 || !strings.Contains(r.errOut, "--events: ") {
			t.Errorf("add --events %q: exit %d, %s", empty, r.code, r.errOut)
		}
	}
	mustHookd(t, dbURL, "endpoints", "update", id, "--description", "shop v2", "--events", "*")
	if show := mustHookd(t, dbURL, "endpoints", "show", id); !strings.Contains(show, "shop v2") || field(t, show, "events") != "*" {
		t.Errorf("after update:\n%s", show)
	}

	if out := mustHookd(t, dbURL, "endpoints", "disable", id, "--reason", "maintenance"); !strings.Contains(out, "disabled (maintenance)") {
		t.Errorf("disable printed %q", out)
	}
	if ls := mustHookd(t, dbURL, "endpoints", "ls"); !strings.Contains(ls, "disabled (maintenance)") {
		t.Errorf("ls after disable:\n%s", ls)
	}
	if out := mustHookd(t, dbURL, "endpoints", "enable", id); !strings.Contains(out, "enabled") {
		t.Errorf("enable printed %q", out)
	}

	rot := mustHookd(t, dbURL, "endpoints", "rotate-secret", id, "--overlap", "1h")
	if s := field(t, rot, "secret"); s == secret || !strings.HasPrefix(s, "whsec_") {
		t.Errorf("rotate-secret kept or broke the secret: %q", s)
	}
	if field(t, rot, "previous secret until") == "-" {
		t.Errorf("rotate-secret shows no overlap:\n%s", rot)
	}

	mustHookd(t, dbURL, "endpoints", "rm", id)
	r := hookd(t, dbURL, "endpoints", "show", id)
	if r.code != 1 || !strings.Contains(r.errOut, id) || !strings.Contains(r.errOut, "not found") {
		t.Errorf("show after rm: exit %d, %q", r.code, r.errOut)
	}
}

func TestEndpointsInputErrorsNameTheField(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "ftp://example.com"}, "url:"},
		{[]string{"--url", "https://example.com", "--events", "bad type!"}, "event_types:"},
		{[]string{"--url", "https://example.com", "--header", "novalue"}, "--header:"},
		{[]string{"--url", "https://example.com", "--secret", "short"}, "secret:"},
	} {
		r := hookd(t, dbURL, append([]string{"endpoints", "add"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.errOut, tc.want) || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 {
			t.Errorf("add %v: exit %d, stderr %q; want one line naming %s", tc.args, r.code, r.errOut, tc.want)
		}
	}
}

// TestEndpointsOwnedByHookdAreRefusedByTheCLI: the alert endpoint and
// intake forward targets follow the configuration; update, rm and
// rotate-secret refuse them as the API does, and nothing changes.
func TestEndpointsOwnedByHookdAreRefusedByTheCLI(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	pool := openPool(t, dbURL)
	own, err := endpoint.Create(t.Context(), pool, endpoint.CreateParams{ID: "ep_hookd_alerts", Kind: endpoint.KindAlert,
		URL: "https://alerts.example/", Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"endpoints", "update", own.ID, "--url", "http://169.254.169.254/latest/meta-data/"},
		{"endpoints", "rm", own.ID},
		{"endpoints", "rotate-secret", own.ID},
	} {
		r := hookd(t, dbURL, args...)
		if r.code != 1 || !strings.Contains(r.errOut, "hookd's own alert endpoint") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal", args, r.code, r.errOut)
		}
	}
	got, err := endpoint.Get(t.Context(), pool, own.ID)
	if err != nil || got.URL != own.URL || got.Secret != own.Secret || !got.Trusted {
		t.Fatalf("after refused changes: %+v, %v", got, err)
	}
}

// TestEndpointsAddRefusesGuardedURLs: the CLI refuses an endpoint aimed at
// an address the outbound guard blocks, as the API does, unless
// delivery.allowed_networks allows it.
func TestEndpointsAddRefusesGuardedURLs(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	for _, u := range []string{"http://127.0.0.1:9/x", "http://169.254.169.254/", "http://localhost/"} {
		r := hookd(t, dbURL, "endpoints", "add", "--url", u)
		if r.code != 1 || !strings.Contains(r.errOut, "url:") || !strings.Contains(r.errOut, "delivery.allowed_networks") {
			t.Errorf("add %s: exit %d, stderr %q", u, r.code, r.errOut)
		}
	}
	id := field(t, mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/x"), "id")
	if r := hookd(t, dbURL, "endpoints", "update", id, "--url", "http://10.0.0.1/"); r.code != 1 || !strings.Contains(r.errOut, "delivery.allowed_networks") {
		t.Errorf("update to a private address: exit %d, stderr %q", r.code, r.errOut)
	}
	r := hookdEnv(t, map[string]string{"HOOKD_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8"},
		"--database-url", dbURL, "endpoints", "add", "--url", "http://127.0.0.1:9/x")
	if r.code != 0 {
		t.Fatalf("add with loopback allowed: exit %d, stderr %q", r.code, r.errOut)
	}
}

// TestEndpointsListsShowNoSecrets: ls --json (and --all) show neither the
// signing secret nor a custom header's value, like GET /v1/endpoints;
// show and deliveries show keep header values out too.
func TestEndpointsListsShowNoSecrets(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	pool := openPool(t, dbURL)
	const token = "Bearer-tok-0123456789-secret"
	out := mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/h", "--header", "Authorization="+token)
	id, secret := field(t, out, "id"), field(t, out, "secret")
	if _, err := endpoint.Create(t.Context(), pool, endpoint.CreateParams{ID: "ep_hookd_alerts", Kind: endpoint.KindAlert,
		URL: "https://alerts.example/", Trusted: true}); err != nil {
		t.Fatal(err)
	}
	alert, _ := endpoint.Get(t.Context(), pool, "ep_hookd_alerts")

	mustHookd(t, dbURL, "publish", "--type", "a.b", "--id", "evt_h")
	var deliveryID int64
	if err := pool.QueryRow(t.Context(), `SELECT id FROM hookd.deliveries WHERE event_id = 'evt_h'`).Scan(&deliveryID); err != nil {
		t.Fatal(err)
	}
	// An attempt recorded with the header's value in it.
	if _, err := pool.Exec(t.Context(), `INSERT INTO hookd.attempts (delivery_id, event_stored_at, endpoint_id, attempt, started_at, request_headers)
		SELECT id, event_stored_at, endpoint_id, 1, now(), $2 FROM hookd.deliveries WHERE id = $1`,
		deliveryID, `{"Authorization":["`+token+`"],"Webhook-Id":["evt_h"]}`); err != nil {
		t.Fatal(err)
	}
	did := strconv.FormatInt(deliveryID, 10)
	for _, args := range [][]string{
		{"endpoints", "ls", "--json"}, {"endpoints", "ls", "--all", "--json"}, {"endpoints", "ls", "--all"},
		{"endpoints", "update", id, "--description", "x", "--json"}, {"endpoints", "disable", id, "--json"},
		{"endpoints", "show", id}, {"endpoints", "show", id, "--json"},
		{"deliveries", "show", did}, {"deliveries", "show", did, "--json"},
	} {
		out := mustHookd(t, dbURL, args...)
		if strings.Contains(out, token) {
			t.Errorf("%v shows the header value:\n%s", args, out)
		}
		if args[1] != "show" && (strings.Contains(out, secret) || strings.Contains(out, alert.Secret)) {
			t.Errorf("%v shows a signing secret:\n%s", args, out)
		}
	}
	if out := mustHookd(t, dbURL, "deliveries", "show", did); !strings.Contains(out, "Webhook-Id: evt_h") || !strings.Contains(out, endpoint.Redacted) {
		t.Errorf("deliveries show lost hookd's headers or the redaction mark:\n%s", out)
	}
}
