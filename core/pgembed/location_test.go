package pgembed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hookd/hookd/core/testkit"
)

// TestClosedParent is a fresh checkout in a directory only its owner may
// enter (root's home, say): as root the server's account cannot reach
// DataDir, so the cluster lives elsewhere, and everything still works
// across restarts and from Attach.
func TestClosedParent(t *testing.T) {
	t.Parallel()
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(closed, "checkout", ".hookd", "demo")
	opts := Options{DataDir: dataDir, Logger: testLogger(t)}
	t.Cleanup(func() { removeRelocated(t, dataDir) }) // after the Stop cleanups

	c := start(t, opts)
	relocated := os.Geteuid() == 0
	if got := c.pgdata != filepath.Join(dataDir, "pgdata"); got != relocated {
		t.Errorf("cluster in %s; relocated = %v, want %v", c.pgdata, got, relocated)
	}
	if relocated {
		checkRecord(t, dataDir, c.pgdata)
	}
	if fi, err := os.Stat(closed); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, %v; hookd must not change it", closed, fi.Mode().Perm(), err)
	}
	checkServerUser(t, c.pid)
	exec1(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
	a, err := Attach(opts)
	if err != nil || a.URL("postgres") != c.URL("postgres") {
		t.Fatalf("Attach while running: %v", err)
	}
	checkKept(t, a)
	stopAndCheckGone(t, c)

	c = start(t, opts)
	if c.pgdata != a.pgdata {
		t.Errorf("restart used %s, first start %s", c.pgdata, a.pgdata)
	}
	checkKept(t, c)
	a, err = Attach(opts)
	if err != nil {
		t.Fatalf("Attach after restart: %v", err)
	}
	stopAndCheckGone(t, a)
	testkit.Eventually(t, "the condition", func() bool { return isClosed(c.exited) })
	if _, err := Attach(opts); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Attach after stop: err = %v, want ErrNotRunning", err)
	}
}

func checkRecord(t *testing.T, dataDir, pgdata string) {
	t.Helper()
	if got, err := PgdataDir(dataDir); err != nil || got != pgdata {
		t.Errorf("PgdataDir = %q, %v; want %q", got, err, pgdata)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "password")); err != nil {
		t.Errorf("password not kept in DataDir: %v", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(pgdata, &st); err != nil || st.Uid == 0 {
		t.Errorf("pgdata %s: uid %d, %v; want the server's account", pgdata, st.Uid, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(pgdata), "initdb-password")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("initdb-password left behind: %v", err)
	}
}

// removeRelocated removes the cluster a test put outside its DataDir.
func removeRelocated(t *testing.T, dataDir string) {
	pgdata, err := PgdataDir(dataDir)
	if err != nil {
		t.Error(err)
		return
	}
	if !strings.HasPrefix(pgdata, dataDir+string(filepath.Separator)) {
		if err := os.RemoveAll(filepath.Dir(pgdata)); err != nil {
			t.Error(err)
		}
	}
}

func TestRelocate(t *testing.T) {
	t.Parallel()
	other := otherUser()
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	open := openDir(t)
	planted := filepath.Join(open, "planted")
	if err := os.Symlink(open, planted); err != nil {
		t.Fatal(err)
	}
	s := &setup{log: testLogger(t), dataDir: filepath.Join(closed, "data"), user: other}
	if err := os.Mkdir(s.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}

	homes := []clusterHome{{closed, "hookd/clusters"}, {open, "planted/x"}, {open, "hookd/clusters"}}
	if err := s.relocate(errors.New("DataDir unreachable"), homes); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.pgdata, filepath.Join(open, "hookd", "clusters")+"/") || filepath.Base(s.pgdata) != "pgdata" {
		t.Errorf("pgdata = %s, want one under the third home", s.pgdata)
	}
	for d := filepath.Dir(s.pgdata); d != open; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("%s: mode %v, %v; want 0711", d, fi.Mode().Perm(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(closed, "hookd")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unreachable home got directories: %v", err)
	}
	if got, err := PgdataDir(s.dataDir); err != nil || got != s.pgdata {
		t.Errorf("PgdataDir = %q, %v; want the recorded %q", got, err, s.pgdata)
	}
	first := s.pgdata
	if err := s.relocate(errors.New("again"), homes); err != nil || s.pgdata != first {
		t.Errorf("second relocate: %s, %v; want the same %s", s.pgdata, err, first)
	}

	err := s.relocate(errors.New("DataDir unreachable"), homes[:2])
	for _, want := range []string{"DataDir unreachable", closed + " is not searchable", planted + " is not a directory owned"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no home works: err = %v, want it to mention %q", err, want)
		}
	}
}

// TestPlaceInPlace: parents that hookd creates itself are searchable, so
// a DataDir under a reachable directory keeps its cluster in place.
func TestPlaceInPlace(t *testing.T) {
	t.Parallel()
	other := otherUser()
	open := openDir(t)
	s := &setup{log: testLogger(t), dataDir: filepath.Join(open, "checkout", ".hookd", "demo"), user: other}
	if err := s.placePgdata(); err != nil {
		t.Fatal(err)
	}
	if s.pgdata != filepath.Join(s.dataDir, "pgdata") {
		t.Errorf("pgdata = %s, want it in DataDir", s.pgdata)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, locationFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s written for a cluster in place: %v", locationFile, err)
	}

	// A record of a cluster that is gone is dropped, so Attach does not
	// look there.
	gone := filepath.Join(t.TempDir(), "gone", "pgdata")
	if err := os.WriteFile(filepath.Join(s.dataDir, locationFile), []byte(gone+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.placePgdata(); err != nil || s.pgdata != filepath.Join(s.dataDir, "pgdata") {
		t.Errorf("stale record: pgdata = %s, %v; want it in DataDir", s.pgdata, err)
	}
	if got, err := PgdataDir(s.dataDir); err != nil || got != s.pgdata {
		t.Errorf("PgdataDir after a stale record = %q, %v; want %q", got, err, s.pgdata)
	}
}

func TestBadRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, locationFile), []byte("relative/pgdata\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Attach(Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "must hold the absolute path") {
		t.Errorf("err = %v, want one asking for an absolute path", err)
	}
	_, err = Start(context.Background(), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), locationFile) {
		t.Errorf("Start: err = %v, want one naming %s", err, locationFile)
	}
}

// otherUser is an account other than the current one, as the server's
// account is for root.
func otherUser() runAs {
	uid := 65534
	if os.Geteuid() == uid {
		uid--
	}
	return runAs{name: "other", uid: uid, gid: uid, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
}
