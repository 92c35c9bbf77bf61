package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/testkit"
)

// These tests hold connections the way slow and hostile clients do, on
// loopback, against `hookd serve`'s server with short time limits. They
// assert what the server does to the connection (answers, closes), never
// how long it took; testkit.Timeout only bounds a test that would
// otherwise hang.

const slowKey = "slow-client-key-0123456789"

// slowServer starts the server with short limits and one intake source.
func slowServer(t *testing.T, tune func(*config.Config)) *Server {
	t.Helper()
	cfg := testConfig(t)
	cfg.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.HTTP.ReadTimeout = 500 * time.Millisecond
	cfg.HTTP.WriteTimeout = 2 * time.Second
	cfg.HTTP.IdleTimeout = 300 * time.Millisecond
	cfg.API.Keys = []string{slowKey}
	cfg.Intake.Sources = []config.Source{{Name: "shop", Scheme: config.SchemeStripe,
		Secrets: []string{"whsec_shop-0123456789abcdef"}, Tolerance: config.DefaultSourceTolerance}}
	if tune != nil {
		tune(cfg)
	}
	s, _ := startServer(t, cfg)
	return s
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Only a bound for a test that would hang; never an assertion.
	_ = c.SetDeadline(time.Now().Add(testkit.Timeout))
	return c
}

// waitClosed reads from c until the server closes it, failing when the
// test's bound passes first.
func waitClosed(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s", testkit.Timeout)
	}
}

// TestTrickledBodyIsCutOff: a body sent one byte at a time, on the API
// and on intake, is cut off by http.read_timeout.
func TestTrickledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	s := slowServer(t, nil)
	for _, req := range []string{
		"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + slowKey + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
		"POST /in/shop HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
	} {
		c := dial(t, s.Addr())
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond) // the client's pace, not a synchronisation
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("{")); err != nil {
						return // the server closed it
					}
				}
			}
		})
		waitClosed(t, c, bufio.NewReader(c))
		close(done)
		wg.Wait()
	}
}

// TestIdleKeepAliveIsClosed: a keep-alive connection left idle after a
// request is closed by http.idle_timeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	t.Parallel()
	s := slowServer(t, nil)
	c := dial(t, s.Addr())
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d close=%v, want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	waitClosed(t, c, r)
}

// TestRefusedBeforeTheBody: a request that announces a large body and
// fails authentication (a wrong API key, no signature, an unknown source)
// is answered at once, without the server waiting for that body, and its
// connection is closed.
func TestRefusedBeforeTheBody(t *testing.T) {
	t.Parallel()
	s := slowServer(t, func(c *config.Config) { c.HTTP.ReadTimeout = time.Hour }) // so only the refusal can end it
	for _, c := range []struct {
		head   string
		status int
	}{
		{"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-key-0123456789\r\n", http.StatusUnauthorized},
		{"POST /v1/endpoints HTTP/1.1\r\nHost: x\r\n", http.StatusUnauthorized},
		{"POST /in/shop HTTP/1.1\r\nHost: x\r\n", http.StatusUnauthorized},
		{"POST /in/shop HTTP/1.1\r\nHost: x\r\nStripe-Signature: garbage\r\n", http.StatusUnauthorized},
		{"POST /in/nobody HTTP/1.1\r\nHost: x\r\n", http.StatusNotFound},
	} {
		conn := dial(t, s.Addr())
		if _, err := io.WriteString(conn, c.head+"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%q: no answer before the body: %v", c.head, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%q: %d, want %d", c.head, resp.StatusCode, c.status)
		}
		waitClosed(t, conn, r)
	}
}

// TestConnectionsPerListenerAreCapped: with http.max_connections 2, no
// more than two connections are open at once however many clients
// connect; the others wait and are all served as connections close.
func TestConnectionsPerListenerAreCapped(t *testing.T) {
	t.Parallel()
	s := slowServer(t, func(c *config.Config) { c.HTTP.MaxConnections = 2 })
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(testkit.Timeout))
			// Each client keeps its connection: the idle timeout closes it.
			if _, err := fmt.Fprintf(c, "GET /healthz?c=%d HTTP/1.1\r\nHost: x\r\n\r\n", i); err != nil {
				errs <- err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("client %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if peak := s.PeakConnections("http.listen"); peak < 1 || peak > 2 {
		t.Fatalf("peak of open connections %d, want at most http.max_connections (2)", peak)
	}
	if n := s.PeakConnections("intake.listen"); n != 0 {
		t.Fatalf("intake.listen, which is not set, reports %d connections", n)
	}
}
