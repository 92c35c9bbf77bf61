package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/endpoint"
)

const (
	headerToken = "Bearer tok-0123456789-secret"
	headerKey   = "key-9876543210-secret"
)

// TestCustomHeaderValuesAreNeverShown: custom headers are credentials.
// No answer shows their values (names stay, values read [redacted]), nor
// the attempt log as GET /v1/deliveries/{id} shows it, even for attempts
// recorded with the values in them.
func TestCustomHeaderValuesAreNeverShown(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	var ep endpoint.Endpoint
	r := b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/h",
		"headers": map[string]string{"Authorization": headerToken, "X-Api-Key": headerKey}}).want(t, http.StatusCreated, &ep)
	answers := []*response{r}
	answers = append(answers,
		b.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, nil),
		b.do(t, "GET", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusOK, nil),
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"description":"x"}`).want(t, http.StatusOK, nil),
		b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/disable", nil).want(t, http.StatusOK, nil),
		b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/enable", nil).want(t, http.StatusOK, nil),
		b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/rotate-secret", nil).want(t, http.StatusOK, nil),
	)
	for i, a := range answers {
		if body := string(a.body); strings.Contains(body, "tok-0123456789") || strings.Contains(body, headerKey) {
			t.Errorf("answer %d shows a header value: %s", i, body)
		}
	}
	var list struct{ Endpoints []endpoint.Endpoint }
	if err := json.Unmarshal(answers[1].body, &list); err != nil || len(list.Endpoints) != 1 ||
		list.Endpoints[0].Headers["Authorization"] != endpoint.Redacted || list.Endpoints[0].Headers["X-Api-Key"] != endpoint.Redacted {
		t.Fatalf("list shows headers %+v (%v), want their names with redacted values", list.Endpoints, err)
	}

	// An attempt recorded with the header values in it.
	ctx := context.Background()
	b.do(t, "POST", "/v1/events", `{"id":"evt_h","type":"a.b"}`).want(t, http.StatusAccepted, nil)
	var deliveryID int64
	if err := b.pool.QueryRow(ctx, `SELECT id FROM hookd.deliveries WHERE event_id = 'evt_h'`).Scan(&deliveryID); err != nil {
		t.Fatal(err)
	}
	recorded, _ := json.Marshal(http.Header{"Authorization": {headerToken}, "X-Api-Key": {headerKey},
		"Webhook-Id": {"evt_h"}, "Content-Type": {"application/json"}})
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.attempts (delivery_id, event_stored_at, endpoint_id, attempt, started_at, request_headers)
		SELECT id, event_stored_at, endpoint_id, 1, now(), $2 FROM hookd.deliveries WHERE id = $1`, deliveryID, recorded); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Attempts []struct {
			RequestHeaders http.Header `json:"request_headers"`
		}
	}
	a := b.do(t, "GET", fmt.Sprintf("/v1/deliveries/%d", deliveryID), nil).want(t, http.StatusOK, &shown)
	if strings.Contains(string(a.body), "tok-0123456789") || strings.Contains(string(a.body), headerKey) {
		t.Fatalf("the attempt log shows a header value: %s", a.body)
	}
	h := shown.Attempts[0].RequestHeaders
	if h.Get("Authorization") != endpoint.Redacted || h.Get("Webhook-Id") != "evt_h" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("attempt headers %v: want custom ones redacted, hookd's own kept", h)
	}
}
