package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewDBIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := NewPool(t), NewPool(t)

	for _, pool := range []*pgxpool.Pool{a, b} {
		if current, err := db.SchemaCurrent(ctx, pool); err != nil || !current {
			t.Fatalf("schema not migrated: %v, %v", current, err)
		}
	}
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	_, err := b.Exec(ctx, "SELECT * FROM only_in_a")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Errorf("table of database a visible in b: err = %v", err)
	}
}

func TestNewDBDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("inner", func(t *testing.T) {
		u, err := url.Parse(NewDB(t))
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
	})
	if n := countDatabases(t, name); n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestParallel(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := NewPool(t)
			if _, err := pool.Exec(ctx, "CREATE TABLE t (v int)"); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
			var got []int
			rows, err := pool.Query(ctx, "SELECT v FROM t")
			if err == nil {
				got, err = pgx.CollectRows(rows, pgx.RowTo[int])
			}
			if err != nil || len(got) != 1 || got[0] != i {
				t.Errorf("rows = %v, %v; want [%d]", got, err, i)
			}
		})
	}
}

func TestServerURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil || name == "" {
		t.Errorf("current_database = %q, %v", name, err)
	}
}

func TestTemplateName(t *testing.T) {
	t.Parallel()
	a, err := templateName(fstest.MapFS{"001_init.sql": {Data: []byte("CREATE TABLE a ();")}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := templateName(fstest.MapFS{"001_init.sql": {Data: []byte("CREATE TABLE b ();")}})
	again, _ := templateName(fstest.MapFS{"001_init.sql": {Data: []byte("CREATE TABLE a ();")}})
	if a == b || a != again || !strings.HasPrefix(a, templatePrefix) || len(a) > 63 {
		t.Errorf("names %q %q %q: want stable, content-dependent, prefixed, at most 63 bytes", a, b, again)
	}
}

func TestExternalURL(t *testing.T) {
	t.Parallel()
	got, err := externalURL("postgres://u:p@db.example:5432?sslmode=disable")
	if err != nil || got != "postgres://u:p@db.example:5432/postgres?sslmode=disable" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := externalURL("host=localhost dbname=x"); err == nil || !strings.Contains(err.Error(), EnvURL) {
		t.Errorf("keyword DSN: err = %v, want one naming %s", err, EnvURL)
	}
}

func countDatabases(t *testing.T, name string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
