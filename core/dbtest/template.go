package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/migrations"
)

// Span is the partition span of test databases: the default retention's.
var Span = partition.SpanFor(30 * 24 * time.Hour)

// templatePrefix starts the name of every template database; the rest is
// the hash of the migration files it was built from.
const templatePrefix = "hookd_tmpl_"

// templateLockKey is the advisory lock that serialises template builds
// across processes (the first 8 bytes of sha256("hookd dbtest template")).
const templateLockKey int64 = 0x2b1f6d0c5e3a9471

// template returns the name of the migrated template on the server,
// building it if no process has yet.
func template(serverURL string) (string, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.template != "" {
		return state.template, nil
	}
	name, err := templateName(migrations.FS)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	if err := ensureTemplate(ctx, serverURL, name); err != nil {
		return "", fmt.Errorf("dbtest: build template database %s: %w", name, err)
	}
	state.template = name
	return name, nil
}

// templateBuild names how migrate builds a template: change it with
// migrate, so that templates built the old way are built again.
const templateBuild = "partitions from now"

// templateName hashes the migration files' names and contents, and
// templateBuild, so a changed migration gets a fresh template.
func templateName(fsys fs.FS) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", templateBuild)
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("dbtest: hash migrations: %w", err)
	}
	return templatePrefix + hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// ensureTemplate builds the template under an advisory lock. It is built
// under another name and renamed when complete, so a template that exists
// is always fully migrated, even if a builder died half-way.
func ensureTemplate(ctx context.Context, serverURL, name string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx) // also releases the advisory lock
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := pgx.Identifier{name + "_build"}.Sanitize()
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + building + " WITH (FORCE)", // left by a builder that died
		"CREATE DATABASE " + building,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
	}
	if err := migrate(ctx, withDatabase(serverURL, name+"_build")); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return err
	}
	return dropOldTemplates(ctx, conn, name)
}

func migrate(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := db.Migrate(ctx, conn); err != nil {
		return err
	}
	// Partitions a week ahead, so that databases cloned from this template
	// in the next days need none made (see NewDB). Ensure continues after
	// the last partition there is, from no earlier than its own now less a
	// span: first from now, or the days between today's partition (made by
	// the migrations) and the fourth would have none, and inserts there
	// fail once the clock reaches them.
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(4 * 24 * time.Hour)} {
		if _, err := partition.Ensure(ctx, conn, Span, at); err != nil {
			return err
		}
	}
	return nil
}

// dropOldTemplates removes templates of earlier migration sets, which
// would otherwise pile up in a long-lived test server.
func dropOldTemplates(ctx context.Context, conn *pgx.Conn, keep string) error {
	// The newest few stay: test runs of other checkouts (other migrations)
	// may be cloning theirs right now.
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2
		ORDER BY oid DESC OFFSET 3`, templatePrefix, keep)
	if err != nil {
		return err
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, name := range old {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	return nil
}
