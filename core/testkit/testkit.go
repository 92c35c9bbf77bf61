// Package testkit holds small helpers shared by hookd's tests. It is a
// normal package so that every test package can import it; nothing in
// hookd's binary does.
package testkit

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// Timeout bounds Eventually. It is generous because tests run in parallel
// under -race on small machines; a passing test never waits for it.
const Timeout = 30 * time.Second

// Eventually polls cond until it holds, failing the test with what when
// Timeout passes first. It is how tests wait for asynchronous work without
// sleeping a guessed duration.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Timeout, what, cond)
}

// EventuallyWithin is Eventually with its own bound, for waits on whole
// processes (building, starting, draining a backlog).
func EventuallyWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer that goroutines may write concurrently, for
// capturing a logger's output in a test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CopyTestBinary copies the running test binary to dst (mode 0755), so a
// test can run it again as another user from a directory that user can
// read.
func CopyTestBinary(t testing.TB, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
