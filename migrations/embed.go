// Package migrations holds hookd's schema as numbered SQL files.
//
// Files are named NNN_description.sql and applied in order by core/db.
// Every object lives in the "hookd" schema so that the outbox can share a
// database with the producer's own tables without name clashes.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
