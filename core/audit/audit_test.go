package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestRecordCommitsWithTheActionsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	who := audit.SSHKey("SHA256:abc", "alice")
	entry := audit.Entry{Actor: who, Via: audit.ViaConsole, Action: audit.ActionReplay, Target: "delivery 7", Rows: 1}

	// Rolled back with the action: no trace.
	errAbort := errors.New("the action failed")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := audit.Record(ctx, tx, entry); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
	page, err := audit.List(ctx, pool, audit.ListParams{})
	if err != nil || len(page.Entries) != 0 {
		t.Fatalf("a rolled-back action must leave no entry: %v %+v", err, page)
	}

	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return audit.Record(ctx, tx, entry) }); err != nil {
		t.Fatal(err)
	}
	page, err = audit.List(ctx, pool, audit.ListParams{})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("%v %+v", err, page)
	}
	got := page.Entries[0]
	if got.Actor != who || got.Via != audit.ViaConsole || got.Action != audit.ActionReplay || got.Target != "delivery 7" ||
		got.Rows != 1 || got.Outcome != audit.OutcomeOK || got.At.IsZero() || got.ID == 0 {
		t.Fatalf("entry %+v", got)
	}
	if s := got.Actor.String(); s != "ssh SHA256:abc (alice)" {
		t.Fatalf("actor renders as %q", s)
	}
}

func TestRecordRefusesWhatItCannotAttribute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ok := audit.Entry{Actor: audit.Actor{Kind: audit.KindCLI, ID: "bob"}, Via: audit.ViaCLI, Action: audit.ActionDelete}
	for name, tc := range map[string]struct {
		mut   func(*audit.Entry)
		field string
	}{
		"no actor":      {func(e *audit.Entry) { e.Actor = audit.Actor{} }, "actor.kind"},
		"blank id":      {func(e *audit.Entry) { e.Actor.ID = "  " }, "actor.id"},
		"unknown via":   {func(e *audit.Entry) { e.Via = "web" }, "via"},
		"unknown verb":  {func(e *audit.Entry) { e.Action = "drop" }, "action"},
		"bad outcome":   {func(e *audit.Entry) { e.Outcome = "maybe" }, "outcome"},
		"negative rows": {func(e *audit.Entry) { e.Rows = -1 }, "rows"},
	} {
		e := ok
		tc.mut(&e)
		var ve *validate.Error
		if err := audit.Record(ctx, pool, e); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: want a validation error on %s, got %v", name, tc.field, err)
		}
	}
	page, _ := audit.List(ctx, pool, audit.ListParams{})
	if len(page.Entries) != 0 {
		t.Fatalf("refused entries were written: %+v", page.Entries)
	}
}

// Text that PostgreSQL's text type refuses (NUL, invalid UTF-8) or that
// is far too long is made storable: the action is recorded all the same.
func TestRecordKeepsAwkwardText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	e := audit.Entry{Actor: audit.Actor{Kind: audit.KindOS, ID: "carol"}, Via: audit.ViaConsole, Action: audit.ActionReplay,
		Target: "filter \x00 text:\xff", Detail: strings.Repeat("é", 5000)}
	if err := audit.Record(ctx, pool, e); err != nil {
		t.Fatal(err)
	}
	page, err := audit.List(ctx, pool, audit.ListParams{})
	if err != nil || len(page.Entries) != 1 {
		t.Fatal(err, page)
	}
	got := page.Entries[0]
	if strings.Contains(got.Target, "\x00") || !strings.HasPrefix(got.Target, "filter  text:") {
		t.Fatalf("target %q", got.Target)
	}
	if len(got.Detail) > 2000 || !strings.HasSuffix(got.Detail, "…") {
		t.Fatalf("detail of %d bytes must be cut to 2000 with an ellipsis", len(got.Detail))
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	alice := audit.SSHKey("SHA256:alice", "alice")
	key := audit.APIKey("a-very-secret-api-key-0123456789")
	for i := range 5 {
		a := alice
		action := audit.ActionReplay
		if i%2 == 1 {
			a, action = key, audit.ActionDisable
		}
		if err := audit.Record(ctx, pool, audit.Entry{Actor: a, Via: audit.ViaAPI, Action: action, Rows: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := audit.Record(ctx, pool, audit.Entry{Actor: alice, Via: audit.ViaConsole, Action: audit.ActionReplay,
		Outcome: audit.OutcomeRefused, Error: "read-only"}); err != nil {
		t.Fatal(err)
	}
	all, err := audit.List(ctx, pool, audit.ListParams{Limit: 4})
	if err != nil || len(all.Entries) != 4 || all.Next == 0 {
		t.Fatalf("first page: %v %+v", err, all)
	}
	rest, err := audit.List(ctx, pool, audit.ListParams{Limit: 4, Before: all.Next})
	if err != nil || len(rest.Entries) != 2 || rest.Next != 0 || rest.Entries[0].ID >= all.Entries[3].ID {
		t.Fatalf("second page: %v %+v", err, rest)
	}
	for name, tc := range map[string]struct {
		p    audit.ListParams
		want int
	}{
		"by actor id":   {audit.ListParams{Actor: key.ID}, 2},
		"by actor name": {audit.ListParams{Actor: "alice"}, 4},
		"by action":     {audit.ListParams{Action: audit.ActionDisable}, 2},
		"refused":       {audit.ListParams{Outcome: audit.OutcomeRefused}, 1},
	} {
		page, err := audit.List(ctx, pool, tc.p)
		if err != nil || len(page.Entries) != tc.want {
			t.Errorf("%s: %v, %d entries, want %d", name, err, len(page.Entries), tc.want)
		}
	}
	var ve *validate.Error
	if _, err := audit.List(ctx, pool, audit.ListParams{Action: "explode"}); !errors.As(err, &ve) || ve.Field != "action" {
		t.Fatalf("unknown action: %v", err)
	}
}

func TestActorsHoldNoSecret(t *testing.T) {
	t.Parallel()
	secret := "a-very-secret-api-key-0123456789"
	a := audit.APIKey(secret)
	if strings.Contains(a.String(), secret) || strings.Contains(a.ID, secret[:8]) || !strings.HasPrefix(a.ID, "key_") {
		t.Fatalf("API key actor %+v", a)
	}
	if audit.APIKey(secret) != a || audit.APIKey(secret+"x") == a {
		t.Fatal("the id must tell keys apart and be stable")
	}
	if u := audit.LocalUser(audit.KindCLI); u.Kind != audit.KindCLI || u.ID == "" {
		t.Fatalf("local user %+v", u)
	}
	ctx := audit.NewContext(context.Background(), a)
	if got, ok := audit.FromContext(ctx); !ok || got != a {
		t.Fatal("the actor travels in the context")
	}
	if _, ok := audit.FromContext(context.Background()); ok {
		t.Fatal("no actor in a bare context")
	}
}
