package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/testkit"
)

// startServe runs `hookd serve` in-process and returns its address and a
// function that cancels it and returns its exit code.
func startServe(t *testing.T, env map[string]string, args ...string) (addr string, stop func() result) {
	t.Helper()
	var out, errOut testkit.SyncBuffer
	lookup := testEnv(env)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	c := &cli{stdio: stdio{in: strings.NewReader(""), out: &out, err: &errOut}, env: lookup,
		serverStarted: func(s *app.Server) { addrs <- s.Addr() }}
	done := make(chan int, 1)
	go func() { done <- c.execute(ctx, append(args, "serve")) }()
	select {
	case addr = <-addrs:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d before listening: %s", code, errOut.String())
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatalf("serve did not start: %s", errOut.String())
	}
	var once bool
	var res result
	stop = func() result {
		if !once {
			once = true
			cancel()
			res = result{code: <-done, out: out.String(), errOut: errOut.String()}
		}
		return res
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeAnswersHealthAndShutsDown(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	addr, stop := startServe(t, nil, "--database-url", dbURL, "--listen", "127.0.0.1:0")
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, "http://"+addr+path); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, code, body)
		}
	}
	if r := stop(); r.code != 0 {
		t.Errorf("serve exit %d after cancel: %s", r.code, r.errOut)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// Environment overrides the file: the file says one port, HOOKD_HTTP_LISTEN another.
func TestServeEnvOverridesFile(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	yaml := "database:\n  url: " + dbURL + "\nhttp:\n  listen: 127.0.0.1:1\nlog:\n  level: warn\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := startServe(t, map[string]string{"HOOKD_HTTP_LISTEN": "127.0.0.1:0"}, "--config", file)
	if strings.HasSuffix(addr, ":1") {
		t.Fatalf("listening on %s: the file's value won over HOOKD_HTTP_LISTEN", addr)
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
}

// Bare hookd off a terminal prints help instead of starting an engine.
func TestBareHookdOffTerminalPrintsHelp(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, nil)
	if r.code != 0 || !strings.Contains(r.out, "Usage:") || !strings.Contains(r.out, "serve") {
		t.Fatalf("bare hookd: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
	}
}

func TestServeReadOnlyNeedsConsole(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, nil, "serve", "--read-only", "--database-url", "postgres://127.0.0.1:1/none")
	if r.code == 0 || !strings.Contains(r.errOut, "--read-only applies to the console") {
		t.Fatalf("serve --read-only: exit %d\nstderr: %s", r.code, r.errOut)
	}
}
