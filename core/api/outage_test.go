package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/dbtest"
)

// admin runs one statement on the test server's administrative database.
func admin(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestDatabaseDownAnswers503: while the database refuses connections and
// has dropped the pool's, every route that needs it answers 503
// unavailable with Retry-After, not 500; once it is back, they work.
func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	dbName := b.pool.Config().ConnConfig.Database
	t.Cleanup(func() { admin(t, `ALTER DATABASE `+pgx.Identifier{dbName}.Sanitize()+` ALLOW_CONNECTIONS true`) })
	admin(t, `ALTER DATABASE `+pgx.Identifier{dbName}.Sanitize()+` ALLOW_CONNECTIONS false`)
	admin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName)

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints", ""},
		{"GET", "/v1/endpoints/" + ep.ID, ""},
		{"POST", "/v1/endpoints", `{"url":"https://example.com/x"}`},
		{"PATCH", "/v1/endpoints/" + ep.ID, `{"description":"x"}`},
		{"POST", "/v1/events", `{"type":"a.b"}`},
		{"GET", "/v1/events", ""},
		{"GET", "/v1/events/evt_1", ""},
		{"GET", "/v1/deliveries", ""},
		{"GET", "/v1/deliveries/1", ""},
		{"POST", "/v1/replay", `{"dry_run":true}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := b.do(t, c.method, c.path, body)
		r.wantError(t, http.StatusServiceUnavailable, "unavailable", "database")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}

	admin(t, `ALTER DATABASE `+pgx.Identifier{dbName}.Sanitize()+` ALLOW_CONNECTIONS true`)
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusOK, nil)
}
