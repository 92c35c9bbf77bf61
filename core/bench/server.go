package bench

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/pgembed"
)

// ServerSettings are the settings of the bench's own PostgreSQL, on top
// of pgembed's: durable (fsync and synchronous_commit on, full-page
// writes), sized like the baseline's server, with pg_stat_statements
// preloaded and WAL and I/O timing tracked so that the report can say
// where the database's time goes.
var ServerSettings = map[string]string{
	"max_connections":                     "200",
	"shared_buffers":                      "256MB",
	"fsync":                               "on",
	"synchronous_commit":                  "on",
	"full_page_writes":                    "on",
	"wal_level":                           "replica",
	"max_wal_size":                        "1GB",
	"checkpoint_timeout":                  "5min",
	"track_wal_io_timing":                 "on",
	"track_io_timing":                     "on",
	"shared_preload_libraries":            "pg_stat_statements",
	"pg_stat_statements.track":            "top",
	"pg_stat_statements.max":              "5000",
	"logging_collector":                   "off",
	"idle_in_transaction_session_timeout": "0",
}

// ServerDatabase is the database the bench uses on its own server.
const ServerDatabase = "bench"

// Server is a throwaway PostgreSQL for one run: started in a temporary
// directory with ServerSettings and removed by Stop.
type Server struct {
	cluster *pgembed.Cluster
	dir     string
	// URL points at ServerDatabase.
	URL string
}

// StartServer starts a throwaway PostgreSQL with ServerSettings in a new
// temporary directory and creates ServerDatabase in it. Stop it when done.
func StartServer(ctx context.Context, logger *slog.Logger) (*Server, error) {
	dir, err := os.MkdirTemp("", "hookd-bench-")
	if err != nil {
		return nil, err
	}
	// The server may run as another user (when this is root): let it in.
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	start, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := pgembed.Start(start, pgembed.Options{DataDir: dir, Logger: logger, Settings: maps.Clone(ServerSettings)})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start a PostgreSQL of its own: %w", err)
	}
	s := &Server{cluster: c, dir: dir, URL: c.URL(ServerDatabase)}
	conn, err := pgx.Connect(start, c.URL("postgres"))
	if err == nil {
		_, err = conn.Exec(start, "CREATE DATABASE "+ServerDatabase)
		_ = conn.Close(context.WithoutCancel(start))
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("bench: create the database: %w", err)
	}
	return s, nil
}

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.cluster.Stop(ctx)
	_ = os.RemoveAll(s.dir)
}

// readyWAL makes n WAL segments ready for reuse, as a server that has run
// a while has them: each checkpoint renames the segments it is done with
// into future ones. A new cluster has none, so each 16 MB segment its WAL
// reaches is made then, zero-filled and synced while commits wait. That
// cost the first phase on a new server about 7 µs of PostgreSQL's CPU a
// delivery, and stalls, which an install that has run a while does not
// have. Each switch makes a segment; the checkpoint after recycles them.
// It returns how many segments lie ready ahead of the current one.
func readyWAL(ctx context.Context, admin *pgxpool.Pool, n int) (int, error) {
	for range n {
		// A switch needs WAL written since the last one: a commit's.
		if _, err := admin.Exec(ctx, `SELECT txid_current()`); err != nil {
			return 0, err
		}
		if _, err := admin.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			return 0, err
		}
	}
	if _, err := admin.Exec(ctx, `CHECKPOINT`); err != nil {
		return 0, err
	}
	var ready int
	err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_ls_waldir()
		WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())`).Scan(&ready)
	return ready, err
}
