package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/secrets/secretstest"
)

// runBin runs the built hookd with only the given HOOKD_ variables.
func runBin(t *testing.T, bin string, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// testSecretsRotate: `hookd secrets rotate` with a new secrets.key and the
// old one in secrets.previous_keys re-seals every stored secret, after
// which hookd works with the new key alone and no longer with the old.
// It runs the built binary: a rotation in this process would change the
// keyring the other tests share.
func testSecretsRotate(t *testing.T, bin string) {
	dbURL := dbtest.NewDB(t)
	pool := procPool(t, dbURL)
	ep, err := endpoint.Create(t.Context(), pool, endpoint.CreateParams{URL: "https://example.com/h",
		Headers: map[string]string{"X-Key": "header-value-0123"}})
	if err != nil {
		t.Fatal(err)
	}
	newKey, stderr, err := runBin(t, bin, nil, "secrets", "generate-key")
	newKey = strings.TrimSpace(newKey)
	if _, perr := secrets.ParseKey(newKey); err != nil || perr != nil {
		t.Fatalf("generate-key: %q %v %v %s", newKey, err, perr, stderr)
	}
	db := "HOOKD_DATABASE_URL=" + dbURL
	out, stderr, err := runBin(t, bin, []string{db, "HOOKD_SECRETS_KEY=" + newKey, "HOOKD_SECRETS_PREVIOUS_KEYS=" + secretstest.Key},
		"secrets", "rotate", "--json")
	var res struct {
		Key                string
		Endpoints, Sources int
	}
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Endpoints != 1 {
		t.Fatalf("secrets rotate: %v %q %s", err, out, stderr)
	}
	out, stderr, err = runBin(t, bin, []string{db, "HOOKD_SECRETS_KEY=" + newKey}, "endpoints", "show", ep.ID, "--json")
	var shown endpoint.Endpoint
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Secret != ep.Secret {
		t.Fatalf("show with the new key alone: %v %q %s", err, out, stderr)
	}
	if _, stderr, err := runBin(t, bin, []string{db, "HOOKD_SECRETS_KEY=" + secretstest.Key}, "endpoints", "ls"); err == nil ||
		!strings.Contains(stderr, "secrets.previous_keys") {
		t.Fatalf("ls with the old key alone after the rotation: %v %s; want a refusal naming the keys", err, stderr)
	}
}
