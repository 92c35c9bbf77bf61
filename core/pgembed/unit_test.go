package pgembed

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinariesMissing(t *testing.T) {
	t.Parallel()
	_, err := findBinaries("", filepath.Join(t.TempDir(), "*", "bin"))
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "13 or newer", "database.url", "HOOKD_DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestFindBinariesOrder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fake := func(dir string) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range requiredBinaries {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	fake(filepath.Join(root, "lib", "9.6", "bin"))
	v16 := fake(filepath.Join(root, "lib", "16", "bin"))
	fake(filepath.Join(root, "lib", "13", "bin"))
	glob := filepath.Join(root, "lib", "*", "bin")

	if got, err := findBinaries(filepath.Join(root, "empty"), glob); err != nil || got != v16 {
		t.Errorf("highest version: got %q, %v; want %q", got, err, v16)
	}
	onPath := fake(filepath.Join(root, "path"))
	if got, err := findBinaries(filepath.Join(root, "empty")+":"+onPath, glob); err != nil || got != onPath {
		t.Errorf("PATH first: got %q, %v; want %q", got, err, onPath)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Start(ctx, Options{}); err == nil || !strings.Contains(err.Error(), "DataDir is required") {
		t.Errorf("no DataDir: err = %v", err)
	}
	_, err := Start(ctx, Options{DataDir: t.TempDir(), BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), "BinDir") {
		t.Errorf("empty BinDir: err = %v, want ErrNoBinaries naming BinDir", err)
	}
	_, err = Start(ctx, Options{DataDir: t.TempDir(), Settings: map[string]string{"fsync; drop": "off"}})
	if err == nil || !strings.Contains(err.Error(), `setting name "fsync; drop" is invalid`) {
		t.Errorf("bad setting: err = %v", err)
	}
}

func TestChooseUser(t *testing.T) {
	t.Parallel()
	users := map[string]*user.User{
		"postgres": {Username: "postgres", Uid: "101", Gid: "104"},
		"nobody":   {Username: "nobody", Uid: "65534", Gid: "65534"},
	}
	lookup := func(drop string) lookupFunc {
		return func(name string) (*user.User, error) {
			if u, ok := users[name]; ok && name != drop {
				return u, nil
			}
			return nil, user.UnknownUserError(name)
		}
	}
	r, err := chooseUser(0, lookup(""))
	if err != nil || r.name != "postgres" || r.cred == nil || r.cred.Uid != 101 || r.cred.Gid != 104 {
		t.Errorf("root with postgres: got %+v, %v", r, err)
	}
	r, err = chooseUser(0, lookup("postgres"))
	if err != nil || r.name != "nobody" || r.cred == nil || r.cred.Uid != 65534 {
		t.Errorf("root without postgres: got %+v, %v", r, err)
	}
	_, err = chooseUser(0, func(name string) (*user.User, error) { return nil, user.UnknownUserError(name) })
	if err == nil || !strings.Contains(err.Error(), "refuses root") {
		t.Errorf("root without either: err = %v", err)
	}
	r, err = chooseUser(1000, lookup(""))
	if err != nil || r.cred != nil || r.uid != 1000 {
		t.Errorf("non-root: got %+v, %v; want current user, no credential", r, err)
	}
}

func TestCheckReachable(t *testing.T) {
	t.Parallel()
	r := otherUser()
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	err := r.checkReachable(filepath.Join(closed, "pgdata"))
	if err == nil || !strings.Contains(err.Error(), closed+" is not searchable") {
		t.Errorf("err = %v, want one naming %s", err, closed)
	}
	if err := os.Chmod(closed, 0o711); err != nil {
		t.Fatal(err)
	}
	open := openDir(t)
	if err := r.checkReachable(filepath.Join(open, "pgdata")); err != nil {
		t.Errorf("searchable path: %v", err)
	}
}

// openDir returns a temporary directory that any user can pass through,
// as the server's account needs when the tests run as root.
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
