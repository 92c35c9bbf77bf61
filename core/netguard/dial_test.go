package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// All network tests dial only loopback servers started here.

func newServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func guardedClient(t *testing.T, g *Guard) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: g.Dialer(net.Dialer{Timeout: 10 * time.Second}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(c *http.Client, target string) error {
	resp, err := c.Post(target, "application/json", strings.NewReader(`{"id":"evt_1"}`))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return errors.New("unexpected status " + resp.Status)
	}
	return nil
}

func TestHTTPClientBlocksLoopback(t *testing.T) {
	t.Parallel()

	srv, hits := newServer(t)
	err := post(guardedClient(t, New(nil)), srv.URL)
	t.Logf("refused with: %v", err)

	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("POST %s error = %v, want one wrapping *BlockedError", srv.URL, err)
	}
	if be.Category != CategoryLoopback || be.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("BlockedError = {%s %q}, want {127.0.0.1 loopback}", be.Addr, be.Category)
	}
	// net/http wraps it in *url.Error and *net.OpError; both stay reachable.
	var ue *url.Error
	var oe *net.OpError
	if !errors.As(err, &ue) || !errors.As(err, &oe) {
		t.Errorf("error %v (%T) lacks *url.Error or *net.OpError in its chain", err, err)
	}
	if hits.Load() != 0 {
		t.Errorf("server saw %d requests, want 0", hits.Load())
	}
}

func TestHTTPClientAllowsAllowedLoopback(t *testing.T) {
	t.Parallel()

	srv, hits := newServer(t)
	allowed, err := ParseAllowed([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	if err := post(guardedClient(t, New(allowed)), srv.URL); err != nil {
		t.Fatalf("POST %s with 127.0.0.0/8 allowed: %v", srv.URL, err)
	}
	if hits.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", hits.Load())
	}
}

func TestHostnameCheckedAfterResolution(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	target := "http://" + net.JoinHostPort("localhost", port) + "/hook"

	err = post(guardedClient(t, New(nil)), target)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("POST %s error = %v, want one wrapping *BlockedError", target, err)
	}
	if be.Category != CategoryLoopback {
		t.Errorf("category = %q, want loopback (resolved to %s)", be.Category, be.Addr)
	}

	allowed, err := ParseAllowed([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := post(guardedClient(t, New(allowed)), target); err != nil {
		t.Fatalf("POST %s with loopback allowed: %v", target, err)
	}
}

func TestDialerWrapsBaseControl(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t)
	addr := srv.Listener.Addr().String()
	loopback := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	errBase := errors.New("base control refused")

	var calls atomic.Int64
	base := net.Dialer{Control: func(string, string, syscall.RawConn) error {
		calls.Add(1)
		return errBase
	}}
	ctx := context.Background()

	// Blocked: the guard refuses first and the base Control never runs.
	if _, err := New(nil).Dialer(base).DialContext(ctx, "tcp", addr); !isBlocked(err) {
		t.Fatalf("dial with guard = %v, want BlockedError", err)
	}
	if calls.Load() != 0 {
		t.Fatalf("base Control ran %d times for a blocked address, want 0", calls.Load())
	}
	// Allowed: the base Control runs and its error is returned.
	if _, err := loopback.Dialer(base).DialContext(ctx, "tcp", addr); !errors.Is(err, errBase) {
		t.Fatalf("dial with allowed address = %v, want base Control error", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("base Control ran %d times, want 1", calls.Load())
	}

	// ControlContext takes precedence in net.Dialer, so it is the one wrapped.
	var ctxCalls atomic.Int64
	base = net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		ctxCalls.Add(1)
		return nil
	}}
	if _, err := New(nil).Dialer(base).DialContext(ctx, "tcp", addr); !isBlocked(err) {
		t.Fatalf("dial with guard and ControlContext = %v, want BlockedError", err)
	}
	conn, err := loopback.Dialer(base).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial allowed with ControlContext: %v", err)
	}
	_ = conn.Close()
	if ctxCalls.Load() != 1 {
		t.Fatalf("base ControlContext ran %d times, want 1", ctxCalls.Load())
	}
}

func TestControlRejectsUnparsableAddress(t *testing.T) {
	t.Parallel()

	err := New(nil).Control("tcp", "not-an-address", nil)
	if err == nil || !strings.Contains(err.Error(), `"not-an-address"`) {
		t.Fatalf("Control(not-an-address) = %v, want an error naming the address", err)
	}
	if err := New(nil).Control("tcp6", "[fe80::1%lo]:443", nil); !isBlocked(err) {
		t.Fatalf("Control(zoned link-local) = %v, want BlockedError", err)
	}
	if err := New(nil).Control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Fatalf("Control(public) = %v, want nil", err)
	}
}

func isBlocked(err error) bool {
	var be *BlockedError
	return errors.As(err, &be)
}
