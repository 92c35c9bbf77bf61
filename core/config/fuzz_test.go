package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds Load arbitrary files and environment values: it never
// panics, never returns a partly valid Config, reports problems as
// *KeyError (or as a file it could not parse), and never echoes a secret
// key back. The seed corpus is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, file, envKey, envValue string) {
		path := filepath.Join(t.TempDir(), "hookd.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		if strings.HasPrefix(envKey, "HOOKD_") {
			env[envKey] = envValue
		}
		cfg, err := Load(LoadOptions{File: path, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err == nil {
			if cfg == nil {
				t.Fatal("no error and no config")
			}
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("loaded a config that does not validate: %v", verr)
			}
			return
		}
		if cfg != nil {
			t.Fatalf("an error (%v) with a config", err)
		}
		if strings.HasPrefix(err.Error(), "config file") {
			return // not YAML
		}
		for _, e := range flatten([]error{err}) {
			var ke *KeyError
			if !errors.As(e, &ke) {
				t.Fatalf("problem %T %q is not a *KeyError", e, e)
			}
		}
		if envKey == "HOOKD_SECRETS_KEY" && len(envValue) >= 8 && strings.Contains(err.Error(), envValue) {
			t.Fatalf("the error echoes secrets.key: %v", err)
		}
	})
}
