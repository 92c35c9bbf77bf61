package receivers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

func start(t *testing.T, b Behaviour, opts Options) *Receiver {
	t.Helper()
	r, err := New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func secret(t *testing.T) string {
	t.Helper()
	s, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends a signed event to u and returns the response.
func post(t *testing.T, client *http.Client, u, id, body, sec string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sec != "" {
		if err := signing.Sign(req.Header, id, time.Now(), []byte(body), []string{sec}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

func noRedirects() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	t.Parallel()
	if _, err := New("sulky", Options{}); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("unknown behaviour: err = %v, want one listing the allowed behaviours", err)
	}
	if _, err := New(Healthy, Options{}); err == nil || !strings.Contains(err.Error(), "Secret") {
		t.Errorf("healthy without secret: err = %v, want one naming Options.Secret", err)
	}
}

func TestHealthyVerifiesAndDedupes(t *testing.T) {
	t.Parallel()
	sec := secret(t)
	r := start(t, Healthy, Options{Secret: sec})
	c := noRedirects()
	body := `{"id":"evt_1","type":"invoice.paid","data":{}}`
	if got := post(t, c, r.URL(), "evt_1", body, sec).StatusCode; got != http.StatusOK {
		t.Fatalf("signed request: status %d, want 200", got)
	}
	if got := post(t, c, r.URL(), "evt_1", body, sec).StatusCode; got != http.StatusOK {
		t.Fatalf("repeated id: status %d, want 200", got)
	}
	if got := post(t, c, r.URL(), "evt_2", body, secret(t)).StatusCode; got != http.StatusUnauthorized {
		t.Fatalf("wrong secret: status %d, want 401", got)
	}
	if got := post(t, c, r.URL(), "evt_3", body, "").StatusCode; got != http.StatusUnauthorized {
		t.Fatalf("unsigned: status %d, want 401", got)
	}
	want := Stats{Requests: 4, OK: 1, Duplicates: 1, Rejected: 2}
	if got := r.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestFailingBehaviours(t *testing.T) {
	t.Parallel()
	c := noRedirects()
	for _, tc := range []struct {
		b      Behaviour
		status int
		header string
	}{
		{Gone, http.StatusGone, ""},
		{Redirecting, http.StatusFound, "Location"},
	} {
		r := start(t, tc.b, Options{})
		resp := post(t, c, r.URL(), "evt_1", `{}`, "")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.b, resp.StatusCode, tc.status)
		}
		if tc.header != "" && resp.Header.Get(tc.header) == "" {
			t.Errorf("%s: no %s header", tc.b, tc.header)
		}
		if got := r.Stats(); got.Failed != 1 || got.Requests != 1 {
			t.Errorf("%s: stats = %+v, want 1 request, 1 failed", tc.b, got)
		}
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	r := start(t, RateLimited, Options{Rate: 1, RetryAfter: 3 * time.Second})
	c := noRedirects()
	// Within one second at most one request passes; send until one is
	// limited (the window may roll over between two requests).
	for i := 0; ; i++ {
		resp := post(t, c, r.URL(), "evt", `{}`, "")
		if resp.StatusCode == http.StatusTooManyRequests {
			if got := resp.Header.Get("Retry-After"); got != "3" {
				t.Errorf("Retry-After = %q, want 3", got)
			}
			return
		}
		if i > 100 {
			t.Fatal("no 429 after 100 requests at a rate of 1/s")
		}
	}
}

func TestDownRefuses(t *testing.T) {
	t.Parallel()
	r := start(t, Down, Options{})
	u, err := url.Parse(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	_, err = net.DialTimeout("tcp", u.Host, 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: err = %v, want connection refused", u.Host, err)
	}
}

func TestFlakyMixesOutcomes(t *testing.T) {
	t.Parallel()
	// No hangs here: a hanging request would need the client to time out.
	r := start(t, Flaky, Options{FlakyFailShare: 0.5, FlakyHangShare: 1e-9})
	c := noRedirects()
	seen := map[int]bool{}
	for i := 0; i < 200 && !(seen[200] && seen[500]); i++ {
		seen[post(t, c, r.URL(), "evt", `{}`, "").StatusCode] = true
	}
	if !seen[200] || !seen[500] {
		t.Errorf("statuses seen: %v, want both 200 and 500", seen)
	}
}

// A slow or hanging request in progress must not hold up Stop.
func TestStopEndsWaitingRequests(t *testing.T) {
	t.Parallel()
	for _, b := range []Behaviour{Slow, Flaky} {
		r, err := New(b, Options{SlowMin: time.Hour, FlakyHangShare: 0.999999, FlakyFailShare: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := http.Post(r.URL(), "application/json", strings.NewReader(`{}`))
			errc <- err
		}()
		testkit.Eventually(t, "the condition", func() bool { return r.Stats().Requests == 1 })
		r.Stop()
		r.Stop()
		<-errc // the client sees the connection end, whatever it makes of it
		if got := r.Stats(); got.Failed != 1 || got.OK != 0 {
			t.Errorf("%s: stats = %+v, want the request counted as failed", b, got)
		}
	}
}
