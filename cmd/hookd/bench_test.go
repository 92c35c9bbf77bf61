package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/bench"
	"github.com/hookd/hookd/core/dbtest"
)

// `hookd bench --use-configured-database` runs in a scratch database next
// to the configured one, prints the report, writes the JSON and drops the
// scratch database afterwards.
func TestBenchOnConfiguredDatabase(t *testing.T) {
	// Not parallel: its long transactions (migrations, batches of 1,000)
	// would hold back the events feed that other tests of this package
	// read, the feed being cluster-wide in what it waits for.
	dbURL := dbtest.NewDB(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	out := mustHookd(t, dbURL, "bench", "--use-configured-database", "--events", "200", "--live", "2",
		"--workers", "4", "--ceiling-requests", "300", "--ceiling-concurrency", "4", "--rates", "0",
		"--sustained-hold", "-1s", "--slow-backlog", "-1", "--idle-window", "200ms", "--quiet-wait", "0",
		"--json", jsonPath)
	for _, want := range []string{"== ceiling", "baseline's headers", "== 2 live endpoints", "burn-down:", "== ratios"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, b)
	}
	if rep.Small.Burndown.Received != 200 || rep.Ceiling.Received != 300 || rep.Machine.OwnServer || rep.Scale != nil {
		t.Errorf("report = %+v", rep)
	}
	var left int
	pool := openPool(t, dbURL)
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname LIKE $1`,
		fmt.Sprintf("hookd_bench_%d_%%", os.Getpid())).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d scratch databases left behind", left)
	}
}

func TestBenchRefusesBadOptions(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, nil, "bench", "--events", "2", "--live", "3")
	if r.code == 0 || !strings.Contains(r.errOut, "live endpoints (3) must not exceed events (2)") {
		t.Errorf("exit %d, stderr %q; want the bench's refusal", r.code, r.errOut)
	}
}

func TestWithDatabaseName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/hookd?sslmode=disable": "postgres://u:p@h:5432/scratch?sslmode=disable",
		"host=h user=u dbname=hookd":                  "host=h user=u dbname=hookd dbname=scratch",
	} {
		if got := withDatabaseName(in, "scratch"); got != want {
			t.Errorf("withDatabaseName(%q) = %q; want %q", in, got, want)
		}
	}
}
