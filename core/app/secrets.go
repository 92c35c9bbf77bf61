package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/secrets"
)

// resealBatch is how many rows one re-sealing transaction changes.
const resealBatch = 500

// ErrNoSecretsKey is returned by Keyring for a database.url without a key:
// hookd will not store secrets it cannot encrypt.
var ErrNoSecretsKey = errors.New("secrets.key (or secrets.key_file) is required with database.url: hookd encrypts the secrets it stores; generate a key with `hookd secrets generate-key` and set it as HOOKD_SECRETS_KEY, or in a file named by secrets.key_file")

// Keyring returns the keyring of cfg: secrets.key or the key in
// secrets.key_file, with secrets.previous_keys; with neither and the
// embedded database, the key in database.data_dir/secrets.key, generated
// (mode 0600) on first use.
func Keyring(cfg *config.Config) (*secrets.Keyring, error) {
	s := cfg.Secrets
	key := s.Key
	switch {
	case key != "":
	case s.KeyFile != "":
		var err error
		if key, err = secrets.ReadKeyFile(s.KeyFile); err != nil {
			return nil, err
		}
	case cfg.Database.URL == "":
		var err error
		if key, err = secrets.EnsureKeyFile(filepath.Join(cfg.Database.DataDir, config.EmbeddedKeyFile)); err != nil {
			return nil, fmt.Errorf("the embedded database's secrets key: %w", err)
		}
	default:
		return nil, ErrNoSecretsKey
	}
	return secrets.NewKeyring(key, s.PreviousKeys...)
}

// checkKey refuses a configuration whose keyring, kr, is not the
// database's. The newest endpoint's signing secret (hookd's own endpoints
// included) names the key that sealed it; a process with another key
// could read none of the secrets, and would seal what it writes under a
// key no other process has, which hookd serve then refuses to start with.
// One row, read by key.
func checkKey(ctx context.Context, ex db.Executor, kr *secrets.Keyring) error {
	var stored string
	err := ex.QueryRow(ctx, `SELECT secret FROM hookd.endpoints ORDER BY id DESC LIMIT 1`).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if id, held := kr.KeyOf(stored); !held {
		return fmt.Errorf("the secrets key is not this database's: its secrets are sealed under key %s, and the key configured is %s "+
			"(secrets.key, secrets.key_file, secrets.previous_keys): check the key; nothing was changed", id, kr.ID())
	}
	return nil
}

// ResealSecrets re-seals every stored secret not sealed under the current
// key (one sealed under a previous key, or a plaintext from before
// encryption at rest), in transactions of a few hundred rows, and returns
// how many endpoints and sources it changed. `hookd secrets rotate` runs
// it, and so does `hookd serve` at start.
func ResealSecrets(ctx context.Context, ex db.Executor, logger *slog.Logger) (endpoints, sources int, err error) {
	for {
		n, err := endpoint.Reseal(ctx, ex, resealBatch)
		endpoints += n
		if err != nil {
			return endpoints, sources, fmt.Errorf("re-seal endpoint secrets: %w", err)
		}
		if n == 0 {
			break
		}
	}
	for {
		n, err := inbox.ResealSources(ctx, ex, resealBatch)
		sources += n
		if err != nil {
			return endpoints, sources, fmt.Errorf("re-seal source secrets: %w", err)
		}
		if n == 0 {
			break
		}
	}
	if logger != nil && endpoints+sources > 0 {
		logger.Info("secrets re-sealed under the current key", slog.String("key", secrets.Default().ID()),
			slog.Int("endpoints", endpoints), slog.Int("sources", sources))
	}
	return endpoints, sources, nil
}
