package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// small are options that run every phase briefly.
func small() Options {
	return Options{
		Events: 300, Live: 3, Workers: 8, CeilingRequests: 2000, CeilingConcurrency: 8,
		Rates: []float64{200}, Duration: 400 * time.Millisecond,
		SustainedProbe: 300 * time.Millisecond, SustainedProbes: 2, SustainedHold: 500 * time.Millisecond,
		SlowBacklog: 40, SlowDelay: 20 * time.Millisecond, Others: 3, OthersRate: 150,
		IdleWindow: 400 * time.Millisecond, SingleEvents: 40, PhaseTimeout: time.Minute,
		Delivery: config.Delivery{PollInterval: 100 * time.Millisecond}, WALSegments: 3,
	}
}

// A small run on the bench's own server measures every phase, the scale
// leg included, with PostgreSQL's account of each; the figures themselves
// are not judged, their presence and consistency are.
func TestRunOwnServerEveryPhase(t *testing.T) {
	// Not parallel: the CPU profiler serves one profile at a time.
	o := small()
	o.Endpoints, o.Tenants = 40, 8
	var prof bytes.Buffer
	o.CPUProfile = &prof
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Machine
	if !m.OwnServer || !m.Statements || m.SynchronousCommit != "on" || m.Fsync != "on" || m.WALIOTiming != "on" {
		t.Errorf("machine = %+v; want the own, durable server with pg_stat_statements and WAL timing", m)
	}
	// A month of daily partitions, and those ahead of now.
	if days := int(time.Duration(m.History) / (24 * time.Hour)); m.History != Duration(DefaultHistory) || m.Partitions < days+2 {
		t.Errorf("history %s in %d partitions, want %s in more than %d", m.History, m.Partitions, time.Duration(DefaultHistory), days+1)
	}
	if m.WALReady < o.WALSegments {
		t.Errorf("%d WAL segments ready for reuse, want at least the %d made", m.WALReady, o.WALSegments)
	}
	for _, c := range []Ceiling{rep.Ceiling, rep.CeilingHookd} {
		if c.Errors != 0 || c.Received != int64(c.Requests) || c.PerSec <= 0 || c.IdleConns != baselineIdleConns {
			t.Errorf("ceiling %s = %+v", c.Headers, c)
		}
		checkSplit(t, "ceiling "+c.Headers, c.CPU)
	}
	if rep.Ceiling.Headers != HeadersBaseline || rep.CeilingHookd.Headers != HeadersHookd {
		t.Errorf("ceilings = %q, %q", rep.Ceiling.Headers, rep.CeilingHookd.Headers)
	}
	if rep.Scale == nil {
		t.Fatal("no scale leg although endpoints exceed the live ones")
	}
	if rep.Scale.QuietEndpoints != 40 || rep.Scale.Tenants != 8 || !strings.Contains(rep.Scale.Setup, "endpoint.Create") {
		t.Errorf("scale leg = %d quiet, %d tenants, %q", rep.Scale.QuietEndpoints, rep.Scale.Tenants, rep.Scale.Setup)
	}
	for _, l := range []Leg{rep.Small, *rep.Scale} {
		checkLeg(t, l, o)
	}
	s := rep.Sustained
	if s == nil || len(s.Probes) == 0 || s.Hold.Published == 0 || s.Hold.Missing != 0 || s.Hold.Latency.N != s.Hold.Published {
		t.Errorf("sustained = %+v", s)
	}
	if len(rep.Latency) != 1 || rep.Latency[0].Missing != 0 || rep.Latency[0].Published == 0 ||
		rep.Latency[0].Latency.N != rep.Latency[0].Published || rep.Latency[0].Cost.DB.WALBytes <= 0 {
		t.Errorf("latency = %+v", rep.Latency)
	}
	// Every delivery's wait is split into its parts, each no longer than
	// the whole it is part of.
	for _, st := range []Steady{s.Hold, rep.Latency[0]} {
		for _, part := range []Dist{st.ToClaim, st.ClaimToRequest, st.Request} {
			if part.N != st.Published || part.Max > st.Latency.Max {
				t.Errorf("a part of return->receipt: %+v, of %d deliveries whose publish->receipt max is %v", part, st.Published, st.Latency.Max)
			}
		}
	}
	f := rep.Fairness
	if f == nil || f.OthersSent == 0 || f.OthersMissing != 0 || f.SlowDelivered+f.SlowLeft != int64(o.SlowBacklog) {
		t.Errorf("fairness = %+v", f)
	}
	if len(rep.Ratios) < 6 {
		t.Errorf("ratios = %+v; want the ceiling, burn-down, sustained and scale ratios", rep.Ratios)
	}
	if prof.Len() == 0 {
		t.Error("no CPU profile written")
	}

	var out bytes.Buffer
	rep.WriteText(&out)
	text := out.String()
	for _, want := range []string{"== ceiling", "baseline's headers", "hookd's headers", "idle claim",
		"burn-down:", "HTTP batch: ", "events/s through POST /v1/events/batch", "per delivery:", "rows per delivery:", "statements by total time", "active backends",
		"== scale:", "== sustained", "== latency", "== fairness", "== ratios", "= burn-down deliveries/s /",
		"CPU split:"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) > width {
			t.Errorf("line %d is %d columns: %q", i+1, utf8.RuneCountInString(line), line)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("JSON: %v", err)
	}
}

