// The shipped nginx site (hookd.conf), checked with nginx -t and run in
// front of an in-process hookd on loopback.
//
// The site is used verbatim except for the few values that are the
// deployer's and cannot work here; localize replaces each of them and
// fails if one is missing, so the test always runs the shipped directives:
//
//	listen 80;  listen 443 ssl;     -> 127.0.0.1 and free ports
//	listen [::]:80;  listen [::]:443 ssl;  -> removed (no IPv6 needed)
//	/etc/letsencrypt/live/hookd.example.com/{fullchain,privkey}.pem
//	                                -> a certificate made by the test
//	server 127.0.0.1:8080;          -> the test's hookd
//
// nginx must be installed (.ci/run installs it from the distribution's
// packages); without it the test fails.
package nginx_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// serverName is the site's server_name, which the client asks for.
const serverName = "hookd.example.com"

// nginxBin returns nginx's path, failing the test when it is missing.
func nginxBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nginx")
	if err != nil {
		// Distributions install it in /usr/sbin, which is not on every PATH.
		p, err = exec.LookPath("/usr/sbin/nginx")
	}
	if err != nil {
		t.Fatalf("nginx is not installed (%v): install it from the distribution's packages, e.g. apt-get install nginx-light, as .ci/run does", err)
	}
	return p
}

// ports are the loopback ports nginx listens on.
type ports struct{ http, https int }

// localize returns the shipped site with the deployer's values replaced;
// every value must be found exactly as shipped.
func localize(t *testing.T, site string, p ports, certFile, keyFile, upstream string) string {
	t.Helper()
	for _, r := range []struct{ old, new string }{
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", p.http)},
		{"listen [::]:80;", ""},
		{"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", p.https)},
		{"listen [::]:443 ssl;", ""},
		{"/etc/letsencrypt/live/hookd.example.com/fullchain.pem", certFile},
		{"/etc/letsencrypt/live/hookd.example.com/privkey.pem", keyFile},
		{"server 127.0.0.1:8080;", "server " + upstream + ";"},
	} {
		if n := strings.Count(site, r.old); n != 1 {
			t.Fatalf("hookd.conf: %q occurs %d times, want once: the shipped site changed; update localize", r.old, n)
		}
		site = strings.Replace(site, r.old, r.new, 1)
	}
	return site
}

// mainConf is the nginx.conf around the site: everything nginx writes
// goes to dir, and nginx stays in the foreground as the test's child.
func mainConf(dir string) string {
	p := func(name string) string { return filepath.Join(dir, name) }
	return fmt.Sprintf(`daemon off;
worker_processes 1;
pid %s;
error_log %s info;
events { worker_connections 64; }
http {
    access_log %s;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
    include %s;
}
`, p("nginx.pid"), p("error.log"), p("access.log"), p("body"), p("proxy"), p("fastcgi"), p("uwsgi"), p("scgi"), p("hookd.conf"))
}

// writeCert writes a self-signed certificate for serverName and returns
// a pool that trusts it.
func writeCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: serverName},
		DNSNames:     []string{serverName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns two loopback ports free at the time of asking.
func freePorts(t *testing.T) ports {
	t.Helper()
	var got []int
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got = append(got, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports{http: got[0], https: got[1]}
}

// client talks to nginx as to serverName, with every connection going to
// 127.0.0.1, and does not follow redirects.
// client talks to nginx on 127.0.0.1 from clientAddr, so that the client's
// address differs from nginx's own and hookd's use of the forwarded
// headers shows.
func client(roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientAddr)}}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientAddr is the test client's loopback address (Linux routes all of
// 127.0.0.0/8 to loopback).
const clientAddr = "127.0.0.2"

// do sends a request and returns the status and body.
func do(t *testing.T, c *http.Client, method, url string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusMovedPermanently {
		b = []byte(resp.Header.Get("Location"))
	}
	return resp.StatusCode, b
}

func jsonField(t *testing.T, b []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, b)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
