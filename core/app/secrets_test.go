package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/secrets/secretstest"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDatabaseDumpRevealsNoSecret: a hookd install with every kind of
// stored secret (an endpoint's signing secret, its previous one and its
// custom headers, an intake source's secrets, a forward secret, the alert
// secret), after delivering to the endpoint, dumped with pg_dump: none of
// the secrets, nor the key material inside a whsec_ secret, is in the dump.
func TestDatabaseDumpRevealsNoSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(rcv.Close)

	configSource, alertSecret := "config-source-secret-0123456789", mustSecret(t)
	cfg := testConfig(t)
	cfg.Delivery.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.Delivery.PollInterval = 50 * time.Millisecond
	cfg.Alerts.URL, cfg.Alerts.Secret = rcv.URL+"/alerts", alertSecret
	cfg.Intake.Sources = []config.Source{{Name: "shop", Scheme: config.SchemeHookd, Secrets: []string{configSource},
		Tolerance: config.DefaultSourceTolerance, ForwardTo: rcv.URL + "/shop"}}
	srv, d := startServer(t, cfg)

	first, header := mustSecret(t), "Bearer header-token-0123456789"
	ep, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: rcv.URL + "/hook", Secret: first,
		Headers: map[string]string{"Authorization": header}})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := endpoint.RotateSecret(ctx, d.Pool, ep.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	asym, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: rcv.URL + "/asym", Signatures: "v1,v1a"})
	if err != nil {
		t.Fatal(err)
	}
	if asym, err = endpoint.Get(ctx, d.Pool, asym.ID); err != nil || asym.SigningKey == "" {
		t.Fatalf("asymmetric endpoint %+v %v", asym, err)
	}
	apiSource, forwardSecret := "api-source-secret-0123456789", mustSecret(t)
	if _, err := inbox.CreateSource(ctx, d.Pool, inbox.CreateParams{Name: "api", Scheme: "hookd", Secrets: []string{apiSource},
		ForwardTo: rcv.URL + "/api", ForwardSecret: forwardSecret}); err != nil {
		t.Fatal(err)
	}
	shop, err := inbox.GetSource(ctx, d.Pool, "shop")
	if err != nil || shop.ForwardSecret == "" {
		t.Fatalf("shop: %+v %v", shop, err)
	}
	if _, err := srv.Publisher.Publish(ctx, outbox.Event{Type: "a.b"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the delivery to be attempted", func() bool { return hits.Load() > 0 })
	testkit.Eventually(t, "the attempt to be recorded", func() bool {
		var n int
		_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM hookd.attempts`).Scan(&n)
		return n > 0
	})

	var dump, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pgTool(t, "pg_dump"), "--dbname="+cfg.Database.URL)
	cmd.Stdout, cmd.Stderr = &dump, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	if !bytes.Contains(dump.Bytes(), []byte(ep.ID)) {
		t.Fatalf("the dump lacks the endpoint %s: not a dump of this install", ep.ID)
	}
	for what, s := range map[string]string{
		"endpoint secret": first, "rotated secret": rotated.Secret, "custom header": header, "config source secret": configSource,
		"API source secret": apiSource, "forward secret": forwardSecret, "generated forward secret": shop.ForwardSecret,
		"alert secret": alertSecret, "ed25519 signing key": asym.SigningKey,
	} {
		for _, part := range []string{s, strings.TrimPrefix(strings.TrimPrefix(s, signing.SecretPrefix), signing.SigningKeyPrefix), "header-token-0123456789"} {
			if what != "custom header" && part == "header-token-0123456789" {
				continue
			}
			if i := bytes.Index(dump.Bytes(), []byte(part)); i >= 0 {
				table := "?"
				if j := bytes.LastIndex(dump.Bytes()[:i], []byte("\nCOPY ")); j >= 0 {
					table = strings.Fields(string(dump.Bytes()[j+6 : min(j+80, i)]))[0]
				}
				t.Errorf("the dump reveals the %s (in %s)", what, table)
			}
		}
	}
}

// TestRotationReseals: after secrets.key changes (the old key moved to
// secrets.previous_keys), ResealSecrets leaves every stored secret sealed
// under the new key alone, plaintexts stored before encryption at rest
// included, and a keyring of the new key alone opens them.
//
// Not parallel: it changes the process keyring's current key.
func TestRotationReseals(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := secretstest.Key, mustKey(t)
	cfg := config.Default()
	cfg.Database.URL = dbtest.NewDB(t)
	cfg.Secrets.Key = oldKey
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	old, _ := secrets.NewKeyring(oldKey)
	// One sealed under the old key, one stored in plaintext as before
	// encryption at rest (rows written by an older hookd).
	oldSealed, _ := old.Seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	oldHeader, _ := old.Seal("old-header-value")
	if _, err := d.Pool.Exec(ctx, `INSERT INTO hookd.endpoints (id, url, secret, previous_secret, headers) VALUES
		('ep_old', 'https://a.example/', $1, $1, jsonb_build_object('X-A', $2::text)),
		('ep_plain', 'https://b.example/', 'whsec_dGhpcyBpcyB0aGUgc2Vjb25kIHNlY3JldCBrZXkh', NULL, '{"X-B":"plain-header"}')`,
		oldSealed, oldHeader); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO hookd.sources (name, scheme, secrets) VALUES ('legacy', 'hookd', '{legacy-plain-secret-0123}')`); err != nil {
		t.Fatal(err)
	}

	rotated, err := secrets.NewKeyring(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	secrets.Install(rotated)
	eps, srcs, err := ResealSecrets(ctx, d.Pool, nil)
	if err != nil || eps != 2 || srcs != 1 {
		t.Fatalf("ResealSecrets = %d endpoints, %d sources, %v; want 2, 1", eps, srcs, err)
	}
	if eps, srcs, err := ResealSecrets(ctx, d.Pool, nil); err != nil || eps+srcs != 0 {
		t.Fatalf("a second run changed %d endpoints, %d sources (%v); want nothing", eps, srcs, err)
	}
	only, _ := secrets.NewKeyring(newKey)
	rows, err := d.Pool.Query(ctx, `
		SELECT secret FROM hookd.endpoints WHERE id IN ('ep_old', 'ep_plain')
		UNION ALL SELECT previous_secret FROM hookd.endpoints WHERE id = 'ep_old'
		UNION ALL SELECT h.value FROM hookd.endpoints, jsonb_each_text(headers) h WHERE id IN ('ep_old', 'ep_plain')
		UNION ALL SELECT unnest(secrets) FROM hookd.sources WHERE name = 'legacy'`)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, v)
	}
	if len(stored) != 6 {
		t.Fatalf("%d stored values, want 6", len(stored))
	}
	for _, v := range stored {
		if !only.Current(v) {
			t.Errorf("%.20s... is not sealed under the new key", v)
		}
		if _, err := only.Open(v); err != nil {
			t.Errorf("the new key alone cannot open a value: %v", err)
		}
	}
	if ep, err := endpoint.Get(ctx, d.Pool, "ep_plain"); err != nil || ep.Headers["X-B"] != "plain-header" {
		t.Fatalf("the plaintext endpoint after re-sealing: %+v %v", ep, err)
	}
}

// pgTool returns the path of a PostgreSQL program such as pg_dump.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	p, err := pgembed.Tool(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustKey(t *testing.T) string {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEmbeddedKeyFile: the embedded database without a configured key
// generates one (mode 0600) in its data directory, seals with it, and
// reuses it on the next start.
//
// Not parallel: it asserts which key the process keyring seals with.
func TestEmbeddedKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	cfg := embeddedConfig(dir)
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, config.EmbeddedKeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		d.Close()
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	key, err := secrets.ReadKeyFile(path)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	kr, _ := secrets.NewKeyring(key)
	ep, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: "https://example.com/h"})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	var stored string
	err = d.Pool.QueryRow(ctx, `SELECT secret FROM hookd.endpoints WHERE id = $1`, ep.ID).Scan(&stored)
	d.Close()
	if err != nil || !kr.Current(stored) {
		t.Fatalf("stored secret %.20s... (%v) is not sealed under the key file's key", stored, err)
	}
	if again, err := Keyring(cfg); err != nil || again.ID() != kr.ID() {
		t.Fatalf("a second start uses key %v (%v), want the file's %s", again, err, kr.ID())
	}
}

// TestAnotherKeyIsRefused: a process configured with a key that is not
// the database's is refused before it writes anything. It wrote before,
// sealing under a key nobody else had, and hookd serve then refused to
// start with the right key.
func TestAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	cfg := config.Default()
	cfg.Database.URL, cfg.Secrets.Key = url, mustKey(t)
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := endpoint.Create(ctx, d.Pool, endpoint.CreateParams{URL: "https://a.example/h"}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	wrong := config.Default()
	wrong.Database.URL, wrong.Secrets.Key = url, mustKey(t)
	if d, err := OpenDatabase(ctx, wrong, nil); err == nil || !strings.Contains(err.Error(), "the secrets key is not this database's") {
		if d != nil {
			d.Close()
		}
		t.Fatalf("another key: %v, want it refused", err)
	}
	// The database's key as a previous one, after a rotation, is its key.
	rotated := config.Default()
	rotated.Database.URL, rotated.Secrets.Key, rotated.Secrets.PreviousKeys = url, mustKey(t), []string{cfg.Secrets.Key}
	d, err = OpenDatabase(ctx, rotated, nil)
	if err != nil {
		t.Fatalf("the key among the previous keys: %v", err)
	}
	d.Close()
}
