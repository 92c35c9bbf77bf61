package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigErrorsNameTheKeyAndExitNonZero(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	if err := os.WriteFile(file, []byte("delivery:\n  timeout: fast\n  workers: -1\nhttp:\n  lisen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// serve would start a database: the config must be refused before that.
	dataDir := filepath.Join(t.TempDir(), "data")
	r := hookdEnv(t, nil, "--config", file, "--data-dir", dataDir, "serve")
	if r.code == 0 {
		t.Fatalf("exit 0 with a bad config; stderr: %s", r.errOut)
	}
	for _, key := range []string{"delivery.timeout", "delivery.workers", "http.lisen"} {
		if !strings.Contains(r.errOut, key) {
			t.Errorf("stderr does not name %s:\n%s", key, r.errOut)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s was touched despite the bad config (err %v)", dataDir, err)
	}
}

func TestConfigErrorFromEnvironment(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, map[string]string{"HOOKD_LOG_LEVEL": "loud"}, "migrate", "status")
	if r.code == 0 || !strings.Contains(r.errOut, "log.level") || !strings.Contains(r.errOut, "HOOKD_LOG_LEVEL") {
		t.Errorf("exit %d, stderr %q; want a non-zero exit naming log.level and HOOKD_LOG_LEVEL", r.code, r.errOut)
	}
}

func TestVersionNeedsNoConfig(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, map[string]string{"HOOKD_LOG_LEVEL": "loud"}, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "hookd ") {
		t.Errorf("version: exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
}

// TestCommandsNeedAnExistingEmbeddedDatabase: a command that only uses the
// database, given a data directory that holds none (a typo), fails naming
// it and creates nothing: no cluster, no secrets key, no directory.
func TestCommandsNeedAnExistingEmbeddedDatabase(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"endpoints", "ls"}, {"deliveries", "ls"}, {"tenants", "ls"}, {"console"}, {"migrate", "status"}, {"secrets", "rotate"},
	} {
		dataDir := filepath.Join(t.TempDir(), "typo")
		// No key in the environment: the embedded database's key file
		// would be generated in dataDir.
		r := hookdEnv(t, map[string]string{"HOOKD_SECRETS_KEY_FILE": ""}, append(args, "--data-dir", dataDir)...)
		if r.code != 1 || !strings.Contains(r.errOut, "no hookd database in "+dataDir) {
			t.Errorf("hookd %s: exit %d, stderr %q; want exit 1 naming %s", strings.Join(args, " "), r.code, r.errOut, dataDir)
		}
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Errorf("hookd %s created %s (err %v)", strings.Join(args, " "), dataDir, err)
		}
	}
}
