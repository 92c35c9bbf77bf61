package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/testkit"
)

// startEmbeddedServe runs `hookd serve` on its own PostgreSQL in dataDir.
func startEmbeddedServe(t *testing.T, bin, dataDir string) *proc {
	t.Helper()
	p := launch(t, bin, []string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"},
		[]string{"HOOKD_LOG_FORMAT=text", "HOOKD_LOG_LEVEL=info"})
	testkit.EventuallyWithin(t, 2*time.Minute, "hookd serve to serve", func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("hookd serve exited: %v\n%s", err, p.logs.String())
		default:
		}
		return strings.Contains(p.logs.String(), "hookd serving")
	})
	return p
}

// postmasterPid reads the pid of the server running on dataDir.
func postmasterPid(t *testing.T, dataDir string) int {
	t.Helper()
	pgdata, err := pgembed.PgdataDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// processAlive reports whether pid runs (a zombie does not).
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// testKill9EmbeddedTakeover: `hookd serve` on its own PostgreSQL is
// killed with SIGKILL, which leaves PostgreSQL running; the next `hookd
// serve` on that data directory takes it over (it is recorded as the
// owner) and stops it when it stops, so nothing is left running.
func testKill9EmbeddedTakeover(t *testing.T, bin string) {
	dataDir := filepath.Join(demoDir(t), "data")
	first := startEmbeddedServe(t, bin, dataDir)
	pm := postmasterPid(t, dataDir)
	t.Cleanup(func() { _ = syscall.Kill(-pm, syscall.SIGKILL); _ = syscall.Kill(pm, syscall.SIGKILL) })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.wait(t)
	if !processAlive(pm) {
		t.Fatal("PostgreSQL died with the killed hookd; the test proves nothing")
	}

	second := startEmbeddedServe(t, bin, dataDir)
	if got := postmasterPid(t, dataDir); got != pm {
		t.Fatalf("the second hookd runs postmaster %d, want the orphan %d taken over", got, pm)
	}
	owner, err := os.ReadFile(filepath.Join(dataDir, "owner.pid"))
	if err != nil || strings.SplitN(string(owner), "\n", 2)[0] != strconv.Itoa(second.cmd.Process.Pid) {
		t.Fatalf("owner.pid %q (%v), want the second hookd's pid %d", owner, err, second.cmd.Process.Pid)
	}
	// A command on the same directory finds the database there and uses
	// its server, with the key serve generated in dataDir. (A process of
	// its own: in this one it would install that key for every test.)
	if ls := launch(t, bin, []string{"endpoints", "ls", "--data-dir", dataDir}, nil); ls.wait(t) != nil {
		t.Fatalf("endpoints ls next to the running serve failed:\n%s", ls.logs.String())
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(t); err != nil {
		t.Fatalf("the second hookd exited with %v", err)
	}
	testkit.EventuallyWithin(t, time.Minute, "PostgreSQL to stop with the hookd that took it over", func() bool { return !processAlive(pm) })
}
