package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/retention"
)

func TestDBStats(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	mustHookd(t, dbURL, "endpoints", "add", "--url", "https://example.com/hook")
	mustHookd(t, dbURL, "publish", "--type", "order.created", "--data", `{"n":1}`)
	out := mustHookd(t, dbURL, "db", "stats")
	for _, want := range []string{"retention.period 720h0m0s, partitions of 24h0m0s", "oldest kept partition from", "next drop at",
		"retention has not run yet", "events", "partitioned", "queue", "events_2"} {
		if !strings.Contains(out, want) {
			t.Errorf("db stats lacks %q:\n%s", want, out)
		}
	}
	var st retention.Stats
	if err := json.Unmarshal([]byte(mustHookd(t, dbURL, "db", "stats", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.TotalBytes <= 0 || len(st.Partitions) == 0 || st.OldestKept == nil || st.NextDrop == nil || !st.NextDrop.After(*st.OldestKept) {
		t.Fatalf("db stats --json: %+v", st)
	}
	// The partition of the event published today, not an empty older one
	// (a new install's legacy partition of 1970).
	if age := time.Since(*st.OldestKept); age < 0 || age > 48*time.Hour {
		t.Errorf("oldest kept %s, for an event published now", st.OldestKept)
	}

}
