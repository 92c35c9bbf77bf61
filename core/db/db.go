// Package db opens hookd's PostgreSQL pool, applies the schema and maps
// driver errors to the domain errors every other package uses.
//
// # Executors
//
// Every query function in hookd takes an [Executor], so that the same code
// runs on a pool, a connection or the caller's own pgx.Tx. That is what makes
// the outbox transactional: a producer passes its business transaction and
// the event commits or rolls back with it.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Executor is what *pgxpool.Pool, *pgx.Conn and pgx.Tx have in common.
// Begin starts a transaction, or a savepoint inside one, so that a
// function that must change several rows atomically can do so on any
// executor without asserting its type.
type Executor interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Domain errors returned by every package that reads or writes the store.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("already exists")
)

// Interpret maps driver errors to domain errors: pgx.ErrNoRows becomes
// ErrNotFound and a unique violation becomes ErrConflict (wrapped, so the
// constraint's detail stays readable). Other errors pass through.
func Interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return conflictOf(pgErr.Detail)
	}
	return err
}

// ConflictError is a unique violation, naming the key: Field is its
// column (or columns, comma separated) and Value what was given for it.
// errors.Is(err, ErrConflict) holds.
type ConflictError struct {
	Field, Value string
}

func (e *ConflictError) Error() string {
	if e.Field == "" {
		return ErrConflict.Error()
	}
	return fmt.Sprintf("%s: %q already exists", e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// conflictOf reads a unique violation's detail, "Key (name)=(s1) already
// exists.", so that the answer names the field rather than quoting the
// database.
func conflictOf(detail string) error {
	rest, ok := strings.CutPrefix(detail, "Key (")
	cols, vals, ok2 := strings.Cut(rest, ")=(")
	vals, ok3 := strings.CutSuffix(vals, ") already exists.")
	if !ok || !ok2 || !ok3 {
		return &ConflictError{}
	}
	return &ConflictError{Field: cols, Value: vals}
}

// IsForeignKeyViolation reports whether err is a violation of the foreign
// key constraint named constraint.
func IsForeignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == constraint
}

// Options tune the pool.
type Options struct {
	// MaxConns bounds the pool. Defaults to 20.
	MaxConns int32
	// AppName is reported in pg_stat_activity. Defaults to "hookd".
	AppName string
}

// Open connects a pool to url and checks that the server answers.
// The caller must Close the pool.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database.url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else {
		cfg.MaxConns = 20
	}
	appName := opts.AppName
	if appName == "" {
		appName = "hookd"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	// hookd's transactions rely on each statement seeing what committed
	// before it began (the lanes, for one: a claimer drops a lane after
	// looking again for due work), which a database or server configured
	// for a stricter default would take away. Set on the connection where
	// needed rather than as a startup parameter, which PgBouncer refuses
	// unless told to ignore it (hookd needs session pooling anyway: it
	// LISTENs).
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		var iso string
		if err := conn.QueryRow(ctx, `SHOW default_transaction_isolation`).Scan(&iso); err != nil {
			return err
		}
		if iso == "read committed" {
			return nil
		}
		_, err := conn.Exec(ctx, `SET default_transaction_isolation = 'read committed'`)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// InTx runs fn in a transaction on pool, committing when fn returns nil and
// rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}