func checkLeg(t *testing.T, l Leg, o Options) {
	t.Helper()
	b := l.Burndown
	if b.Received != int64(o.Events) || b.Rejected != 0 || b.PerSec <= 0 || b.Publish.PerSec <= 0 || b.CPUBound <= 0 {
		t.Errorf("burn-down (%d quiet) = %+v", l.QuietEndpoints, b)
	}
	db := b.Cost.DB
	if db.WriteXacts <= 0 || db.WALBytes <= 0 || db.WALSyncs <= 0 || len(db.Statements) == 0 {
		t.Errorf("burn-down (%d quiet) database use = %+v", l.QuietEndpoints, db)
	}
	// Every attempt is logged: at least one row per delivery.
	if a := db.Tables["attempts"]; a.Inserted < int64(o.Events) {
		t.Errorf("attempts inserted = %d; want at least %d", a.Inserted, o.Events)
	}
	// Claiming reads each delivery it takes, and the completion again.
	if q := db.Tables["queue"]; q.Read < int64(o.Events) {
		t.Errorf("queue rows read = %d; want at least %d", q.Read, o.Events)
	}
	if c := b.Cost.CPU; c.PostgreSQL <= 0 || c.Wall <= 0 {
		t.Errorf("burn-down CPU = %+v; want PostgreSQL's", c)
	}
	checkSplit(t, "burn-down", b.Cost.CPU)
	if b.Total.DB.WALBytes <= db.WALBytes || b.Publish.Cost == nil || b.Publish.Cost.DB.WALBytes <= 0 {
		t.Errorf("publishing adds nothing to the burn-down's WAL: %d vs %d", b.Total.DB.WALBytes, db.WALBytes)
	}
	if ic := l.IdleClaim; ic.Calls < 1 || ic.MeanMS < 0 || ic.DBMSPerSec < 0 || !isLaneClaim(ic.Query) {
		t.Errorf("idle claim = %+v", ic)
	}
	if h := l.HTTPBatch; !h.Available || h.PerSec <= 0 || h.Cost == nil || h.Cost.DB.Tables["events"].Inserted < int64(o.Events) {
		t.Errorf("HTTP batch = %+v; want every event published through the route, measured", h)
	}
	if l.Single.PerSec <= 0 {
		t.Errorf("single publish = %+v", l.Single)
	}
}

// checkSplit checks that the bench process's CPU is divided among the
// known parts, whole; how much each got depends on the samples a short
// run happens to take (TestSplitByPart checks the attribution).
func checkSplit(t *testing.T, what string, c CPU) {
	t.Helper()
	var sum float64
	for k, v := range c.Split {
		switch k {
		case partHookd, partReceiver, partLoad, partRuntime:
		default:
			t.Errorf("%s: CPU split has an unknown part %q", what, k)
		}
		sum += v
	}
	if c.Split == nil && c.Bench < 0.05 {
		return // too short for the profile's 100 samples a second to catch one
	}
	if sum < 0.999*c.Bench || sum > 1.001*c.Bench {
		t.Errorf("%s: CPU split %v does not add up to the bench process's %.3f s", what, c.Split, c.Bench)
	}
}

// Work done in goroutines labelled with a part, and in the goroutines
// they start, is counted to that part.
func TestSplitByPart(t *testing.T) {
	// Not parallel: the CPU profiler serves one profile at a time.
	spin := func(d time.Duration) {
		x := 0
		for end := time.Now().Add(d); time.Now().Before(end); x++ {
		}
		_ = x
	}
	m := startCPU(0, true)
	if !m.profiling {
		t.Fatal("could not start a CPU profile")
	}
	var wg sync.WaitGroup
	withPart(context.Background(), partReceiver, func(context.Context) {
		wg.Go(func() { spin(400 * time.Millisecond) }) // a child goroutine
	})
	withPart(context.Background(), partHookd, func(context.Context) { spin(400 * time.Millisecond) })
	wg.Wait()
	c, raw := m.stop()
	if len(raw) == 0 {
		t.Fatal("no profile")
	}
	if c.Split[partReceiver] <= 0 || c.Split[partHookd] <= 0 {
		t.Errorf("split = %v; want time for both parts", c.Split)
	}
	if c.PostgreSQL != -1 {
		t.Errorf("PostgreSQL CPU = %v without a postmaster; want -1", c.PostgreSQL)
	}
}

