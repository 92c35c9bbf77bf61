package pgembed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/testkit"
)

// TestLifecycle walks one data directory through everything a hookd run
// meets: first start, restart with data kept, a server left running by a
// dead hookd, a crash leaving postmaster.pid behind, and Attach.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := Options{DataDir: openDir(t), Logger: testLogger(t)}

	c := start(t, opts)
	if pgid, err := syscall.Getpgid(c.pid); err != nil || pgid == syscall.Getpgrp() {
		t.Errorf("postgres shares the caller's process group (pgid %d, %v): a Ctrl-C would reach it", pgid, err)
	}
	checkServerUser(t, c.pid)
	for _, name := range []string{"password", "postgres.log"} {
		if fi, err := os.Stat(filepath.Join(opts.DataDir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}
	exec1(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
	stopAndCheckGone(t, c)
	if err := c.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// Restart: no initdb, data kept.
	c = start(t, opts)
	checkKept(t, c)

	// While its owner (this process) lives, a second Start is refused and
	// the first server keeps serving.
	_, err := Start(ctx, opts)
	var inUse *InUseError
	want := "another hookd (pid " + strconv.Itoa(os.Getpid()) + ") is running the database in " + opts.DataDir +
		"; stop it, or use a different database.data_dir"
	if !errors.As(err, &inUse) || err.Error() != want {
		t.Fatalf("second Start while the owner lives: err = %v, want %q", err, want)
	}
	checkKept(t, c)
	if isClosed(c.exited) {
		t.Fatal("the refused Start stopped the running server")
	}
	if a, err := Attach(opts); err != nil || a.OwnerPID() != os.Getpid() {
		t.Errorf("Attach: OwnerPID %v, %v; want this process, %d", a, err, os.Getpid())
	}

	// A server whose hookd died is stopped by the next Start.
	if err := writeOwner(opts.DataDir, owner{pid: deadPid(t), postmaster: c.pid}); err != nil {
		t.Fatal(err)
	}
	if a, err := Attach(opts); err != nil || a.OwnerPID() != 0 {
		t.Errorf("Attach with a dead owner: %v, %v; want OwnerPID 0", a, err)
	}
	c2 := start(t, opts)
	testkit.Eventually(t, "the condition", func() bool { return isClosed(c.exited) })
	if err := c.Stop(ctx); err != nil {
		t.Errorf("Stop of the replaced server: %v", err)
	}
	if o, ok, err := readOwner(opts.DataDir); err != nil || !ok || o.pid != os.Getpid() || o.postmaster != c2.pid {
		t.Errorf("owner.pid after the takeover: %+v, %v, %v; want this process and postmaster %d", o, ok, err, c2.pid)
	}
	checkKept(t, c2)

	// A crash: the whole server killed, postmaster.pid left behind.
	if err := killGroup(c2.pid, c2.exited); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the condition", func() bool { return groupGone(c2.pid) })
	if _, err := os.Stat(filepath.Join(opts.DataDir, "pgdata", "postmaster.pid")); err != nil {
		t.Fatalf("crash left no postmaster.pid to test with: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	fixed := opts
	fixed.Port = port
	c3 := start(t, fixed)
	if !strings.Contains(c3.URL("x"), "@127.0.0.1:"+strconv.Itoa(port)+"/x?") {
		t.Errorf("URL %s does not use port %d", c3.URL("x"), port)
	}
	checkKept(t, c3)

	// Attach finds the running server and can stop it.
	a, err := Attach(opts)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if a.URL("postgres") != c3.URL("postgres") {
		t.Errorf("Attach URL %s, want %s", a.URL("postgres"), c3.URL("postgres"))
	}
	checkKept(t, a)
	stopAndCheckGone(t, a)
	testkit.Eventually(t, "the condition", func() bool { return isClosed(c3.exited) })
	if err := c3.Stop(ctx); err != nil {
		t.Errorf("Stop of a server stopped through Attach: %v", err)
	}
	if _, ok, _ := readOwner(opts.DataDir); ok {
		t.Error("owner.pid left behind after Stop")
	}
	if _, err := Attach(opts); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Attach after stop: err = %v, want ErrNotRunning", err)
	}
}

// Two Starts racing on one new data directory: one starts the server,
// the other waits for it and is then refused, leaving it running.
func TestConcurrentStarts(t *testing.T) {
	t.Parallel()
	opts := Options{DataDir: openDir(t), Logger: testLogger(t)}
	type result struct {
		c   *Cluster
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := Start(ctx, opts)
			results <- result{c, err}
		}()
	}
	var started []*Cluster
	var refused []error
	for range 2 {
		r := <-results
		if r.err == nil {
			started = append(started, r.c)
			t.Cleanup(func() { _ = r.c.Stop(context.Background()) })
			continue
		}
		refused = append(refused, r.err)
	}
	var inUse *InUseError
	if len(started) != 1 || len(refused) != 1 || !errors.As(refused[0], &inUse) {
		t.Fatalf("started %d, refused %v; want one of each, refused with InUseError", len(started), refused)
	}
	exec1(t, started[0], "SELECT 1")
	stopAndCheckGone(t, started[0])
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

const helperEnv = "HOOKD_PGEMBED_HELPER_DIR"

// TestNonRoot runs a server as an unprivileged user. As root it re-runs
// this test binary as nobody, which then runs the server as itself.
func TestNonRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		nonRootLifecycle(t, openDir(t))
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs the nobody user when run as root: %v", err)
	}
	who, err := fromUser(nobody)
	if err != nil {
		t.Fatal(err)
	}
	dir := openDir(t)
	bin := filepath.Join(dir, "pgembed.test")
	testkit.CopyTestBinary(t, bin)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, who.uid, who.gid); err != nil {
		t.Fatal(err)
	}
	var out []byte
	// A fork elsewhere in this process may briefly hold the copy's write
	// descriptor, which makes exec fail with ETXTBSY; that passes.
	testkit.Eventually(t, "the condition", func() bool {
		cmd := exec.Command(bin, "-test.run=^TestNonRootHelperProcess$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+data)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(who.uid), Gid: uint32(who.gid)}}
		out, err = cmd.CombinedOutput()
		return !errors.Is(err, syscall.ETXTBSY)
	})
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestNonRootHelperProcess")) || !bytes.Contains(out, []byte("server ready")) {
		t.Fatalf("run as nobody: %v\n%s", err, out)
	}
}

