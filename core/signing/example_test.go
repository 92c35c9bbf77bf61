package signing_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/core/signing"
)

func Example() {
	secret, _ := signing.GenerateSecret()
	body := []byte(`{"id":"evt_1","type":"order.paid","created":"2025-01-01T00:00:00Z","data":{}}`)
	sent := time.Now()

	// Sender: sign every attempt afresh.
	h := http.Header{}
	if err := signing.Sign(h, "evt_1", sent, body, []string{secret}); err != nil {
		panic(err)
	}

	// Receiver: verify before storing anything.
	res, err := signing.Verify(signing.SchemeHookd, h, body, []string{secret}, signing.DefaultTolerance, sent)
	fmt.Println(res.EventID, err)
	// Output: evt_1 <nil>
}
