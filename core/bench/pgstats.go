package bench

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every statement the bench itself sends to measure carries this comment,
// so that pg_stat_statements' report can leave it out.
const adminMark = "/* hookd-bench-admin */ "

// adminApp is the application_name of the measuring connections, which
// the wait sampler leaves out.
const adminApp = "hookd-bench-admin"

// statTables are the hookd tables whose row changes are reported;
// partitions are summed into their parent.
var statTables = []string{"queue", "lanes", "lane_wakes", "finished", "attempts", "endpoint_health", "endpoint_minutes", "events", "event_ids"}

// dbSnap is what PostgreSQL says about its own work at one moment.
type dbSnap struct {
	nextXID   int64 // the difference counts transaction ids assigned: write transactions
	walBytes  int64 // pg_current_wal_lsn(): exact
	walSyncs  int64 // pg_stat_wal.wal_sync: WAL fsyncs, which commits wait on
	walSyncMS float64
	walWrites int64
	tables    map[string]TableUse
}

func takeSnap(ctx context.Context, admin *pgxpool.Pool) (dbSnap, error) {
	s := dbSnap{tables: map[string]TableUse{}}
	err := admin.QueryRow(ctx, adminMark+`
		SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
			(pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,
			w.wal_sync, w.wal_sync_time, w.wal_write
		FROM pg_stat_wal w`).Scan(&s.nextXID, &s.walBytes, &s.walSyncs, &s.walSyncMS, &s.walWrites)
	if err != nil {
		return s, err
	}
	rows, err := admin.Query(ctx, adminMark+`
		SELECT t.name, coalesce(sum(s.n_tup_ins), 0)::bigint, coalesce(sum(s.n_tup_upd), 0)::bigint,
			coalesce(sum(s.n_tup_hot_upd), 0)::bigint, coalesce(sum(s.n_tup_del), 0)::bigint,
			coalesce(sum(coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0)), 0)::bigint
		FROM unnest($1::text[]) AS t(name)
		CROSS JOIN LATERAL (SELECT to_regclass('hookd.' || t.name) AS rel) r
		-- a plain table is not in a partition tree: count it itself
		LEFT JOIN LATERAL (SELECT relid FROM pg_partition_tree(r.rel) UNION SELECT r.rel) p ON true
		LEFT JOIN pg_stat_user_tables s ON s.relid = p.relid
		GROUP BY t.name`, statTables)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var u TableUse
		if err := rows.Scan(&name, &u.Inserted, &u.Updated, &u.HOT, &u.Deleted, &u.Read); err != nil {
			return s, err
		}
		s.tables[name] = u
	}
	return s, rows.Err()
}

// since is the work done between a and s.
func (s dbSnap) since(a dbSnap) DBUse {
	u := DBUse{
		WriteXacts: s.nextXID - a.nextXID,
		WALBytes:   s.walBytes - a.walBytes,
		WALSyncs:   s.walSyncs - a.walSyncs,
		WALSyncMS:  s.walSyncMS - a.walSyncMS,
		WALWrites:  s.walWrites - a.walWrites,
		Tables:     map[string]TableUse{},
	}
	for name, b := range s.tables {
		p := a.tables[name]
		u.Tables[name] = TableUse{Inserted: b.Inserted - p.Inserted, Updated: b.Updated - p.Updated,
			HOT: b.HOT - p.HOT, Deleted: b.Deleted - p.Deleted, Read: b.Read - p.Read}
	}
	return u
}

// enableStatements makes pg_stat_statements usable in the database and
// reports whether it is (the server must preload it).
func enableStatements(ctx context.Context, admin *pgxpool.Pool) bool {
	if _, err := admin.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return false
	}
	return resetStatements(ctx, admin)
}

func resetStatements(ctx context.Context, admin *pgxpool.Pool) bool {
	_, err := admin.Exec(ctx, adminMark+`SELECT pg_stat_statements_reset()`)
	return err == nil
}

var (
	spaces = regexp.MustCompile(`\s+`)
	writes = regexp.MustCompile(`(?i)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?hookd\.(\w+)`)
	reads  = regexp.MustCompile(`(?i)\bFROM\s+hookd\.(\w+)`)
)

// describe names what a statement does to hookd's tables, shorter than
// its text: "insert attempts, delete queue", or "read lanes".
func describe(q string) string {
	var parts []string
	seen := map[string]bool{}
	for _, m := range writes.FindAllStringSubmatch(q, -1) {
		verb := strings.ToLower(strings.Fields(m[1])[0])
		if k := verb + " " + m[2]; !seen[k] {
			seen[k] = true
			parts = append(parts, k)
		}
	}
	if len(parts) == 0 {
		if m := reads.FindStringSubmatch(q); m != nil {
			parts = append(parts, "read "+m[1])
		}
	}
	return strings.Join(parts, ", ")
}

// statements returns this database's statements by total execution time,
// the bench's own measuring left out.
func statements(ctx context.Context, admin *pgxpool.Pool, n int) []Statement {
	rows, err := admin.Query(ctx, adminMark+`
		SELECT calls, total_exec_time, mean_exec_time, rows, query
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%hookd-bench-admin%'
		ORDER BY total_exec_time DESC
		LIMIT $1`, n)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []Statement
	for rows.Next() {
		var s Statement
		if rows.Scan(&s.Calls, &s.TotalMS, &s.MeanMS, &s.Rows, &s.Query) == nil {
			s.Query = strings.TrimSpace(spaces.ReplaceAllString(s.Query, " "))
			s.Does = describe(s.Query)
			out = append(out, s)
		}
	}
	return out
}

// waitSampler samples pg_stat_activity every interval and counts what the
// active client backends (the measuring ones left out) are doing: "CPU"
// when no wait event is set, else "type:event" (IO:WALSync is a commit
// waiting for its fsync, LWLock:WALWrite one waiting behind another's).
type waitSampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	counts  map[string]int
	active  int
	samples int
}

func startWaitSampler(ctx context.Context, admin *pgxpool.Pool, every time.Duration) *waitSampler {
	ctx, cancel := context.WithCancel(ctx)
	w := &waitSampler{cancel: cancel, done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			got, err := sampleWaits(ctx, admin)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.samples++
			w.active += len(got)
			for _, s := range got {
				w.counts[s]++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func sampleWaits(ctx context.Context, admin *pgxpool.Pool) ([]string, error) {
	rows, err := admin.Query(ctx, adminMark+`
		SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
		FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'active' AND backend_type = 'client backend'
		  AND application_name <> $1`, adminApp)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// stop ends sampling and writes the shares into u.
func (w *waitSampler) stop(u *DBUse) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	u.WaitSamples = w.samples
	if w.samples > 0 {
		u.AvgActive = float64(w.active) / float64(w.samples)
	}
	if w.active > 0 {
		u.Waits = map[string]float64{}
		for k, v := range w.counts {
			u.Waits[k] = float64(v) / float64(w.active)
		}
	}
}

// topWaits returns the n largest wait shares, largest first.
func topWaits(m map[string]float64, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}
