package scenario

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/testkit"
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

// The intake source forwards what it verifies to ForwardReceiver, and
// the forwards reach it: configured sources' forward targets dial past
// the address guard.
func TestDemoForwardsIntake(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := New(Options{DataDir: openDir(t), EventsPerSecond: 1})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	info, err := os.ReadFile(filepath.Join(d.DataDir(), InfoFileName))
	if err != nil || d.InfoPath() != filepath.Join(d.DataDir(), InfoFileName) {
		t.Fatalf("%s: %v (InfoPath %q)", InfoFileName, err, d.InfoPath())
	}
	for _, want := range []string{"URL:      " + d.URL(), "API key:  " + d.APIKey(), "curl -H 'Authorization: Bearer " + d.APIKey() + "' '" + d.URL()} {
		if !strings.Contains(string(info), want) {
			t.Errorf("%s does not hold %q:\n%s", InfoFileName, want, info)
		}
	}
	if fi, err := os.Stat(d.InfoPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, %v; want 0600 (it holds the API key)", InfoFileName, fi.Mode().Perm(), err)
	}
	defer func() {
		d.Stop()
		if _, err := os.Stat(d.InfoPath()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Stop: %v", InfoFileName, err)
		}
	}()
	pool := d.Database().Pool
	var fwdURL string
	if err := pool.QueryRow(ctx, `SELECT ep.url FROM hookd.endpoints ep WHERE ep.kind = 'forward'`).Scan(&fwdURL); err != nil {
		t.Fatalf("the forward endpoint of %s: %v", SourceName, err)
	}
	if want := d.receiver(ForwardReceiver).URL(); fwdURL != want {
		t.Errorf("forward endpoint URL %s, want the %s receiver's %s", fwdURL, ForwardReceiver, want)
	}
	testkit.Eventually(t, "a forwarded inbox event delivered to the "+string(ForwardReceiver)+" receiver", func() bool {
		var forwarded, delivered int
		err := pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM hookd.inbox WHERE source = $1 AND state = 'forwarded'),
				(SELECT count(*) FROM hookd.deliveries dl JOIN hookd.endpoints ep ON ep.id = dl.endpoint_id
				 WHERE ep.kind = 'forward' AND dl.state = 'succeeded')`, SourceName).Scan(&forwarded, &delivered)
		return err == nil && forwarded > 0 && delivered > 0
	})
}
