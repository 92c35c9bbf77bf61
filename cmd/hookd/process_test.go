package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/secrets/secretstest"
)

// These tests run `hookd serve` as real processes on a test database and
// kill them the way machines and operators do: SIGKILL, SIGTERM, two
// processes sharing one database. Only loopback is used; every wait is
// bounded.

// processEvents is how many events each test delivers.
const processEvents = 1000

// TestProcess builds the binary once for its subtests.
func TestProcess(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "hookd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("Kill9ThenRestartLosesNothing", func(t *testing.T) { t.Parallel(); testKill9(t, bin) })
	t.Run("Kill9NextToASurvivor", func(t *testing.T) { t.Parallel(); testKill9Survivor(t, bin) })
	t.Run("TwoProcessesNeverShareADelivery", func(t *testing.T) { t.Parallel(); testTwoProcesses(t, bin) })
	t.Run("SIGTERMLeavesNothingInFlight", func(t *testing.T) { t.Parallel(); testSIGTERM(t, bin) })
	t.Run("CapsHoldAcrossProcesses", func(t *testing.T) { t.Parallel(); testCapsAcrossProcesses(t, bin) })
	t.Run("SecretsRotate", func(t *testing.T) { t.Parallel(); testSecretsRotate(t, bin) })
	t.Run("Kill9EmbeddedTakeover", func(t *testing.T) { t.Parallel(); testKill9EmbeddedTakeover(t, bin) })
}

// procReceiver is a webhook receiver on 127.0.0.1 that takes delay per
// request and counts requests per event id, noting requests for the same
// event that overlap in time and bodies whose id differs from the header.
type procReceiver struct {
	srv   *httptest.Server
	delay time.Duration

	mu         sync.Mutex
	counts     map[string]int
	active     map[string]int
	overlaps   int
	mismatched int
}

func newProcReceiver(t *testing.T, delay time.Duration) *procReceiver {
	r := &procReceiver{delay: delay, counts: map[string]int{}, active: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *procReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &env)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	if env.ID != id || id == "" {
		r.mismatched++
	}
	r.active[id]++
	if r.active[id] > 1 {
		r.overlaps++
	}
	r.counts[id]++
	r.mu.Unlock()
	// The receiver's own work; it does not synchronise anything.
	select {
	case <-time.After(r.delay):
	case <-req.Context().Done():
	}
	r.mu.Lock()
	r.active[id]--
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// stats returns unique ids seen, total requests and ids seen more than once.
func (r *procReceiver) stats() (unique, total, dup int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.counts {
		unique++
		total += n
		if n > 1 {
			dup++
		}
	}
	return
}

// proc is one `hookd serve` process.
type proc struct {
	cmd  *exec.Cmd
	logs *procLog
	done chan error
}

// procLog is a goroutine-safe buffer for a process's output.
type procLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProc runs `hookd serve` on dbURL with loopback allowed, millisecond
// retries and a short lease; extra env entries override.
func startProc(t *testing.T, bin, dbURL string, extra ...string) *proc {
	t.Helper()
	env := []string{
		"HOOKD_DELIVERY_ALLOWED_NETWORKS=127.0.0.0/8",
		"HOOKD_DELIVERY_RETRY_SCHEDULE=0s,10ms,20ms,40ms,80ms,100ms,100ms,100ms,100ms,100ms",
		"HOOKD_DELIVERY_TIMEOUT=1s",
		"HOOKD_DELIVERY_LEASE=1500ms",
		"HOOKD_DELIVERY_POLL_INTERVAL=50ms",
		"HOOKD_DELIVERY_MAX_IN_FLIGHT_PER_ENDPOINT=32",
		"HOOKD_DELIVERY_SHUTDOWN_TIMEOUT=5s",
		"HOOKD_LOG_LEVEL=warn",
		"HOOKD_LOG_FORMAT=text",
		"HOOKD_SECRETS_KEY=" + secretstest.Key,
	}
	return launch(t, bin, []string{"serve", "--database-url", dbURL, "--listen", "127.0.0.1:0"}, append(env, extra...))
}

// launch runs bin with args and, of the machine's environment, only what
// is not HOOKD_, then env; the process is killed when the test ends.
func launch(t *testing.T, bin string, args, env []string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // no hookd.yaml is found here
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, logs: &procLog{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("hookd %s (pid %d) output:\n%s", args[0], cmd.Process.Pid, p.logs.String())
		}
	})
	return p
}

// wait returns the process's exit error, failing the test after a bound.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(time.Minute):
		t.Fatalf("hookd serve did not exit:\n%s", p.logs.String())
		return nil
	}
}

// procSeed creates an endpoint at url and publishes n events to it.
func procSeed(t *testing.T, pool *pgxpool.Pool, url string, n int) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: url}); err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	ids := make([]string, 0, n)
	for i := range n {
		res, err := pub.Publish(ctx, outbox.Event{Type: "order.created", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Event.ID)
	}
	return ids
}

func procCountState(t *testing.T, pool *pgxpool.Pool, state string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.deliveries WHERE state = $1`, state).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// procDumpOnFailure logs, when the test has failed, what the engine's
// tables held then: the workers and their liveness, the lanes, and the
// queue by state and worker, so that a wait that timed out says where the
// work stood.
func procDumpOnFailure(t *testing.T, pool *pgxpool.Pool) {
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range [][2]string{
		{"workers (worker, lock key, gone since, now)", `SELECT worker, lock_key, gone_since, now() FROM hookd.workers ORDER BY worker`},
		{"lanes (endpoint, ready at, rate next at)", `SELECT endpoint_id, ready_at, rate_next_at FROM hookd.lanes ORDER BY endpoint_id`},
		{"queue (state, leased by, count, first lease end, first due)", `SELECT state, coalesce(leased_by, ''), count(*),
			min(lease_expires_at), min(next_attempt_at) FROM hookd.queue GROUP BY 1, 2 ORDER BY 1, 2`},
	} {
		rows, err := pool.Query(ctx, q[1])
		if err != nil {
			t.Logf("%s: %v", q[0], err)
			continue
		}
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				break
			}
			out = append(out, fmt.Sprint(vals...))
		}
		rows.Close()
		t.Logf("%s:\n  %s", q[0], strings.Join(out, "\n  "))
	}
}

func procPool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func procExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func procCheckReceiver(t *testing.T, r *procReceiver, ids []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.counts[id] == 0 {
			t.Errorf("event %s never reached the receiver", id)
		}
	}
	if r.mismatched != 0 {
		t.Errorf("%d requests had a body id different from webhook-id", r.mismatched)
	}
}
