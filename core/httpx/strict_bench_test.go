package httpx

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// batchBody is a POST /v1/events/batch body of n events of a few fields.
func batchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"evt_%06d","type":"invoice.paid","tenant":"cus_42","data":{"amount":4200,"currency":"eur","customer":"cus_42","lines":[{"sku":"a","qty":1}]}}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// The strict checks' share of decoding a batch: compare
// BenchmarkDecodeBatch/strict with /json alone (go test -bench DecodeBatch ./core/httpx).
func BenchmarkDecodeBatch(b *testing.B) {
	body := batchBody(1000)
	type event struct {
		ID     string          `json:"id"`
		Type   string          `json:"type"`
		Tenant string          `json:"tenant"`
		Data   json.RawMessage `json:"data"`
	}
	var dst struct {
		Events []event `json:"events"`
	}
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := json.Unmarshal(body, &dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := Unmarshal(body, &dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An object of many keys costs in proportion to them: compared each with
// every other, 18,500 keys took 1.4 s (go test -bench ManyKeys ./core/httpx).
func BenchmarkCheckManyKeys(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"data":{`)
	for i := range 20000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"k%d":1`, i)
	}
	sb.WriteString(`}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := checkJSON(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}
