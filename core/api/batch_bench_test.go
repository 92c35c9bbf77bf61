package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// BenchmarkPublishBatchHTTP publishes batches of 1,000 small events, each
// with one delivery, through POST /v1/events/batch on a real server and
// database, and reports events per second. It asserts no time.
//
//	go test ./core/api -run XXX -bench PublishBatchHTTP -benchtime 20x
func BenchmarkPublishBatchHTTP(b *testing.B) {
	bu := setup(b, setupOpts{})
	req, _ := http.NewRequest("POST", bu.srv.URL+"/v1/endpoints", bytes.NewReader([]byte(`{"url":"https://example.com/h"}`)))
	req.Header.Set("Authorization", "Bearer "+bu.key)
	resp, err := bu.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("endpoint: %v %v", resp, err)
	}
	resp.Body.Close()
	bodies := make([][]byte, b.N)
	for n := range bodies {
		var buf bytes.Buffer
		buf.WriteString(`{"events":[`)
		for i := range 1000 {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"id":"b%d_%d","type":"order.created","data":{"order":%d,"total":1999}}`, n, i, i)
		}
		buf.WriteString(`]}`)
		bodies[n] = buf.Bytes()
	}
	b.ResetTimer()
	start := time.Now()
	for n := range b.N {
		req, _ := http.NewRequest("POST", bu.srv.URL+"/v1/events/batch", bytes.NewReader(bodies[n]))
		req.Header.Set("Authorization", "Bearer "+bu.key)
		resp, err := bu.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("batch %d: %d", n, resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkPublishBatchDirect is BenchmarkPublishBatchHTTP without HTTP
// and JSON: outbox.PublishBatch called directly, to tell the API's share.
func BenchmarkPublishBatchDirect(b *testing.B) {
	bu := setup(b, setupOpts{})
	if _, err := endpoint.Create(b.Context(), bu.pool, endpoint.CreateParams{URL: "https://example.com/h"}); err != nil {
		b.Fatal(err)
	}
	batches := make([][]outbox.Event, b.N)
	for n := range batches {
		for i := range 1000 {
			batches[n] = append(batches[n], outbox.Event{ID: fmt.Sprintf("b%d_%d", n, i), Type: "order.created",
				Data: json.RawMessage(fmt.Sprintf(`{"order":%d,"total":1999}`, i))})
		}
	}
	b.ResetTimer()
	start := time.Now()
	for n := range b.N {
		if _, err := bu.pub.PublishBatch(b.Context(), nil, batches[n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "events/s")
}
