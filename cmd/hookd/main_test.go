package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/testkit"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// result is what one in-process hookd invocation printed.
type result struct {
	code        int
	out, errOut string
}

// noEnv is an empty environment, so the tests ignore the machine's.
func noEnv(string) (string, bool) { return "", false }

// hookd runs the command line args in-process with env.
func hookdEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut testkit.SyncBuffer
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
