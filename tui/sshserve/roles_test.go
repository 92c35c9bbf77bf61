package sshserve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/jackc/pgx/v5/pgxpool"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
	tuiapp "github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/sshserve"
)

// deadLetter makes one dead letter with the real dispatcher: an endpoint
// whose receiver answers 500, a millisecond retry schedule.
func deadLetter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(rc.Close)
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: rc.URL + "/hook", Description: "Legacy ERP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.NewPublisher(pool, outbox.Options{}).Publish(ctx, outbox.Event{Type: "invoice.paid", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(pool, dispatch.Options{
		Delivery: config.Delivery{RetrySchedule: []time.Duration{0, time.Millisecond}, Timeout: 5 * time.Second,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, PollInterval: 20 * time.Millisecond,
			ShutdownTimeout: 2 * time.Second},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "a dead letter", func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'dead'`).Scan(&n)
		return n == 1
	})
	d.Stop(context.Background())
}

// session is a console over SSH with a terminal.
type session struct {
	out   *testkit.SyncBuffer
	stdin io.Writer
}

func (s *session) waitFor(t *testing.T, want string) {
	t.Helper()
	testkit.Eventually(t, "the session to show "+want, func() bool { return strings.Contains(ansi.Strip(s.out.String()), want) })
}

func (s *session) press(t *testing.T, keys string) {
	t.Helper()
	if _, err := s.stdin.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, addr string, hostKey gossh.PublicKey, key gossh.Signer, login string) *session {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: login, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(hostKey), Timeout: testkit.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	s := &session{out: &testkit.SyncBuffer{}}
	sess.Stdout = s.out
	if s.stdin, err = sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 160, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return s
}

// A key in read_only_keys gets a read-only console: it cannot replay, and
// every refusal is recorded with its fingerprint; a key in
// authorized_keys replays, recorded the same way.
func TestReadOnlyKeyCannotReplayAndTheRefusalIsAudited(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	deadLetter(t, pool)
	dir := t.TempDir()
	operator, viewer := newSigner(t), newSigner(t)
	write := func(name string, k gossh.Signer) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, gossh.MarshalAuthorizedKey(k.PublicKey()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv, err := sshserve.New(sshserve.Config{Listen: "127.0.0.1:0", HostKey: filepath.Join(dir, "host_key"),
		AuthorizedKeys: write("authorized_keys", operator), ReadOnlyKeys: write("viewers", viewer),
		Console: tuiapp.Options{Source: data.NewPostgres(pool), Refresh: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	hk, _ := os.ReadFile(filepath.Join(dir, "host_key"))
	host, err := gossh.ParsePrivateKey(hk)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	dead := func() int {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'dead' AND replays = 0`).Scan(&n)
		return n
	}
	vfp := gossh.FingerprintSHA256(viewer.PublicKey())
	v := open(t, srv.Addr().String(), host.PublicKey(), viewer, "oncall")
	v.waitFor(t, "READ-ONLY")
	v.waitFor(t, "you: ssh "+vfp+" (oncall)")
	v.press(t, "4")
	v.waitFor(t, "1 loaded")
	v.press(t, "r")
	v.waitFor(t, "read-only: replay is disabled")
	// The terminal only gets the cells that change: the second refusal is
	// checked in the audit trail below.
	v.press(t, "R")
	v.press(t, "y")
	if dead() != 1 {
		t.Fatal("a read-only key replayed")
	}
	trail := func() []audit.Entry {
		page, err := audit.List(ctx, pool, audit.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		return page.Entries
	}
	testkit.Eventually(t, "both refusals in the audit trail", func() bool { return len(trail()) == 2 })
	for _, e := range trail() {
		if e.Outcome != audit.OutcomeRefused || e.Action != audit.ActionReplay || e.Actor != audit.SSHKey(vfp, "oncall") {
			t.Fatalf("refusal recorded as %+v", e)
		}
	}

	ofp := gossh.FingerprintSHA256(operator.PublicKey())
	o := open(t, srv.Addr().String(), host.PublicKey(), operator, "alice")
	o.waitFor(t, "read-write")
	o.press(t, "4")
	o.waitFor(t, "1 loaded")
	// r opens the question as it is handled, so the y after it answers it
	// (the screen only gets changed cells: the dialog is not read back).
	o.press(t, "ry")
	testkit.Eventually(t, "the operator's replay", func() bool { return dead() == 0 })
	testkit.Eventually(t, "the replay in the audit trail", func() bool { return len(trail()) == 3 })
	if e := trail()[0]; e.Outcome != audit.OutcomeOK || e.Actor != audit.SSHKey(ofp, "alice") || e.Rows != 1 {
		t.Fatalf("replay recorded as %+v", e)
	}
}