// TestNonRootHelperProcess is the body of TestNonRoot in the child process;
// run directly it has nothing to do.
func TestNonRootHelperProcess(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		nonRootLifecycle(t, dir)
	}
}

func nonRootLifecycle(t *testing.T, dir string) {
	if os.Geteuid() == 0 {
		t.Fatal("must not run as root")
	}
	opts := Options{DataDir: dir, Logger: testLogger(t)}
	c := start(t, opts)
	checkServerUser(t, c.pid)
	exec1(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
	stopAndCheckGone(t, c)
	c = start(t, opts)
	checkKept(t, c)
	stopAndCheckGone(t, c)
}

func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func stopAndCheckGone(t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(c.pid) {
		t.Fatalf("postmaster %d still running after Stop", c.pid)
	}
	if !groupGone(c.pid) {
		t.Fatalf("processes of postmaster %d still running after Stop", c.pid)
	}
}

// checkServerUser asserts the postmaster runs as the account chooseUser
// picks: never root.
func checkServerUser(t *testing.T, pid int) {
	t.Helper()
	want, err := chooseUser(os.Geteuid(), user.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[0] == "Uid:" {
			if fields[1] != strconv.Itoa(want.uid) || fields[1] == "0" {
				t.Errorf("postgres runs as uid %s, want %d (%s)", fields[1], want.uid, want.name)
			}
			return
		}
	}
	t.Errorf("no Uid line for pid %d", pid)
}

func exec1(t *testing.T, c *Cluster, sql string) {
	t.Helper()
	conn := connect(t, c)
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func checkKept(t *testing.T, c *Cluster) {
	t.Helper()
	var v string
	if err := connect(t, c).QueryRow(context.Background(), "SELECT v FROM kept").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("kept row: %q, %v", v, err)
	}
}

func connect(t *testing.T, c *Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL("postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// groupGone reports whether no live process remains in process group pgid.
func groupGone(pgid int) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid && alive(pid) {
			return false
		}
	}
	return true
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
