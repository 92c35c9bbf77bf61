package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// result is what one in-process hookd invocation printed.
type result struct {
	code        int
	out, errOut string
}

// syncBuffer is a bytes.Buffer safe for a server's goroutines to write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noEnv is an empty environment, so the tests ignore the machine's.
func noEnv(string) (string, bool) { return "", false }

// hookd runs the command line args in-process with env.
func hookdEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, lookup)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// hookd runs args against the database at dbURL, with no environment.
func hookd(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	return hookdEnv(t, nil, append([]string{"--database-url", dbURL, "--log-level", "warn"}, args...)...)
}

// mustHookd is hookd that fails the test on a non-zero exit.
func mustHookd(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	r := hookd(t, dbURL, args...)
	if r.code != 0 {
		t.Fatalf("hookd %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r.out
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
