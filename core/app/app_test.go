package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/secrets/secretstest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// dataDir returns a directory the server's unprivileged account can reach
// when the tests run as root (t.TempDir is 0700).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hookd-app-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

// postgresOn lists the pids of postgres processes whose command line
// names the cluster of data directory dataDir.
func postgresOn(t *testing.T, dataDir string) []string {
	t.Helper()
	dir, err := pgembed.PgdataDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if strings.Contains(string(b), "postgres") {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

func embeddedConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.Database.DataDir = dir
	cfg.Database.MaxConns = 4
	return cfg
}

// The embedded default: no database.url starts PostgreSQL in data_dir,
// migrates, and Close leaves no server behind. A second open while the
// first runs attaches to the same server and leaves it running.
func TestEmbeddedDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := dataDir(t)
	cfg := embeddedConfig(dir)

	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if !d.Embedded || d.Attached {
		t.Errorf("Embedded %v Attached %v, want an embedded server of our own", d.Embedded, d.Attached)
	}
	if current, err := db.SchemaCurrent(ctx, d.Pool); err != nil || !current {
		t.Fatalf("schema not migrated: %v %v", current, err)
	}
	if len(postgresOn(t, dir)) == 0 {
		t.Fatal("no postgres process runs on the data dir")
	}

	other, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !other.Attached || other.URL != d.URL {
		t.Errorf("second open: Attached %v, URL %q; want the first one's server %q", other.Attached, other.URL, d.URL)
	}
	other.Close()
	if err := d.Pool.Ping(ctx); err != nil {
		t.Fatalf("closing the attached database stopped the server: %v", err)
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data) VALUES ('evt_kept', 't.x', '{}')`); err != nil {
		t.Fatal(err)
	}

	d.Close()
	d.Close() // twice is fine
	if left := postgresOn(t, dir); len(left) > 0 {
		t.Fatalf("postgres processes left after Close: %v", left)
	}

	// A reused data dir keeps its data.
	again, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := again.Pool.QueryRow(ctx, `SELECT count(*) FROM hookd.events WHERE id = 'evt_kept'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("event after restart: %d, %v", n, err)
	}
	again.Close()
	if left := postgresOn(t, dir); len(left) > 0 {
		t.Fatalf("postgres processes left after the second Close: %v", left)
	}
}

func TestOpenDatabaseWithoutAutoMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA hookd CASCADE"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	cfg := config.Default()
	cfg.Database.URL, cfg.Database.AutoMigrate = url, false
	cfg.Secrets.Key = secretstest.Key
	if _, err := OpenDatabase(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "hookd migrate") {
		t.Fatalf("OpenDatabase on an empty database without auto_migrate: %v; want advice to run hookd migrate", err)
	}
	cfg.Database.AutoMigrate = true
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	cfg.Database.AutoMigrate = false
	d, err = OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("OpenDatabase on a current schema without auto_migrate: %v", err)
	}
	d.Close()
}

func TestServerStartStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Database.URL = dbtest.NewDB(t)
	cfg.Secrets.Key = secretstest.Key
	cfg.HTTP.Listen = "127.0.0.1:0"
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)

	t.Run("StopBeforeStart", func(t *testing.T) {
		s, err := NewServer(cfg, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Stop()
		s.Stop()
	})
	t.Run("StartServeStopTwice", func(t *testing.T) {
		s, err := NewServer(cfg, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + s.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("readyz = %d", resp.StatusCode)
		}
		if err := s.Start(ctx); err == nil {
			t.Error("a second Start succeeded")
		}
		s.Stop()
		s.Stop()
	})
	t.Run("AddressTaken", func(t *testing.T) {
		first, err := NewServer(cfg, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer first.Stop()
		taken := *cfg
		taken.HTTP.Listen = first.Addr()
		second, err := NewServer(&taken, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := second.Start(ctx); err == nil || !strings.Contains(err.Error(), "http.listen") {
			t.Errorf("Start on a taken address: %v; want an error naming http.listen", err)
		}
		second.Stop()
	})
	t.Run("RunStopsOnCancel", func(t *testing.T) {
		s, err := NewServer(cfg, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		deadline := time.Now().Add(30 * time.Second)
		for s.Addr() == "" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	})
}
