package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/dbtest"
)

// Every command that changes state leaves an entry naming the user who
// ran it; a failed command leaves none; hookd audit ls lists them.
func TestCommandsThatChangeStateAreAudited(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	id := field(t, mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/hook"), "id")
	mustHookd(t, dbURL, "endpoints", "disable", id, "--reason", "maintenance")
	mustHookd(t, dbURL, "endpoints", "enable", id)
	mustHookd(t, dbURL, "endpoints", "update", id, "--description", "shop", "--header", "Authorization=Bearer s3cret")
	if r := hookd(t, dbURL, "endpoints", "update", id); r.code == 0 { // changes nothing: refused, not audited
		t.Fatal("endpoints update with no flag must fail")
	}
	rotated := mustHookd(t, dbURL, "endpoints", "rotate-secret", id)
	mustHookd(t, dbURL, "publish", "--type", "invoice.paid", "--data", `{"n":1}`)
	var dels struct {
		Deliveries []struct{ ID int64 } `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "deliveries", "ls", "--json")), &dels); err != nil || len(dels.Deliveries) != 1 {
		t.Fatalf("%v %+v", err, dels)
	}
	mustHookd(t, dbURL, "replay", strconv.FormatInt(dels.Deliveries[0].ID, 10))
	mustHookd(t, dbURL, "replay", "--endpoint", id)
	mustHookd(t, dbURL, "replay", "--endpoint", id, "--dry-run") // changes nothing: not audited
	if r := hookd(t, dbURL, "replay", "999999"); r.code == 0 {
		t.Fatal("replaying an unknown delivery must fail")
	}
	mustHookd(t, dbURL, "endpoints", "rm", id)

	var page audit.Page
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "audit", "ls", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	want := []string{audit.ActionDelete, audit.ActionReplay, audit.ActionReplay, audit.ActionRotate, audit.ActionEdit, audit.ActionEnable, audit.ActionDisable, audit.ActionCreate}
	if len(page.Entries) != len(want) {
		t.Fatalf("want %d entries (%v), got %+v", len(want), want, page.Entries)
	}
	user := audit.LocalUser(audit.KindCLI)
	for i, e := range page.Entries {
		if e.Action != want[i] || e.Via != audit.ViaCLI || e.Actor != user || e.Outcome != audit.OutcomeOK {
			t.Errorf("entry %d: %+v, want %s by %s", i, e, want[i], user)
		}
	}
	if e := page.Entries[7]; e.Target != id || e.Rows != 1 {
		t.Errorf("adding the endpoint names it: %+v", e)
	}
	if e := page.Entries[1]; e.Target != "state:dead endpoint:"+id || e.Rows != 0 {
		t.Errorf("the bulk replay names its filter and counts nothing replayed: %+v", e)
	}
	if e := page.Entries[2]; e.Target != "delivery "+strconv.FormatInt(dels.Deliveries[0].ID, 10) || e.Rows != 1 {
		t.Errorf("the replay of one delivery names it: %+v", e)
	}
	if e := page.Entries[4]; e.Detail != "changed description, header" || strings.Contains(e.Detail, "s3cret") {
		t.Errorf("the edit names its fields, never a header's value: %q", e.Detail)
	}
	secret := field(t, rotated, "secret")
	out := mustHookd(t, dbURL, "audit", "ls")
	if strings.Contains(out, secret) || strings.Contains(out, "s3cret") {
		t.Fatalf("the trail must hold no secret:\n%s", out)
	}
	for _, want := range []string{"WHO", "cli " + user.ID, "rotate_secret", "disable", "maintenance"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit ls lacks %q:\n%s", want, out)
		}
	}
	filtered := mustHookd(t, dbURL, "audit", "ls", "--action", "disable")
	if strings.Count(filtered, "\n") != 2 {
		t.Errorf("--action disable lists one entry:\n%s", filtered)
	}
	if r := hookd(t, dbURL, "audit", "ls", "--action", "explode"); r.code != 1 || !strings.Contains(r.errOut, "action") {
		t.Errorf("an unknown action is refused naming the flag: %d %s", r.code, r.errOut)
	}
	pool := openPool(t, dbURL)
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.audit_log WHERE outcome <> 'ok'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed commands leave no entry: %v %d", err, n)
	}
}

// TestSourceChangesAndInboxReplaysAreAudited: adding and deleting an
// intake source and replaying inbox events are in the trail too, with no
// secret; they were not.
func TestSourceChangesAndInboxReplaysAreAudited(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	mustHookd(t, dbURL, "sources", "add", "gh", "--scheme", "github", "--secret", "s3cret-for-github")
	mustHookd(t, dbURL, "inbox", "replay", "--source", "gh")
	mustHookd(t, dbURL, "inbox", "replay", "--source", "gh", "--dry-run") // changes nothing: not audited
	mustHookd(t, dbURL, "sources", "rm", "gh")
	var page audit.Page
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "audit", "ls", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target string }{
		{audit.ActionDelete, "source gh"}, {audit.ActionReplay, "inbox source:gh"}, {audit.ActionCreate, "source gh"}}
	if len(page.Entries) != len(want) {
		t.Fatalf("want %d entries (%v), got %+v", len(want), want, page.Entries)
	}
	for i, e := range page.Entries {
		if e.Action != want[i].action || e.Target != want[i].target || e.Via != audit.ViaCLI {
			t.Errorf("entry %d: %+v, want %s of %s", i, e, want[i].action, want[i].target)
		}
	}
	if out := mustHookd(t, dbURL, "audit", "ls"); strings.Contains(out, "s3cret") {
		t.Fatalf("the trail must hold no secret:\n%s", out)
	}
}

// hookd audit is a command group like the others: a mistyped subcommand
// fails naming the group; bare, it prints its help.
func TestAuditIsAGroup(t *testing.T) {
	t.Parallel()
	if r := hookdEnv(t, nil, "audit", "lss"); r.code != 1 || !strings.Contains(r.errOut, `unknown command "lss" for "hookd audit"`) ||
		!strings.Contains(r.errOut, "commands: ls") {
		t.Errorf("hookd audit lss: exit %d, %q", r.code, r.errOut)
	}
	if r := hookdEnv(t, nil, "audit"); r.code != 0 || !strings.Contains(r.out, "Available Commands:") {
		t.Errorf("hookd audit: exit %d, %q", r.code, r.out)
	}
}
