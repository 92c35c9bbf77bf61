package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("plain"), "plain"},
		{errors.Join(errors.New("url: bad"), errors.New("events: bad")), "url: bad; events: bad"},
		// pgx's shape: a header ending in ":", then one tab-indented line
		// per attempt, identical for the TLS and the plain one.
		{fmt.Errorf("connect to database: %w", errors.New("failed to connect to `user=x database=x`:\n\t127.0.0.1:1 (127.0.0.1): refused\n\t127.0.0.1:1 (127.0.0.1): refused")),
			"connect to database: failed to connect to `user=x database=x`: 127.0.0.1:1 (127.0.0.1): refused"},
	} {
		if got := oneLine(tc.err); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A database that refuses connections is reported once, on one line.
func TestConnectionFailurePrintedOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // now it refuses
	r := hookd(t, "postgres://x:y@127.0.0.1:"+port+"/x?sslmode=prefer", "deliveries", "ls")
	if r.code != 1 || strings.Count(r.errOut, "connection refused") != 1 || strings.Contains(r.errOut, "\t") ||
		strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 {
		t.Errorf("exit %d, stderr %q; want exit 1 and the refusal once, on one line", r.code, r.errOut)
	}
}

// A --limit out of range is refused before any database is opened, naming
// the flag and the range (the list functions would take 0 for their
// default).
func TestListLimitOutOfRange(t *testing.T) {
	t.Parallel()
	const nowhere = "postgres://x:y@127.0.0.1:1/x" // never dialled
	for _, list := range [][]string{{"deliveries", "ls"}, {"events", "ls"}, {"inbox", "ls"}} {
		for _, n := range []string{"0", "-1", "1001"} {
			args := append(append([]string{}, list...), "--limit", n)
			r := hookd(t, nowhere, args...)
			want := "--limit: " + n + " is out of range; allowed: 1 to 1000"
			if r.code != 1 || !strings.Contains(r.errOut, want) {
				t.Errorf("hookd %s: exit %d, stderr %q; want %q", strings.Join(args, " "), r.code, r.errOut, want)
			}
		}
	}
	for _, list := range [][]string{{"deliveries", "ls"}, {"inbox", "ls"}, {"audit", "ls"}} {
		args := append(append([]string{}, list...), "--before", "-1")
		r := hookd(t, nowhere, args...)
		if want := "--before: -1 is not an id from a previous page"; r.code != 1 || !strings.Contains(r.errOut, want) {
			t.Errorf("hookd %s: exit %d, stderr %q; want %q", strings.Join(args, " "), r.code, r.errOut, want)
		}
	}
}
