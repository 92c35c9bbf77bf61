// Checks of the shipped systemd unit and environment file.
package systemd_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
)

// binPath is where the unit expects hookd.
const binPath = "/usr/local/bin/hookd"

// TestUnitVerifies runs `systemd-analyze verify` on the shipped unit. The
// unit names /usr/local/bin/hookd, which verify requires to exist, so the
// test builds hookd and verifies a copy whose only change is that path.
func TestUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed (%v): install systemd to check the unit", err)
	}
	unit, err := os.ReadFile("hookd.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart="+binPath) {
		t.Fatalf("hookd.service does not run %s; update this test with the unit", binPath)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hookd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/hookd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	local := filepath.Join(dir, "hookd.service")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(unit), binPath, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, analyze, "verify", "--man=no", local)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify hookd.service: %v\n%s", err, out)
	}
}

// TestUnitHardening pins the directives the deployment relies on.
func TestUnitHardening(t *testing.T) {
	t.Parallel()
	unit, err := os.ReadFile("hookd.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = v
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "hookd", "ProtectSystem": "strict",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "Restart": "on-failure",
		"EnvironmentFile": "/etc/hookd/hookd.env", "ExecStart": binPath + " serve",
		"ExecStartPre": binPath + " migrate",
		// The secrets key arrives as a credential, named to hookd by path.
		"LoadCredential": "secrets.key:/etc/hookd/secrets.key", "Environment": "HOOKD_SECRETS_KEY_FILE=%d/secrets.key",
	} {
		if got := set[k]; got != want {
			t.Errorf("hookd.service: %s=%q, want %q", k, got, want)
		}
	}
	stop, err := time.ParseDuration(set["TimeoutStopSec"])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", set["TimeoutStopSec"], err)
	}
	if drain := config.DefaultShutdownTimeout * 2; stop <= drain {
		t.Errorf("TimeoutStopSec=%s, want more than hookd's HTTP plus delivery shutdown timeouts (%s)", stop, drain)
	}
}

// TestEnvExampleLoads feeds the example environment file to hookd's
// configuration loader: every variable in it must be a valid key.
func TestEnvExampleLoads(t *testing.T) {
	t.Parallel()
	f, err := os.Open("hookd.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "HOOKD_") {
			t.Fatalf("hookd.env.example: %q is not HOOKD_<KEY>=value", line)
		}
		env[k] = v
	}
	if len(env) < 3 {
		t.Fatalf("hookd.env.example sets %d variables, want at least database, listen and API keys", len(env))
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "hookd.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: empty, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("hookd.env.example does not load: %v", err)
	}
	if cfg.Database.URL == "" || len(cfg.API.Keys) == 0 || cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("loaded database.url %q, api.keys %d, http.listen %q; want a URL, a key and 127.0.0.1:8080",
			cfg.Database.URL, len(cfg.API.Keys), cfg.HTTP.Listen)
	}
}
