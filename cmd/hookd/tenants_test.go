package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/testkit"
)

// hookdIn is hookd with stdin as standard input.
func hookdIn(t *testing.T, dbURL, stdin string, args ...string) result {
	t.Helper()
	var out, errOut testkit.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"--database-url", dbURL, "--log-level", "warn"}, args...)
	code := run(ctx, args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut}, testEnv(nil))
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

func countRows(t *testing.T, dbURL, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := openPool(t, dbURL).QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTenantsCommands(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)

	if out := mustHookd(t, dbURL, "tenants", "add", "cus_42", "--name", "Acme", "--metadata", `{"plan":"pro"}`); !strings.Contains(out, "added tenant cus_42 (Acme)") {
		t.Errorf("add printed %q", out)
	}
	if out := mustHookd(t, dbURL, "tenants", "add", "cus_42", "--name", "Acme Inc"); !strings.Contains(out, "updated tenant cus_42 (Acme Inc)") {
		t.Errorf("second add printed %q", out)
	}
	mustHookd(t, dbURL, "tenants", "add", "cus_43")
	if r := hookd(t, dbURL, "tenants", "add", "has space"); r.code != 1 || !strings.Contains(r.errOut, "id:") {
		t.Errorf("add with a bad id: exit %d, %q", r.code, r.errOut)
	}
	if r := hookd(t, dbURL, "tenants", "add", "cus_9", "--metadata", "[1]"); r.code != 1 || !strings.Contains(r.errOut, "metadata") {
		t.Errorf("add with bad metadata: exit %d, %q", r.code, r.errOut)
	}

	// Endpoints and events of a tenant; an unknown tenant is refused.
	epA := field(t, mustHookd(t, dbURL, "endpoints", "add", "--url", "https://a.example/h", "--tenant", "cus_42"), "id")
	plain := field(t, mustHookd(t, dbURL, "endpoints", "add", "--url", "https://plain.example/h"), "id")
	if r := hookd(t, dbURL, "endpoints", "add", "--url", "https://x.example/", "--tenant", "cus_none"); r.code != 1 ||
		!strings.Contains(r.errOut, `"cus_none" does not exist`) || !strings.Contains(r.errOut, "hookd tenants add cus_none") {
		t.Errorf("endpoint of an unknown tenant: exit %d, %q", r.code, r.errOut)
	}
	ls := mustHookd(t, dbURL, "endpoints", "ls", "--tenant", "cus_42")
	if !strings.Contains(ls, epA) || strings.Contains(ls, plain) {
		t.Errorf("endpoints ls --tenant:\n%s", ls)
	}
	if out := mustHookd(t, dbURL, "publish", "--type", "a.b", "--tenant", "cus_42", "--id", "e1"); !strings.Contains(out, "1 delivery") {
		t.Errorf("publish for the tenant: %q", out)
	}
	if out := mustHookd(t, dbURL, "publish", "--type", "a.b", "--broadcast", "--id", "e2"); !strings.Contains(out, "2 deliveries") {
		t.Errorf("broadcast: %q", out)
	}
	if r := hookd(t, dbURL, "publish", "--type", "a.b", "--tenant", "cus_none"); r.code != 1 || !strings.Contains(r.errOut, "cus_none") {
		t.Errorf("publish for an unknown tenant: exit %d, %q", r.code, r.errOut)
	}
	if r := hookd(t, dbURL, "publish", "--type", "a.b", "--tenant", "cus_42", "--broadcast"); r.code != 1 || !strings.Contains(r.errOut, "broadcast") {
		t.Errorf("publish for a tenant and broadcast: exit %d, %q", r.code, r.errOut)
	}
	var page struct {
		Deliveries []struct {
			EndpointID string `json:"endpoint_id"`
			Tenant     string `json:"tenant"`
		}
	}
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "deliveries", "ls", "--tenant", "cus_42", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) != 2 {
		t.Errorf("deliveries ls --tenant: %+v, want the tenant's two", page.Deliveries)
	}
	for _, d := range page.Deliveries {
		if d.Tenant != "cus_42" || d.EndpointID != epA {
			t.Errorf("deliveries ls --tenant shows %+v", d)
		}
	}
	if out := mustHookd(t, dbURL, "replay", "--tenant", "cus_42", "--state", "pending", "--dry-run"); !strings.Contains(out, "2 pending deliveries match") {
		t.Errorf("replay --tenant --dry-run: %q", out)
	}
	if out := mustHookd(t, dbURL, "replay", "--tenant", "cus_43", "--state", "pending"); !strings.Contains(out, "0 pending deliveries matched") {
		t.Errorf("replay --tenant of another: %q", out)
	}
	if feed := feedShowing(t, dbURL, "e2", "--tenant", "cus_43"); strings.Contains(feed, "e1") {
		t.Errorf("events ls --tenant shows another tenant's event:\n%s", feed)
	}

	// Tokens: shown once, listed without secrets, revoked.
	r := hookd(t, dbURL, "tenants", "token", "create", "cus_42", "--name", "ci", "--expires-in", "720h")
	tok, tokID := field(t, r.out, "token"), field(t, r.out, "id")
	if r.code != 0 || !strings.HasPrefix(tok, "hkt_") || !strings.Contains(r.errOut, "shown this once") {
		t.Fatalf("token create: exit %d, %q %q", r.code, r.out, r.errOut)
	}
	for _, args := range [][]string{{"tenants", "token", "ls", "cus_42"}, {"tenants", "show", "cus_42"}, {"tenants", "show", "cus_42", "--json"}, {"tenants", "ls", "--json"}} {
		out := mustHookd(t, dbURL, args...)
		if strings.Contains(out, tok) || strings.Contains(out, "hkt_") {
			t.Errorf("%v shows a token:\n%s", args, out)
		}
		if args[1] != "ls" && !strings.Contains(out, tokID) {
			t.Errorf("%v does not list token %s:\n%s", args, tokID, out)
		}
	}
	show := mustHookd(t, dbURL, "tenants", "show", "cus_42")
	for _, want := range []string{"Acme Inc", `{"plan": "pro"}`, epA, "endpoints (1)", "tokens (1)"} {
		if !strings.Contains(show, want) {
			t.Errorf("tenants show lacks %q:\n%s", want, show)
		}
	}
	lsT := mustHookd(t, dbURL, "tenants", "ls")
	if !strings.Contains(lsT, "cus_42") || !strings.Contains(lsT, "cus_43") {
		t.Errorf("tenants ls:\n%s", lsT)
	}
	if r := hookd(t, dbURL, "tenants", "ls", "--after", "a b"); r.code != 1 || !strings.Contains(r.errOut, "after") || !strings.Contains(r.errOut, `"a b" is not a tenant id`) {
		t.Errorf("tenants ls --after 'a b': exit %d, %q; want it refused naming after", r.code, r.errOut)
	}
	if r := hookd(t, dbURL, "tenants", "token", "revoke", "cus_43", tokID); r.code != 1 || !strings.Contains(r.errOut, "not found") {
		t.Errorf("revoke under another tenant: exit %d, %q", r.code, r.errOut)
	}
	mustHookd(t, dbURL, "tenants", "token", "create", "cus_42")
	if out := mustHookd(t, dbURL, "tenants", "token", "revoke", "cus_42", tokID); !strings.Contains(out, "revoked token "+tokID) {
		t.Errorf("revoke printed %q", out)
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.tenant_tokens WHERE id = $1`, tokID); n != 0 {
		t.Errorf("revoked token still stored")
	}

	// Erasure asks first; without the id typed, nothing is erased.
	for _, stdin := range []string{"", "yes\n", "cus_4\n"} {
		r := hookdIn(t, dbURL, stdin, "tenants", "rm", "cus_42")
		if r.code != 1 || !strings.Contains(r.errOut, "Type the tenant id to confirm") || !strings.Contains(r.errOut, "nothing was erased") && !strings.Contains(r.errOut, "--yes") {
			t.Errorf("rm with %q typed: exit %d, %q", stdin, r.code, r.errOut)
		}
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.tenants WHERE id = 'cus_42'`); n != 1 {
		t.Fatal("an unconfirmed rm erased the tenant")
	}
	r = hookdIn(t, dbURL, "cus_42\n", "tenants", "rm", "cus_42")
	if r.code != 0 || !strings.Contains(r.out, "erased tenant cus_42: 1 endpoint, 1 event, 2 deliveries, 0 attempts, 1 token") {
		t.Fatalf("rm confirmed: exit %d, %q %q", r.code, r.out, r.errOut)
	}
	if n := countRows(t, dbURL, `SELECT (SELECT count(*) FROM hookd.endpoints WHERE tenant_id = 'cus_42') + (SELECT count(*) FROM hookd.deliveries WHERE tenant_id = 'cus_42')
		+ (SELECT count(*) FROM hookd.events WHERE tenant_id = 'cus_42') + (SELECT count(*) FROM hookd.tenants WHERE id = 'cus_42')`); n != 0 {
		t.Fatalf("%d rows of the erased tenant remain", n)
	}
	if r := hookd(t, dbURL, "tenants", "show", "cus_42"); r.code != 1 || !strings.Contains(r.errOut, "not found") {
		t.Errorf("show after rm: exit %d, %q", r.code, r.errOut)
	}
	if out := mustHookd(t, dbURL, "tenants", "rm", "cus_43", "--yes"); !strings.Contains(out, "erased tenant cus_43: 0 endpoints") {
		t.Errorf("rm --yes printed %q", out)
	}

	// Every change is in the audit trail, as the user who ran it.
	trail := mustHookd(t, dbURL, "audit", "ls", "--limit", "100")
	for _, want := range []string{"create", "edit", "create_token", "revoke_token", "erase", "tenant cus_42"} {
		if !strings.Contains(trail, want) {
			t.Errorf("audit ls lacks %q:\n%s", want, trail)
		}
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.audit_log WHERE action = 'erase' AND actor_kind = 'cli' AND rows = 5`); n != 1 {
		t.Errorf("erasure audited %d times with its rows", n)
	}
}

// TestFilterByUnknownTenantIsRefused: a --tenant filter naming no tenant
// is an error naming it, as ?tenant= is on the API, rather than an empty
// answer hiding the typo.
func TestFilterByUnknownTenantIsRefused(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	mustHookd(t, dbURL, "tenants", "add", "cus_42")
	for _, args := range [][]string{
		{"endpoints", "ls", "--tenant", "cus_nope"},
		{"deliveries", "ls", "--tenant", "cus_nope"},
		{"events", "ls", "--tenant", "cus_nope"},
		{"replay", "--tenant", "cus_nope", "--dry-run"},
	} {
		if r := hookd(t, dbURL, args...); r.code != 1 || !strings.Contains(r.errOut, `--tenant: "cus_nope" is no tenant`) {
			t.Errorf("%v: exit %d, %q", args, r.code, r.errOut)
		}
		ok := append(slices.Clone(args[:len(args)-1]), "cus_42")
		if args[0] == "replay" {
			ok = []string{"replay", "--tenant", "cus_42", "--dry-run"}
		}
		mustHookd(t, dbURL, ok...)
	}
}

func TestPublishFile(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	mustHookd(t, dbURL, "tenants", "add", "cus_42")
	mustHookd(t, dbURL, "endpoints", "add", "--url", "https://a.example/h", "--tenant", "cus_42")
	mustHookd(t, dbURL, "endpoints", "add", "--url", "https://plain.example/h")
	mustHookd(t, dbURL, "publish", "--type", "a.b", "--id", "old")
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	f := write("ok.jsonl",
		`{"id":"f1","type":"a.b","data":{"n":1}}`,
		``,
		`{"id":"old","type":"a.b"}`,
		`{"id":"f2","type":"a.c","tenant":"cus_42","created":"2025-01-02T03:04:05Z"}`,
		`{"id":"f1","type":"a.b"}`,
		`{"type":"a.d","broadcast":true}`)
	out := mustHookd(t, dbURL, "publish", "--file", f)
	if !strings.Contains(out, "published 3 events from "+f+": 4 deliveries; 2 duplicates") ||
		!strings.Contains(out, "line 3: old") || !strings.Contains(out, "line 5: f1") {
		t.Errorf("publish --file printed:\n%s", out)
	}
	var res struct {
		Results []struct {
			Line      int    `json:"line"`
			ID        string `json:"id"`
			Duplicate bool   `json:"duplicate"`
		}
	}
	if err := json.Unmarshal([]byte(hookdIn(t, dbURL, `{"id":"f1","type":"a.b"}`+"\n"+`{"id":"s1","type":"a.b"}`, "publish", "--file", "-", "--json").out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 || !res.Results[0].Duplicate || res.Results[1].Duplicate || res.Results[1].Line != 2 {
		t.Errorf("publish --file - --json: %+v", res)
	}
	before := countRows(t, dbURL, `SELECT count(*) FROM hookd.events`)

	// A bad line anywhere publishes nothing, and names the line and field.
	for _, c := range []struct {
		lines []string
		want  string
	}{
		{[]string{`{"type":"a.b"}`, `{"type":"not a type"}`}, "line 2: type:"},
		{[]string{`{"type":"a.b"}`, ``, `{"type":"a.b","tpye":"x"}`}, "line 3: tpye:"},
		{[]string{`{"type":"a.b","created":"soon"}`}, "line 1: created:"},
		{[]string{`{"type":"a.b"`}, "line 1: body:"},
		{[]string{`{"type":"a.b"}`, `{"type":"a.b","tenant":"cus_none"}`}, `line 2: tenant: tenant "cus_none" does not exist`},
		{[]string{`{"type":"a.b"}`, ``, `{"id":"f2","type":"a.b"}`}, `line 3: id: "f2" is the id of an event for another tenant`},
		// The same id twice in the file, for two tenants: the second line
		// is at fault, and says with which line it clashes.
		{[]string{`{"id":"same","type":"a.b","tenant":"cus_42"}`, `{"id":"same","type":"a.b"}`},
			`line 2: id: "same" is the id of line 1's event too`},
		// A line longer than any event is named by its number.
		{[]string{`{"type":"a.b"}`, `{"type":"a.b","data":"` + strings.Repeat("x", 400<<10) + `"}`}, "line 2: is over"},
	} {
		r := hookd(t, dbURL, "publish", "--file", write("bad.jsonl", c.lines...))
		if r.code != 1 || !strings.Contains(r.errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.lines, r.code, r.errOut, c.want)
		}
	}
	// A byte order mark before the first line is not part of it.
	if out := mustHookd(t, dbURL, "publish", "--file", write("bom.jsonl", "\ufeff"+`{"id":"bom1","type":"a.b"}`)); !strings.Contains(out, "published 1 event") {
		t.Errorf("a file with a byte order mark: %q", out)
	}
	before++
	if r := hookd(t, dbURL, "publish", "--file", write("empty.jsonl", "")); r.code != 1 || !strings.Contains(r.errOut, "no event") {
		t.Errorf("empty file: exit %d, %q", r.code, r.errOut)
	}
	if r := hookd(t, dbURL, "publish", "--file", f, "--tenant", "cus_42"); r.code != 1 || !strings.Contains(r.errOut, "--tenant") {
		t.Errorf("--file with --tenant: exit %d, %q", r.code, r.errOut)
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.events`); n != before {
		t.Fatalf("refused files published %d events", n-before)
	}

	// Batches of 1,000: 2,500 lines, all published.
	many := make([]string, 2500)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"m%d","type":"a.b","tenant":"cus_42"}`, i)
	}
	if out := mustHookd(t, dbURL, "publish", "--file", write("many.jsonl", many...)); !strings.Contains(out, "published 2500 events") {
		t.Errorf("2,500 lines: %q", out)
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.events WHERE id LIKE 'm%'`); n != 2500 {
		t.Errorf("%d of 2,500 events stored", n)
	}
	// An unknown tenant in the second batch, or an id another tenant's
	// event has: the file is one transaction, so nothing of it is in.
	// (The first batch was published before, and the refusal said so.)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"n%d","type":"a.b"}`, i)
	}
	many[1500] = `{"id":"n1500","type":"a.b","tenant":"cus_none"}`
	r := hookd(t, dbURL, "publish", "--file", write("half.jsonl", many...))
	if r.code != 1 || !strings.Contains(r.errOut, "line 1501: tenant") || !strings.Contains(r.errOut, "cus_none") {
		t.Errorf("unknown tenant in the second batch: exit %d, %q", r.code, r.errOut)
	}
	many[1500] = `{"id":"m7","type":"a.b"}` // cus_42's, above
	r = hookd(t, dbURL, "publish", "--file", write("taken.jsonl", many...))
	if r.code != 1 || !strings.Contains(r.errOut, "line 1501: id") {
		t.Errorf("another tenant's id in the second batch: exit %d, %q", r.code, r.errOut)
	}
	if n := countRows(t, dbURL, `SELECT count(*) FROM hookd.events WHERE id LIKE 'n%'`); n != 0 {
		t.Errorf("%d events of the refused files stored, want none", n)
	}
}
