package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/testkit"
)

const (
	helperEnv  = "HOOKD_DBTEST_HELPER_BARRIER" // directory where helpers meet
	crashEnv   = "HOOKD_DBTEST_HELPER_CRASH"   // the helper exits without releasing
	helpers    = 3
	crashCode  = 3
	serverLine = "SERVER "
)

// TestSharedAcrossProcesses runs three test processes on a fresh temp dir
// (as nobody when root, so the unprivileged path is covered too). They
// must share one server; one dies without releasing; the last live one
// must still stop the server.
func TestSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	dir := openDir(t)
	bin := filepath.Join(dir, "dbtest.test")
	testkit.CopyTestBinary(t, bin)
	tmp, barrier := filepath.Join(dir, "tmp"), filepath.Join(dir, "barrier")
	cred := prepareDirs(t, tmp, barrier)

	outs := make([]string, helpers)
	errs := make([]error, helpers)
	var wg sync.WaitGroup
	for i := range helpers {
		wg.Go(func() {
			env := []string{"TMPDIR=" + tmp, helperEnv + "=" + barrier}
			if i == 0 {
				env = append(env, crashEnv+"=1")
			}
			outs[i], errs[i] = runHelper(bin, cred, env)
		})
	}
	wg.Wait()

	servers := map[string]bool{}
	for i := range helpers {
		var exit *exec.ExitError
		t.Logf("helper %d: %v\n%s", i, errs[i], outs[i])
		crashed := i == 0 && errors.As(errs[i], &exit) && exit.ExitCode() == crashCode
		if errs[i] != nil && !crashed {
			t.Fatalf("helper %d: %v\n%s", i, errs[i], outs[i])
		}
		for line := range strings.Lines(outs[i]) {
			if s, ok := strings.CutPrefix(line, serverLine); ok {
				servers[strings.TrimSpace(s)] = true
			}
		}
	}
	if len(servers) != 1 {
		t.Errorf("helpers used servers %v, want one shared server", servers)
	}
	uid := os.Getuid()
	if cred != nil {
		uid = int(cred.Uid)
	}
	shared := filepath.Join(tmp, "hookd-test-"+strconv.Itoa(uid))
	if _, err := os.Stat(filepath.Join(shared, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server still running after the last user left (postmaster.pid: %v)\n%s", err, outs)
	}
}

// TestSharedHelperProcess is a helper of TestSharedAcrossProcesses; run
// directly it has nothing to do.
func TestSharedHelperProcess(t *testing.T) {
	barrier := os.Getenv(helperEnv)
	if barrier == "" {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if err := os.WriteFile(filepath.Join(barrier, strconv.Itoa(os.Getpid())), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Hold the server until every helper has it, so they overlap.
	testkit.Eventually(t, "the condition", func() bool {
		entries, _ := os.ReadDir(barrier)
		return len(entries) >= helpers
	})
	u, _ := url.Parse(ServerURL())
	fmt.Println(serverLine + u.Host)
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashCode)
	}
}

// prepareDirs creates the helpers' temp and barrier directories, owned by
// nobody when running as root; it returns the helpers' credential.
func prepareDirs(t *testing.T, dirs ...string) *syscall.Credential {
	t.Helper()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("this test needs the nobody user when run as root: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return cred
}

// runHelper runs the helper test in bin. It may run on any goroutine.
func runHelper(bin string, cred *syscall.Credential, env []string) (string, error) {
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(bin, "-test.run=^TestSharedHelperProcess$", "-test.v", "-test.count=1")
		cmd.Env = append(withoutEnv(os.Environ(), EnvURL), env...)
		cmd.Dir = filepath.Dir(bin)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		// A fork elsewhere in this process may briefly hold the copy's
		// write descriptor, which makes exec fail with ETXTBSY; that passes.
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 100 {
			return string(out), err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func withoutEnv(env []string, name string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// openDir returns a temporary directory any user can pass through.
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
