// Package app wires hookd's services together for `hookd serve` and gives
// the CLI its database. Every constructor returns what it built, so tests
// (and other commands) can call the same wiring.
//
// # The embedded database
//
// With database.url empty, hookd uses its own PostgreSQL in
// database.data_dir (core/pgembed). [Connect] first attaches to a server
// that another hookd process already runs on that directory (a CLI command
// next to a running `hookd serve`), and starts one only when none runs.
// Only a server this process started, or took over because the hookd that
// started it died (pgembed.Adopt), is stopped by [Database.Close]; an
// attached one keeps running for its live owner.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/secrets"
)

// EmbeddedDatabase is the database hookd creates and uses inside its own
// PostgreSQL server.
const EmbeddedDatabase = "hookd"

// stopTimeout bounds stopping the embedded server on Close.
const stopTimeout = 30 * time.Second

// Database is an open pool and, for the embedded default, the server
// behind it. Close it when done.
type Database struct {
	// Pool is the connection pool; it is closed by Close.
	Pool *pgxpool.Pool
	// URL is what Pool connects to (with the password, for the embedded
	// server): a CLI command or a test may open more connections with it.
	URL string
	// Embedded reports that the server is hookd's own (database.url empty).
	Embedded bool
	// Attached reports that the embedded server belongs to another hookd
	// process; Close leaves it running.
	Attached bool

	logger  *slog.Logger
	keyring *secrets.Keyring // the configuration's, which Connect installed
	cluster *pgembed.Cluster // started by this process, stopped by Close
	once    sync.Once
}

// Connect opens the database of cfg without touching the schema: with
// database.url set it connects there; otherwise it attaches to, or starts,
// the embedded server in database.data_dir and connects to its "hookd"
// database, creating it on first use. It first installs the keyring of
// cfg (see Keyring) as the process keyring, with which the stores seal
// and open secrets.
func Connect(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Database, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The key first: nothing is started for a configuration that could
	// not keep its secrets.
	kr, err := Keyring(cfg)
	if err != nil {
		return nil, err
	}
	secrets.Install(kr)
	d := &Database{URL: cfg.Database.URL, logger: logger, keyring: kr}
	if d.URL == "" {
		if err := d.startEmbedded(ctx, cfg.Database.DataDir); err != nil {
			return nil, err
		}
	}
	pool, err := db.Open(ctx, d.URL, db.Options{MaxConns: cfg.Database.MaxConns})
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Pool = pool
	return d, nil
}

// RequireExisting returns an error unless cfg names a database that exists
// already. With database.url set, that is the server's to say; with the
// embedded default, database.data_dir must hold a cluster. Commands that
// only use a database call it before Connect, so that a mistyped
// --data-dir fails instead of starting an empty system with a secrets key
// of its own: only serve, demo and migrate create the embedded database.
func RequireExisting(cfg *config.Config) error {
	if cfg.Database.URL != "" {
		return nil
	}
	ok, err := pgembed.Exists(cfg.Database.DataDir)
	if err != nil {
		return fmt.Errorf("embedded PostgreSQL in %s: %w", cfg.Database.DataDir, err)
	}
	if !ok {
		dir, _ := filepath.Abs(cfg.Database.DataDir)
		return fmt.Errorf("no hookd database in %s (database.data_dir, --data-dir): check the directory, or create the database there with `hookd serve` or `hookd migrate`", dir)
	}
	return nil
}

// OpenDatabase is Connect followed by the schema check: with
// database.auto_migrate it applies pending migrations, otherwise it fails
// unless the schema is current, telling to run `hookd migrate`.
func OpenDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Database, error) {
	d, err := Connect(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := d.ensureSchema(ctx, cfg.Database.AutoMigrate); err != nil {
		d.Close()
		return nil, err
	}
	if err := checkKey(ctx, d.Pool, d.keyring); err != nil {
		d.Close()
		return nil, err
	}
	// History lives in time partitions: those around now must exist before
	// anything is published (the maintenance leader keeps them ahead).
	// Tables kept busy by open transactions only delay that: the
	// partitions are made ahead of need, and the leader tries again.
	if _, err := partition.Ensure(ctx, d.Pool, partition.SpanFor(cfg.Retention.Period), time.Now()); partition.IsBusy(err) {
		logger.Warn("the history partitions ahead of now could not be made yet: their tables are busy; maintenance tries again", slog.String("error", err.Error()))
	} else if err != nil {
		d.Close()
		return nil, fmt.Errorf("make the history partitions: %w", err)
	}
	return d, nil
}

func (d *Database) ensureSchema(ctx context.Context, autoMigrate bool) error {
	if autoMigrate {
		if err := db.MigratePool(ctx, d.Pool); err != nil {
			return err
		}
		return nil
	}
	current, err := db.SchemaCurrent(ctx, d.Pool)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // no version table: never migrated
		current, err = false, nil
	}
	if err != nil {
		return fmt.Errorf("check the schema version: %w", err)
	}
	if !current {
		return errors.New("the database schema is not current and database.auto_migrate is false: run `hookd migrate` first")
	}
	return nil
}

// startEmbedded attaches to the server running on dataDir, or starts one,
// and points d.URL at its hookd database.
func (d *Database) startEmbedded(ctx context.Context, dataDir string) error {
	d.Embedded = true
	opts := pgembed.Options{DataDir: dataDir, Logger: d.logger}
	cluster, err := pgembed.Attach(opts)
	if err == nil && cluster.OwnerPID() == 0 {
		// The hookd that started it died (kill -9 leaves PostgreSQL
		// running): this process takes it over and stops it when it stops.
		if adopted, aerr := pgembed.Adopt(ctx, opts); aerr == nil {
			d.cluster = adopted
			return d.useCluster(ctx, adopted)
		}
		// Another process adopted it first: attach to it as to any.
		cluster, err = pgembed.Attach(opts)
	}
	switch {
	case err == nil:
		d.Attached = true
		d.logger.Debug("using the embedded PostgreSQL of another hookd process", slog.String("data_dir", dataDir))
	case errors.Is(err, pgembed.ErrNotRunning):
		cluster, err = pgembed.Start(ctx, opts)
		var inUse *pgembed.InUseError
		if errors.As(err, &inUse) {
			// Another hookd started it between our look and our start (a
			// serve and a CLI command launched together): use its server.
			if cluster, err = pgembed.Attach(opts); err == nil {
				d.Attached = true
				break
			}
		}
		if err != nil {
			return fmt.Errorf("start the embedded PostgreSQL (database.data_dir %s; or set database.url): %w", dataDir, err)
		}
		d.cluster = cluster
	default:
		return fmt.Errorf("embedded PostgreSQL in %s: %w", dataDir, err)
	}
	return d.useCluster(ctx, cluster)
}

// useCluster points d.URL at the hookd database of cluster, creating it
// on first use.
func (d *Database) useCluster(ctx context.Context, cluster *pgembed.Cluster) error {
	if err := createDatabase(ctx, cluster.URL("postgres"), EmbeddedDatabase); err != nil {
		d.Close()
		return err
	}
	d.URL = cluster.URL(EmbeddedDatabase)
	return nil
}

// createDatabase creates name unless it exists; a concurrent creator
// winning the race is fine.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the embedded PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Close closes the pool, then stops the embedded server if this process
// started it. Safe to call twice.
func (d *Database) Close() {
	d.once.Do(func() {
		if d.Pool != nil {
			d.Pool.Close()
		}
		if d.cluster == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := d.cluster.Stop(ctx); err != nil {
			d.logger.Error("stop the embedded PostgreSQL", slog.String("error", err.Error()))
		}
	})
}
