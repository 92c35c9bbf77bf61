package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
)

// emptyDB returns the URL of a database with no schema at all.
func emptyDB(t *testing.T) string {
	t.Helper()
	dbURL := dbtest.NewDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA hookd CASCADE"); err != nil {
		t.Fatal(err)
	}
	return dbURL
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	dbURL := emptyDB(t)

	first := mustHookd(t, dbURL, "migrate")
	if !strings.Contains(first, "applied 001") {
		t.Errorf("first migrate printed %q, want the migrations it applied", first)
	}
	second := mustHookd(t, dbURL, "migrate")
	if strings.Contains(second, "applied") || !strings.Contains(second, "nothing to apply") {
		t.Errorf("second migrate printed %q, want nothing applied", second)
	}
	status := mustHookd(t, dbURL, "migrate", "status")
	lines := strings.Split(strings.TrimSpace(status), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "VERSION") {
		t.Fatalf("status output:\n%s", status)
	}
	for _, l := range lines[1:] {
		if !strings.HasSuffix(l, "applied") {
			t.Errorf("migration not applied: %q", l)
		}
	}
	infos, err := db.Status(context.Background(), openPool(t, dbURL))
	if err != nil || len(infos) != len(lines)-1 {
		t.Errorf("status lists %d migrations, the database knows %d (%v)", len(lines)-1, len(infos), err)
	}
}

func TestMigrateStatusListsPending(t *testing.T) {
	t.Parallel()
	dbURL := emptyDB(t)
	status := mustHookd(t, dbURL, "migrate", "status")
	if !strings.Contains(status, "pending") {
		t.Errorf("status on an empty database:\n%s", status)
	}
	// With auto_migrate off, other commands refuse to run and say why.
	r := hookdEnv(t, map[string]string{"HOOKD_DATABASE_AUTO_MIGRATE": "false"}, "--database-url", dbURL, "--log-level", "warn", "serve", "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.errOut, "hookd migrate") {
		t.Errorf("serve with auto_migrate=false on an empty database: exit %d, %q", r.code, r.errOut)
	}
	// Other commands never migrate: pointed at the wrong database, they
	// made hookd's tables there.
	for _, args := range [][]string{{"tenants", "ls"}, {"publish", "--type", "a.b"}} {
		if r := hookd(t, dbURL, args...); r.code == 0 || !strings.Contains(r.errOut, "hookd migrate") {
			t.Errorf("%v on an empty database: exit %d, %q; want a refusal naming hookd migrate", args, r.code, r.errOut)
		}
	}
	if status := mustHookd(t, dbURL, "migrate", "status"); strings.Contains(status, "applied") {
		t.Errorf("a command migrated the database:\n%s", status)
	}
}
