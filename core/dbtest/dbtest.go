// Package dbtest gives every test a real, isolated PostgreSQL database.
//
// # Use
//
// Each package that uses it hands its TestMain to Main:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// (or, under a harness that calls m.Run itself,
// goleak.VerifyTestMain(dbtest.Wrap(m))). A test then asks for a database
// of its own, already migrated, dropped when the test ends:
//
//	pool := dbtest.NewPool(t)
//
// # Server
//
// When TEST_DATABASE_URL is set, databases are created on that server.
// Otherwise one throwaway server (core/pgembed) is shared by every test
// process of the user: the first process to need it starts it, the last
// to finish stops it, and its data directory (under os.TempDir()) is kept
// so later runs start in a fraction of a second. It runs with fsync off:
// test data need not survive a machine crash.
//
// # Template
//
// Databases are cloned from a template migrated once per set of migration
// files (its name carries their hash), so a test pays for CREATE DATABASE,
// not for the migrations.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/partition"
)

// EnvURL names the variable that points the tests at an existing server.
// Its role must be allowed to create databases.
const EnvURL = "TEST_DATABASE_URL"

// dbPrefix starts the name of every database NewDB creates; the rest is
// the creating process's pid and a sequence number.
const dbPrefix = "hookd_test_"

// opTimeout bounds each administrative statement.
const opTimeout = time.Minute

// state is this process's view of the server. It is acquired on first
// use, inside Main, and released when Main's m.Run returns.
var state struct {
	mu        sync.Mutex
	inMain    bool
	serverURL string
	release   func()
	err       error
	template  string
}

var seq atomic.Int64

// SharedServerGoroutine names the goroutine that waits for the shared
// server when this process started it. It outlives the tests when other
// test processes still use the server, so goleak must ignore it:
//
//	goleak.VerifyTestMain(dbtest.Wrap(m), goleak.IgnoreAnyFunction(dbtest.SharedServerGoroutine))
const SharedServerGoroutine = "github.com/hookd/hookd/core/pgembed.(*setup).launch.func1"

// Main runs the package's tests and exits with their status, acquiring the
// server when a test first needs it and releasing it afterwards. Call it
// from TestMain.
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}

// Wrap returns m with a Run that makes the server available to the tests
// and releases it when they are done, for harnesses that call m.Run
// themselves.
func Wrap(m interface{ Run() int }) interface{ Run() int } {
	return wrapped{m}
}

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	state.mu.Lock()
	state.inMain = true
	state.mu.Unlock()
	code := w.m.Run()
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.release != nil {
		state.release()
		state.release = nil
	}
	state.inMain = false
	return code
}

// ServerURL returns the URL of the test server's administrative database
// (`postgres`, or the one named in TEST_DATABASE_URL), for tests that
// create and drop things themselves. It panics when no server can be had.
func ServerURL() string {
	u, err := server()
	if err != nil {
		panic(err)
	}
	return u
}

// NewDB creates a fresh database, migrated to the current schema, and
// returns its URL. The database is dropped (with FORCE, closing leftover
// connections) when t ends.
func NewDB(t testing.TB) string {
	t.Helper()
	srv, err := server()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template(srv)
	if err != nil {
		t.Fatal(err)
	}
	name := dbPrefix + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(seq.Add(1), 10)
	if err := admin(srv, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin(srv, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	url := withDatabase(srv, name)
	if err := ensurePartitions(url); err != nil {
		t.Fatalf("dbtest: partitions of %s: %v", name, err)
	}
	return url
}

// ensurePartitions makes the history partitions around now, which a
// template built days ago may lack.
func ensurePartitions(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = partition.Ensure(ctx, conn, Span, time.Now())
	return err
}

// NewEmptyDB creates a fresh database with no schema at all (for upgrade
// tests, which migrate it themselves) and returns its URL. It is dropped
// when t ends.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	srv, err := server()
	if err != nil {
		t.Fatal(err)
	}
	name := dbPrefix + strconv.Itoa(os.Getpid()) + "_e" + strconv.FormatInt(seq.Add(1), 10)
	if err := admin(srv, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin(srv, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(srv, name)
}

// NewPool returns a pool on a database from NewDB. The pool is closed
// before the database is dropped.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// server returns the administrative URL, acquiring the server on first use.
func server() (string, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.serverURL != "" || state.err != nil {
		return state.serverURL, state.err
	}
	if !state.inMain {
		return "", fmt.Errorf("dbtest: the server is only available under dbtest.Main: add `func TestMain(m *testing.M) { dbtest.Main(m) }` to this package")
	}
	if env := os.Getenv(EnvURL); env != "" {
		state.serverURL, state.err = externalURL(env)
		return state.serverURL, state.err
	}
	state.serverURL, state.release, state.err = acquireShared()
	return state.serverURL, state.err
}

// externalURL checks TEST_DATABASE_URL and defaults its database to postgres.
func externalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("dbtest: %s must be a URL such as postgres://user:pass@host:5432/postgres, got %q", EnvURL, raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/postgres"
	}
	return u.String(), nil
}

func withDatabase(serverURL, name string) string {
	u, _ := url.Parse(serverURL) // checked when the server was acquired
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// admin runs one statement on a short-lived connection: no pool, so no
// background goroutines for leak checkers to trip over.
func admin(serverURL, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Outage takes the test database named away as an outage of the server
// would: new connections are refused and the open ones (a pool's) are
// terminated. It returns the function that brings the database back,
// which also runs at cleanup; either call after the first does nothing.
func Outage(t testing.TB, database string) (restore func()) {
	t.Helper()
	url := ServerURL()
	name := pgx.Identifier{database}.Sanitize()
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := admin(url, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
				t.Errorf("bring %s back: %v", database, err)
			}
		})
	}
	t.Cleanup(restore)
	if err := admin(url, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatalf("take %s away: %v", database, err)
	}
	if err := admin(url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, database); err != nil {
		t.Fatalf("end the connections to %s: %v", database, err)
	}
	return restore
}
