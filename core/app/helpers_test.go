package app

import (
	"context"
	"testing"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/secrets/secretstest"
)

// testConfig is `hookd serve`'s configuration on a fresh database with
// the tests' secrets key, listening on a free loopback port.
func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = dbtest.NewDB(t)
	cfg.Secrets.Key = secretstest.Key
	cfg.HTTP.Listen = "127.0.0.1:0"
	return cfg
}

// startServer opens cfg's database and runs the server on it until the
// test ends.
func startServer(t *testing.T, cfg *config.Config) (*Server, *Database) {
	t.Helper()
	ctx := context.Background()
	d, err := OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	s, err := NewServer(cfg, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, d
}
