package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/secrets/secretstest"
	"github.com/hookd/hookd/core/testkit"
)

// TestMain installs the tests' secrets key, which every in-process and
// child hookd of these tests is configured with too (testEnv), so that a
// test seals and opens what they do.
func TestMain(m *testing.M) {
	secretstest.Install()
	dbtest.Main(m)
}

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
	lookup := testEnv(env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, stdio{in: strings.NewReader(""), out: &out, err: &errOut}, lookup)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// testEnv looks variables up in env, and gives HOOKD_SECRETS_KEY the
// tests' key unless env sets it or HOOKD_SECRETS_KEY_FILE.
func testEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		if _, file := env["HOOKD_SECRETS_KEY_FILE"]; k == "HOOKD_SECRETS_KEY" && !file {
			return secretstest.Key, true
		}
		return "", false
	}
}

// hookd runs args against the database at dbURL, with no environment but
// the tests' secrets key.
func hookd(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	return hookdEnv(t, nil, append([]string{"--database-url", dbURL, "--log-level", "warn"}, args...)...)
}

// mustHookd is hookd that fails the test on a non-zero exit.
// feedShowing runs hookd events ls with args until its output contains
// want, and returns that output: the feed serves an event once every
// older transaction on the server has ended, other tests' too.
func feedShowing(t *testing.T, dbURL, want string, args ...string) string {
	t.Helper()
	var feed string
	testkit.Eventually(t, want+" in the feed", func() bool {
		feed = mustHookd(t, dbURL, append([]string{"events", "ls"}, args...)...)
		return strings.Contains(feed, want)
	})
	return feed
}

func mustHookd(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	r := hookd(t, dbURL, args...)
	if r.code != 0 {
		t.Fatalf("hookd %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r.out
}