// On a server without pg_stat_statements (the test server) the bench
// still runs and says what it could not measure.
func TestRunWithoutStatements(t *testing.T) {
	// Not parallel: the CPU profiler serves one profile at a time.
	o := small()
	o.DatabaseURL = dbtest.NewDB(t)
	o.Rates, o.SustainedHold, o.SlowBacklog = []float64{}, -1, -1
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Machine.OwnServer || rep.Machine.Statements {
		t.Errorf("machine = %+v; want the given server, without pg_stat_statements", rep.Machine)
	}
	if rep.Small.Burndown.Received != int64(o.Events) || rep.Small.Burndown.Cost.DB.WALBytes <= 0 {
		t.Errorf("burn-down = %+v", rep.Small.Burndown)
	}
	if rep.Small.IdleClaim.MeanMS != -1 || !strings.Contains(rep.Small.IdleClaim.Note, "pg_stat_statements") {
		t.Errorf("idle claim = %+v; want a note instead of figures", rep.Small.IdleClaim)
	}
	if rep.Sustained != nil || rep.Latency != nil || rep.Fairness != nil || rep.Scale != nil {
		t.Error("skipped phases were run")
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if !strings.Contains(out.String(), "pg_stat_statements is not loaded") {
		t.Errorf("report does not say what it could not measure:\n%s", out.String())
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Events: 2, Live: 3},
		{Live: 4, Endpoints: 100, Tenants: 2},
		{Workers: -1},
	} {
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "bench:") {
			t.Errorf("Run(%+v) = %v; want a bench error", o, err)
		}
	}
}

func TestBacklogSlope(t *testing.T) {
	t.Parallel()
	tr := &backlogTrace{}
	for i := range 9 {
		tr.at = append(tr.at, float64(i)/4)
		tr.n = append(tr.n, int64(100+40*i)) // 160 per second
	}
	if s := tr.slope(); s < 159.9 || s > 160.1 {
		t.Errorf("slope = %v; want 160", s)
	}
	if tr.max() != 420 || tr.last() != 420 {
		t.Errorf("max, last = %d, %d", tr.max(), tr.last())
	}
	if (&backlogTrace{}).slope() != 0 {
		t.Error("an empty trace has a slope")
	}
}

// TestLongestStall: a gap in receipts counts only while a committed event
// waits; idle time with nothing published is no stall.
func TestLongestStall(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name string
		evs  [][2]int // commit, receipt (ms); a receipt of -1 never came
		want int
	}{
		{"steady", [][2]int{{0, 5}, {100, 103}, {200, 202}}, 5},
		{"a missed wake-up", [][2]int{{0, 5}, {0, 10}, {12, 1012}, {500, 505}}, 507},
		{"behind but flowing", [][2]int{{0, 40}, {0, 50}, {0, 60}, {10, 70}}, 40},
		{"never received", [][2]int{{0, 5}, {1, -1}, {100, 101}}, 5},
	} {
		var all []sent
		got := map[string]time.Time{}
		for i, e := range c.evs {
			id := fmt.Sprint(i)
			all = append(all, sent{id: id, at: at(e[0]), done: at(e[0])})
			if e[1] >= 0 {
				got[id] = at(e[1])
			}
		}
		if s := longestStall(all, func(id string) time.Time { return got[id] }); s != time.Duration(c.want)*time.Millisecond {
			t.Errorf("%s: longest stall %v, want %d ms", c.name, s, c.want)
		}
	}
}

func TestDistNearestRank(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	ds = append(ds, 0) // a sample that never came
	d := distOf(ds)
	if d.N != 100 || d.P50 != 50*time.Millisecond || d.P99 != 99*time.Millisecond || d.Max != 100*time.Millisecond {
		t.Errorf("dist = %+v", d)
	}
}

func TestPrinterWrapsAt80(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printer{&out}.line(4, "%s", strings.Repeat("word ", 60))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("not wrapped: %q", out.String())
	}
	for _, l := range lines {
		if len(l) > width || !strings.HasPrefix(strings.TrimLeft(l, " "), "word") || !strings.HasPrefix(l, "    ") {
			t.Errorf("line %q", l)
		}
	}
}

func TestDescribeStatement(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"WITH d AS (DELETE FROM hookd.queue q WHERE ...) INSERT INTO hookd.finished SELECT ..., " +
			"x AS (INSERT INTO hookd.attempts ...) INSERT INTO hookd.finished": "delete queue, insert finished, insert attempts",
		"SELECT l.endpoint_id FROM hookd.lanes l JOIN hookd.endpoints e": "read lanes",
		"UPDATE ONLY hookd.lanes SET ready_at = now()":                   "update lanes",
		"commit": "",
	} {
		if got := describe(q); got != want {
			t.Errorf("describe(%q) = %q; want %q", q, got, want)
		}
	}
}
