package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// idleClaim runs the dispatcher with nothing due for opts.IdleWindow and
// reads from pg_stat_statements what its claims cost the database: the
// claim's lane statement (the one that locks hookd.lanes, found by its
// text), and every statement together. EXPLAIN ANALYZE of the lane
// statement, prepared from the text pg_stat_statements recorded, gives a
// second reading.
func (b *bench) idleClaim(ctx context.Context) (IdleClaim, error) {
	r := IdleClaim{Window: Duration(b.opts.IdleWindow), Calls: -1, MeanMS: -1, ExplainMS: -1, DBMSPerSec: -1}
	if !b.statsOK {
		r.Note = "pg_stat_statements is not loaded on this server: not measured (the bench's own server preloads it)"
		return r, nil
	}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return r, err
	}
	defer pool.Close()
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		return r, err
	}
	sleepCtx(ctx, 300*time.Millisecond) // the first claim at start, and LISTEN
	resetStatements(ctx, b.admin)
	sleepCtx(ctx, b.opts.IdleWindow)
	all := statements(ctx, b.admin, 50)
	stopDispatcher(d)

	var total float64
	var claim *Statement
	for i, s := range all {
		if isUtility(s.Query) {
			continue
		}
		total += s.TotalMS
		if isLaneClaim(s.Query) && (claim == nil || s.Calls > claim.Calls) {
			claim = &all[i]
		}
	}
	r.DBMSPerSec = total / b.opts.IdleWindow.Seconds()
	if claim == nil {
		r.Note = "no statement locking hookd.lanes ran in the window"
		return r, nil
	}
	r.Calls, r.MeanMS, r.Query = claim.Calls, claim.MeanMS, claim.Query
	r.ExplainMS = b.explain(ctx, claim.Query)
	return r, nil
}

func isUtility(q string) bool {
	q = strings.ToUpper(strings.TrimSpace(q))
	return q == "BEGIN" || q == "COMMIT" || q == "ROLLBACK" || strings.HasPrefix(q, "LISTEN") ||
		strings.HasPrefix(q, "UNLISTEN")
}

var laneClaim = regexp.MustCompile(`(?is)FROM\s+hookd\.lanes\b.*FOR\s+UPDATE`)

func isLaneClaim(q string) bool { return laneClaim.MatchString(q) }

var params = regexp.MustCompile(`\$(\d+)`)

// explain runs EXPLAIN ANALYZE of query (a normalized statement with the
// claim limit as its only parameter) in a transaction that is rolled back,
// and returns its execution time in ms, or -1.
func (b *bench) explain(ctx context.Context, query string) float64 {
	for _, m := range params.FindAllStringSubmatch(query, -1) {
		if m[1] != "1" {
			return -1 // other constants were normalized away: they cannot be filled in
		}
	}
	conn, err := b.admin.Acquire(ctx)
	if err != nil {
		return -1
	}
	defer conn.Release()
	c := conn.Conn()
	if _, err := c.Exec(ctx, `BEGIN`); err != nil {
		return -1
	}
	defer func() {
		_, _ = c.Exec(ctx, `ROLLBACK`)
		_, _ = c.Exec(ctx, `DEALLOCATE hookd_bench_claim`)
	}()
	if _, err := c.Exec(ctx, `PREPARE hookd_bench_claim AS `+query); err != nil {
		return -1
	}
	var out []byte
	limit := b.opts.Delivery.ClaimBatch
	if limit <= 0 {
		limit = 100
	}
	if err := c.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE hookd_bench_claim(%d)`, limit)).Scan(&out); err != nil {
		return -1
	}
	var plan []struct {
		ExecutionTime float64 `json:"Execution Time"`
	}
	if json.Unmarshal(out, &plan) != nil || len(plan) == 0 {
		return -1
	}
	return plan[0].ExecutionTime
}
