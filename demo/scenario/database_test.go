package scenario

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/pgembed"
)

// A demo on a data directory whose PostgreSQL another live hookd runs
// refuses to start, and leaves that server and its database alone.
func TestStartRefusesAServerAnotherHookdRuns(t *testing.T) {
	t.Parallel()
	dir := openDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	other, err := pgembed.Start(ctx, pgembed.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop(context.Background()) })
	conn, err := pgx.Connect(ctx, other.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+app.EmbeddedDatabase); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	conn, err = pgx.Connect(ctx, other.URL(app.EmbeddedDatabase))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int)"); err != nil {
		t.Fatal(err)
	}

	d := New(Options{DataDir: dir})
	err = d.Start(ctx)
	d.Stop()
	want := "another hookd (pid " + strconv.Itoa(os.Getpid()) + ") is running the database in " + dir +
		"; stop it, or run the demo with --ephemeral or another --data-dir"
	var inUse *InUseError
	if !errors.As(err, &inUse) || err.Error() != want {
		t.Fatalf("demo on a data directory in use: err = %v, want %q", err, want)
	}
	if _, err := conn.Exec(ctx, "SELECT count(*) FROM kept"); err != nil {
		t.Errorf("the other hookd's database was touched: %v", err)
	}
}

// openDir returns a temporary directory that any user can pass through,
// as PostgreSQL's account needs when the tests run as root.
func openDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
