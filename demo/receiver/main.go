// Command receiver is a minimal webhook receiver for a hookd sender: it
// verifies each request's signature, dedupes on the event id and answers
// 2xx only once the event is handled. Run it with the endpoint's secret:
//
//	WEBHOOK_SECRET=whsec_... go run ./demo/receiver -listen 127.0.0.1:9000
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hookd/hookd/core/signing"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("WEBHOOK_SECRET") // the endpoint's whsec_ secret
	if err := signing.ValidateSecret(secret); err != nil {
		log.Fatalf("WEBHOOK_SECRET: %v", err)
	}
	var (
		mu      sync.Mutex
		handled = map[string]bool{} // in production: a table unique on the event id
	)
	http.HandleFunc("POST /webhooks", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		// Verify the raw bytes before parsing them: webhook-id,
		// webhook-timestamp (within 5 minutes) and webhook-signature.
		res, err := signing.Verify(signing.SchemeStandard, r.Header, body, []string{secret}, 5*time.Minute, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "body is not a hookd event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !handled[res.EventID] { // a retry of a handled event is acknowledged again
			log.Printf("event %s %s: %s", res.EventID, ev.Type, ev.Data) // your work here
			handled[res.EventID] = true
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
