package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// A small run delivers everything once and reports every section; the
// figures themselves are not judged.
func TestRunSmall(t *testing.T) {
	t.Parallel()
	rep, err := Run(context.Background(), Options{
		DatabaseURL: dbtest.NewDB(t), Events: 300, Endpoints: 3, Workers: 8,
		Rate: 200, Duration: 300 * time.Millisecond, PhaseTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ceiling.Errors != 0 || rep.Ceiling.PerSec <= 0 {
		t.Errorf("ceiling = %+v", rep.Ceiling)
	}
	if rep.Burndown.Received != 300 || rep.Burndown.Rejected != 0 || rep.Burndown.PerSec <= 0 || rep.Ratio <= 0 {
		t.Errorf("burn-down = %+v, ratio %v", rep.Burndown, rep.Ratio)
	}
	if rep.Steady == nil || rep.Steady.Published == 0 || rep.Steady.Missing != 0 || rep.Steady.Latency.N != rep.Steady.Published {
		t.Errorf("steady = %+v", rep.Steady)
	}
	if rep.Machine.SynchronousCommit != "on" {
		t.Errorf("synchronous_commit = %q, want on", rep.Machine.SynchronousCommit)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	for _, want := range []string{"ceiling", "deliveries/s end to end", "ratio to the ceiling", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {DatabaseURL: "postgres://x/y", Events: 2, Endpoints: 3}} {
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "bench:") {
			t.Errorf("Run(%+v) = %v; want a bench error", o, err)
		}
	}
}
