package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/pgembed"
)

// sharedSettings trade durability for speed: a test server's data may be
// lost in a machine crash (acquireShared then rebuilds it).
var sharedSettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "300", // many test processes with pools at once
}

// sharedDir is where the shared server lives: one per user, so that users
// never fight over permissions.
func sharedDir() string {
	return filepath.Join(os.TempDir(), "hookd-test-"+strconv.Itoa(os.Getuid()))
}

// registry is the shared server's lock and list of users. Every operation
// on it happens under an exclusive flock on dir/lock.
type registry struct {
	dir  string
	lock *os.File
}

func openRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(filepath.Join(dir, "users"), 0o700); err != nil {
		return nil, err
	}
	// Refuse a directory someone else planted in the shared temp dir.
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return nil, err
	}
	if int(st.Uid) != os.Getuid() {
		return nil, fmt.Errorf("%s belongs to uid %d, not to this user (%d): remove it", dir, st.Uid, os.Getuid())
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &registry{dir: dir, lock: f}, nil
}

// locked runs fn holding the lock; the other test processes wait.
func (r *registry) locked(fn func() error) error {
	if err := syscall.Flock(int(r.lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", r.lock.Name(), err)
	}
	defer syscall.Flock(int(r.lock.Fd()), syscall.LOCK_UN)
	return fn()
}

// users lists the registered pids, forgetting those of processes that
// died (a crashed or killed test binary must not keep the server forever).
func (r *registry) users() ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, "users"))
	if err != nil {
		return nil, err
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && alive(pid) {
			live = append(live, pid)
			continue
		}
		_ = os.Remove(filepath.Join(r.dir, "users", e.Name()))
	}
	return live, nil
}

func (r *registry) userFile() string {
	return filepath.Join(r.dir, "users", strconv.Itoa(os.Getpid()))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// acquireShared joins the user's shared server, starting it if no other
// process has, and returns its administrative URL and the release func.
func acquireShared() (string, func(), error) {
	reg, err := openRegistry(sharedDir())
	if err != nil {
		return "", nil, fmt.Errorf("dbtest: shared server directory: %w", err)
	}
	opts := pgembed.Options{DataDir: reg.dir, Settings: sharedSettings}
	var c *pgembed.Cluster
	err = reg.locked(func() error {
		if _, err := reg.users(); err != nil {
			return err
		}
		if c, err = pgembed.Attach(opts); errors.Is(err, pgembed.ErrNotRunning) {
			c, err = startShared(opts)
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(reg.userFile(), nil, 0o600); err != nil {
			return err
		}
		return dropOrphans(c.URL("postgres"))
	})
	if err != nil {
		reg.lock.Close()
		return "", nil, fmt.Errorf("dbtest: shared test server in %s: %w", reg.dir, err)
	}
	release := func() {
		err := reg.locked(func() error {
			_ = os.Remove(reg.userFile())
			left, err := reg.users()
			if err != nil || len(left) > 0 {
				return err
			}
			return c.Stop(context.Background())
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: release shared test server: %v\n", err)
		}
		reg.lock.Close()
	}
	return c.URL("postgres"), release, nil
}

// startShared starts the server; when an existing data directory fails
// to start (it runs with fsync off, so a machine crash may have broken
// it), it is rebuilt once. Only called under the lock with no server
// running, so nobody else is using the data.
func startShared(opts pgembed.Options) (*pgembed.Cluster, error) {
	ctx := context.Background()
	c, err := pgembed.Start(ctx, opts)
	var inUse *pgembed.InUseError
	if err == nil || errors.Is(err, pgembed.ErrNoBinaries) || errors.As(err, &inUse) {
		// In use: a live test process runs the server (perhaps restarting
		// after a crash); never rebuild its data under it.
		return c, err
	}
	fmt.Fprintf(os.Stderr, "dbtest: the shared test server did not start (%v); rebuilding it\n", err)
	if err := os.RemoveAll(filepath.Join(opts.DataDir, "pgdata")); err != nil {
		return nil, err
	}
	return pgembed.Start(ctx, opts)
}

// dropOrphans drops the databases of test processes that died before
// their cleanups ran.
func dropOrphans(serverURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", dbPrefix)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, name := range names {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, dbPrefix), "_")
		if pid, err := strconv.Atoi(pidStr); err == nil && alive(pid) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	return nil
}
