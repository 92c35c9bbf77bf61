package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/testkit"
)

// These tests run the real binary, as a newcomer would: built once per
// test into a temporary directory, with TMPDIR pointed at a directory of
// the test's own so that the --ephemeral PostgreSQL lives under it and
// the processes left behind, if any, can be found by their command line.

// buildHookd builds this command into dir and returns the binary's path.
func buildHookd(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hookd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// demoDir returns a directory removed after the test; it is searchable by
// everyone because, run as root, hookd's PostgreSQL runs as another user
// and must reach its data directory below it.
func demoDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hookd-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// demoCmd prepares `hookd demo args...` running in dir with TMPDIR=dir.
func demoCmd(ctx context.Context, bin, dir string, args ...string) (*exec.Cmd, *testkit.SyncBuffer, *testkit.SyncBuffer) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"demo"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	var out, errOut testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	return cmd, &out, &errOut
}

func TestDemoHeadlessSummary(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	bin := buildHookd(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, out, errOut := demoCmd(ctx, bin, dir, "--no-console", "--duration", "10s", "--ephemeral")
	if err := cmd.Run(); err != nil {
		t.Fatalf("hookd demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	t.Logf("hookd demo output:\n%s", out)

	if !regexp.MustCompile(`(?m)^  details:   /\S+/demo\.txt `).MatchString(out.String()) {
		t.Errorf("the banner does not name the demo's demo.txt:\n%s", out)
	}
	got := parseSummary(t, out.String())
	for _, k := range []string{"delivered", "disabled endpoints", "intake accepted", "intake duplicates", "intake rejected"} {
		if got[k] <= 0 {
			t.Errorf("final summary: %s = %d, want above zero", k, got[k])
		}
	}
	if got["retrying"]+got["dead"] <= 0 {
		t.Errorf("final summary: retrying %d + dead %d, want above zero", got["retrying"], got["dead"])
	}
	checkNothingLeft(t, dir, out.String())
}

// Ctrl-C (SIGINT) during the run stops everything and exits cleanly.
func TestDemoInterrupt(t *testing.T) {
	t.Parallel()
	dir := demoDir(t)
	bin := buildHookd(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, out, errOut := demoCmd(ctx, bin, dir, "--no-console", "--ephemeral", "--interval", "200ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the live line shows events, everything runs.
	testkit.Eventually(t, "the demo's first summary line", func() bool {
		return regexp.MustCompile(`events [1-9]`).MatchString(out.String())
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hookd demo after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out.String(), "final summary") {
		t.Errorf("no final summary after SIGINT:\n%s", out)
	}
	checkNothingLeft(t, dir, out.String())
}

func TestDemoRejectsBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--duration", "-1s"}, "--duration"},
		{[]string{"demo", "--rate", "0"}, "--rate"},
		{[]string{"demo", "--database-url", "postgres://x@127.0.0.1/x"}, "--database-url"},
		{[]string{"demo", "--listen", "bogus"}, `--listen "bogus": want host:port`},
		{[]string{"demo", "--listen", "127.0.0.1:http"}, `port "http" is not a number`},
	} {
		// Nothing may start before the flags are checked: the data
		// directory stays uncreated.
		dataDir := filepath.Join(t.TempDir(), "demo")
		r := hookdEnv(t, nil, append(tc.args, "--data-dir", dataDir)...)
		if r.code == 0 || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("hookd %s: exit %d, stderr %q; want a failure naming %s", strings.Join(tc.args, " "), r.code, r.errOut, tc.want)
		}
		if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("hookd %s created the data directory before rejecting its flags: %v", strings.Join(tc.args, " "), err)
		}
	}
}

// parseSummary reads the "  name:  N" lines after "final summary".
func parseSummary(t *testing.T, out string) map[string]int64 {
	t.Helper()
	_, after, ok := strings.Cut(out, "final summary")
	if !ok {
		t.Fatalf("no final summary in the output:\n%s", out)
	}
	line := regexp.MustCompile(`(?m)^\s+([a-z ]+):\s+(\d+)$`)
	got := map[string]int64{}
	for _, m := range line.FindAllStringSubmatch(after, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		got[m[1]] = n
	}
	if len(got) < 8 {
		t.Fatalf("final summary has %d counters, want at least 8:\n%s", len(got), after)
	}
	return got
}

// checkNothingLeft checks that no process runs from dir (the ephemeral
// PostgreSQL's data directory was under it), that the data directory is
// gone, and that every receiver's port refuses connections.
func checkNothingLeft(t *testing.T, dir, out string) {
	t.Helper()
	if procs := processesMentioning(t, dir); len(procs) > 0 {
		t.Errorf("processes left running from %s:\n%s", dir, strings.Join(procs, "\n"))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "hookd-demo-*")); len(left) > 0 {
		t.Errorf("the ephemeral data directory was not removed: %v", left)
	}
	// The receivers listen in the demo's own process, so with no process
	// left their ports are closed. Dialling them proved nothing more and
	// failed when another test's listener had been given a freed port.
	if urls := receiverURLs(out); len(urls) != 7 {
		t.Fatalf("found %d receiver URLs in the output, want 7:\n%s", len(urls), out)
	}
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		if cmdline := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmdline, s) {
			found = append(found, e.Name()+": "+cmdline)
		}
	}
	return found
}

// receiverURLs reads the receivers listed in the demo's banner.
func receiverURLs(out string) []string {
	var urls []string
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  receivers:"):
			in = true
		case in && strings.HasPrefix(line, "    "):
			if f := strings.Fields(line); len(f) == 2 {
				urls = append(urls, f[1])
			}
		default:
			in = false
		}
	}
	return urls
}
