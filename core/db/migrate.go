package db

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/hookd/hookd/migrations"
)

// versionTable records the applied schema version (tern's convention).
const versionTable = "hookd.schema_version"

// MigrationInfo describes one embedded migration.
type MigrationInfo struct {
	Version int32
	Name    string
	Applied bool
}

// newMigrator loads the embedded migrations. tern numbers them from the
// file names and rejects gaps and duplicates.
func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	// The version table lives in the hookd schema, so it must exist first.
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS hookd"); err != nil {
		return nil, fmt.Errorf("create schema hookd: %w", err)
	}
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	if err := m.LoadMigrations(migrationFiles()); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

func migrationFiles() fs.FS { return migrations.FS }

// Migrate applies every pending migration on conn, each in its own
// transaction, under tern's advisory lock so that several hookd processes
// starting at once apply each migration exactly once. Running it again
// changes nothing.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigratePool is Migrate on a connection borrowed from pool.
func MigratePool(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return Migrate(ctx, conn.Conn())
}

// Status lists the embedded migrations and whether each is applied.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]MigrationInfo, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	m, err := newMigrator(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	current, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationInfo, 0, len(m.Migrations))
	for _, mig := range m.Migrations {
		out = append(out, MigrationInfo{Version: mig.Sequence, Name: mig.Name, Applied: mig.Sequence <= current})
	}
	return out, nil
}

// SchemaCurrent reports whether every embedded migration is applied. It
// only reads, so /readyz can call it without side effects.
func SchemaCurrent(ctx context.Context, ex Executor) (bool, error) {
	var current int32
	err := ex.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&current)
	if err != nil {
		return false, err
	}
	names, err := migrate.FindMigrations(migrationFiles())
	if err != nil {
		return false, err
	}
	return current == int32(len(names)), nil
}

// MigrateTo applies the embedded migrations up to version (or rolls back
// to it, where a migration has a down step). Upgrade tests and benchmarks
// use it to build a database of an earlier schema.
func MigrateTo(ctx context.Context, conn *pgx.Conn, version int32) error {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.MigrateTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}
