package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Files in DataDir that say who runs the server.
const (
	// ownerFileName records the process that started the running server:
	// its pid, its start time (to tell a reused pid) and the postmaster's
	// pid, one a line. Written by Start once the server is ready, removed
	// by Stop.
	ownerFileName = "owner.pid"
	// startLockName is flocked while a Start runs, so that two Starts on
	// one DataDir never initdb, judge the server or launch at once.
	startLockName = "start.lock"
)

// InUseError is returned by Start when a server runs on the data directory
// for a process that is still alive: starting another would mean stopping
// the one that process relies on.
type InUseError struct {
	// Pid is the live process that started the server.
	Pid int
	// DataDir is the data directory, absolute.
	DataDir string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("another hookd (pid %d) is running the database in %s; stop it, or use a different database.data_dir", e.Pid, e.DataDir)
}

// owner is what owner.pid says.
type owner struct {
	pid        int
	start      string // the process's start time in clock ticks since boot; "" when unknown
	postmaster int    // 0 when unknown
}

// currentOwner describes this process as the owner of postmaster.
func currentOwner(postmaster int) owner {
	return owner{pid: os.Getpid(), start: procStart(os.Getpid()), postmaster: postmaster}
}

// procStart returns the start time of pid from /proc (field 22 of stat),
// or "" without procfs.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// Fields after the parenthesised command name, which may hold spaces:
	// state is field 3, so start time (field 22) is index 19 here.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// alive reports whether the owner process still runs: its pid is alive
// and, when the start time was recorded, is the same process.
func (o owner) alive() bool {
	if !alive(o.pid) {
		return false
	}
	if o.start == "" {
		return true
	}
	now := procStart(o.pid)
	return now == "" || now == o.start
}

// readOwner reads dataDir/owner.pid; ok is false when there is none.
func readOwner(dataDir string) (o owner, ok bool, err error) {
	path := filepath.Join(dataDir, ownerFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return owner{}, false, nil
	}
	if err != nil {
		return owner{}, false, err
	}
	lines := strings.Split(string(b), "\n")
	if o.pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil || o.pid <= 0 {
		return owner{}, false, fmt.Errorf("%s: first line must be a pid, not %q: remove the file if no hookd runs on %s", path, lines[0], dataDir)
	}
	if len(lines) > 1 {
		o.start = strings.TrimSpace(lines[1])
	}
	if len(lines) > 2 {
		o.postmaster, _ = strconv.Atoi(strings.TrimSpace(lines[2]))
	}
	return o, true, nil
}

// writeOwner replaces dataDir/owner.pid with o, atomically.
func writeOwner(dataDir string, o owner) error {
	path := filepath.Join(dataDir, ownerFileName)
	tmp := path + ".tmp"
	body := fmt.Sprintf("%d\n%s\n%d\n", o.pid, o.start, o.postmaster)
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return fmt.Errorf("record the server's owner: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("record the server's owner: %w", err)
	}
	return nil
}

// removeOwner removes dataDir/owner.pid when it still names o: a later
// Start (even in this process) may have replaced it.
func removeOwner(dataDir string, o owner) error {
	cur, ok, err := readOwner(dataDir)
	if err != nil || !ok || cur.pid != o.pid || cur.postmaster != o.postmaster {
		return err
	}
	if err := os.Remove(filepath.Join(dataDir, ownerFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// liveOwner returns the live process that owns the server postmaster on
// dataDir, if any. An owner.pid that names another postmaster is about
// an earlier server and says nothing about this one.
func liveOwner(dataDir string, postmaster int) (owner, bool, error) {
	o, ok, err := readOwner(dataDir)
	if err != nil || !ok {
		return owner{}, false, err
	}
	if o.postmaster != 0 && o.postmaster != postmaster {
		return owner{}, false, nil
	}
	return o, o.alive(), nil
}

// lockStart takes the start lock of dataDir, waiting while another Start
// holds it, until ctx ends. The returned func releases it.
func lockStart(ctx context.Context, dataDir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dataDir, startLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the start lock: %w", err)
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("another start on %s is under way: %w", dataDir, ctx.Err())
		case <-tick.C:
		}
	}
}
