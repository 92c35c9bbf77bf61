package nginx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/secrets/secretstest"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

const apiKey = "nginx-test-key-0123456789abcdef"

// startHookd runs hookd in-process on a fresh database and 127.0.0.1,
// with one intake source "shop" (scheme standard) verified by secret.
func startHookd(t *testing.T, secret string, logs *testkit.SyncBuffer) (*app.Server, *app.Database) {
	t.Helper()
	cfg := config.Default()
	// nginx, on this machine, is the proxy whose forwarded headers count.
	cfg.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg.Database.URL = dbtest.NewDB(t)
	cfg.Secrets.Key = secretstest.Key
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.API.Keys = []string{apiKey}
	cfg.Intake.Sources = []config.Source{{Name: "shop", Scheme: config.SchemeStandard, Secrets: []string{secret}, Tolerance: config.DefaultSourceTolerance}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := app.OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	srv, err := app.NewServer(cfg, d, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, d
}

// startNginx checks conf with nginx -t, then runs nginx in the foreground
// until the test ends, and waits until its HTTPS port answers.
func startNginx(t *testing.T, bin, dir string, p ports) {
	t.Helper()
	conf := filepath.Join(dir, "nginx.conf")
	args := []string{"-p", dir + "/", "-c", conf, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the shipped site: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful stop
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.https), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, stderr.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %d: %v", p.https, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShippedSiteProxiesToHookd(t *testing.T) {
	t.Parallel()
	bin := nginxBin(t)
	site, err := os.ReadFile("hookd.conf")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	srv, d := startHookd(t, secret, &logs)

	// nginx's workers may run as another user (nobody, when the test is
	// root): they must reach the directory.
	dir, err := os.MkdirTemp("", "hookd-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	roots := writeCert(t, certFile, keyFile)
	p := freePorts(t)
	files := map[string]string{
		"hookd.conf": localize(t, string(site), p, certFile, keyFile, srv.Addr()),
		"nginx.conf": mainConf(dir),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startNginx(t, bin, dir, p)
	c := client(roots)
	base := "https://" + serverName + ":" + strconv.Itoa(p.https)
	bearer := http.Header{"Authorization": {"Bearer " + apiKey}, "Content-Type": {"application/json"}}

	t.Run("event through /v1/", func(t *testing.T) {
		status, body := do(t, c, "POST", base+"/v1/events", []byte(`{"id":"evt_via_nginx","type":"invoice.paid","data":{"total":4200}}`), bearer)
		if status/100 != 2 || jsonField(t, body, "event", "id") != "evt_via_nginx" {
			t.Fatalf("POST /v1/events: %d %s; want 2xx with the event", status, body)
		}
		status, body = do(t, c, "GET", base+"/v1/events/evt_via_nginx", nil, bearer)
		if status != http.StatusOK {
			t.Fatalf("GET /v1/events/evt_via_nginx: %d %s", status, body)
		}
		if status, _ := do(t, c, "POST", base+"/v1/events", []byte(`{"type":"x"}`), nil); status != http.StatusUnauthorized {
			t.Errorf("POST /v1/events without a key: %d, want 401 from hookd", status)
		}
	})

	t.Run("intake through /in/", func(t *testing.T) {
		body := []byte(`{"id":"evt_in_1","type":"charge.succeeded","data":{"amount":1200}}`)
		h := http.Header{"Content-Type": {"application/json"}, "X-Forwarded-For": {"203.0.113.66"}}
		if err := signing.Sign(h, "evt_in_1", time.Now(), body, []string{secret}); err != nil {
			t.Fatal(err)
		}
		if status, resp := do(t, c, "POST", base+"/in/shop", body, h); status != http.StatusOK {
			t.Fatalf("POST /in/shop: %d %s, want 200", status, resp)
		}
		var headers []byte
		err := d.Pool.QueryRow(context.Background(),
			`SELECT headers FROM hookd.inbox WHERE source = 'shop' AND event_id = 'evt_in_1'`).Scan(&headers)
		if err != nil {
			t.Fatalf("the intake request is not in the inbox: %v", err)
		}
		var stored http.Header
		if err := json.Unmarshal(headers, &stored); err != nil {
			t.Fatal(err)
		}
		// nginx overwrites a client's X-Forwarded-For with the peer address.
		for k, want := range map[string]string{"X-Forwarded-For": clientAddr, "X-Real-Ip": clientAddr, "X-Forwarded-Proto": "https"} {
			if got := stored.Get(k); got != want {
				t.Errorf("hookd saw %s %q, want %q", k, got, want)
			}
		}
		tampered := bytes.Replace(body, []byte("1200"), []byte("9900"), 1)
		if status, _ := do(t, c, "POST", base+"/in/shop", tampered, h); status != http.StatusUnauthorized {
			t.Errorf("tampered POST /in/shop: %d, want 401 from hookd", status)
		}
		// hookd trusts nginx's headers (http.trusted_proxies), so its
		// rejection log names the client, not nginx or the forged address.
		testkit.Eventually(t, "the rejection logged with the client's address", func() bool {
			return strings.Contains(logs.String(), "remote="+clientAddr)
		})
		if strings.Contains(logs.String(), "203.0.113.66") {
			t.Errorf("the client's forged X-Forwarded-For reached hookd's log:\n%s", logs.String())
		}
		big := bytes.Repeat([]byte("x"), 1<<20+1)
		if status, _ := do(t, c, "POST", base+"/in/shop", big, h); status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST /in/shop over 1 MiB: %d, want 413", status)
		}
	})

	t.Run("not public", func(t *testing.T) {
		direct := &http.Client{Timeout: 10 * time.Second}
		resp, err := direct.Get("http://" + srv.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("hookd itself: GET /metrics %d, want 200 (else this check proves nothing)", resp.StatusCode)
		}
		for _, path := range []string{"/metrics", "/healthz", "/readyz", "/", "/v2/anything"} {
			if status, body := do(t, c, "GET", base+path, nil, bearer); status != http.StatusNotFound {
				t.Errorf("GET %s through nginx: %d %s, want 404", path, status, body)
			}
		}
	})

	t.Run("HTTP redirects to HTTPS", func(t *testing.T) {
		status, loc := do(t, c, "GET", "http://"+serverName+":"+strconv.Itoa(p.http)+"/v1/events", nil, nil)
		if status != http.StatusMovedPermanently || !strings.HasPrefix(string(loc), "https://"+serverName) {
			t.Errorf("plain HTTP: %d Location %q, want 301 to https://%s", status, loc, serverName)
		}
	})
}
