package httpx

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/validate"
)

// FuzzDecodeJSON feeds request bodies to DecodeJSON: it never panics, and
// refuses what it refuses with an input error (a *validate.Error, the
// empty-body error or a *BodyTooLargeError), which the API answers with a
// 4xx, never anything that would become a 500. The seed corpus is in
// testdata/fuzz/FuzzDecodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	type target struct {
		Name    string            `json:"name"`
		Count   int32             `json:"count"`
		Tags    []string          `json:"tags"`
		Headers map[string]string `json:"headers"`
		Flag    *bool             `json:"flag"`
		Nested  struct {
			N float64 `json:"n"`
		} `json:"nested"`
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		var dst target
		err := DecodeJSON(httptest.NewRecorder(), req, 4096, &dst)
		var inv *validate.Error
		var big *BodyTooLargeError
		if err != nil && !errors.As(err, &inv) && !errors.As(err, &big) {
			t.Fatalf("%q: %T %v is not an input error", body, err, err)
		}
		rec := httptest.NewRecorder()
		if err != nil {
			WriteDomainError(rec, nil, err)
			if rec.Code >= 500 {
				t.Fatalf("%q: answered %d", body, rec.Code)
			}
		}
	})
}

// FuzzCheckJSON: the strict scan walks any valid JSON document without
// panicking, and finds a repeated key wherever encoding/json would have
// kept only the last one.
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `"x"`, `1`, `{"a":[1,{"b":"\u00e9","c":null}],"d":{"":true}}`,
		`{"a":1,"a":2}`, `{"a\u0062":1,"ab":2}`, `[{"k":"\ud83d\ude00"},"\\ud800"]`, " { \"a\" : [ ] , \"b\" : { } } "} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		for _, shape := range []reflect.Type{nil, reflect.TypeFor[caseRequest]()} {
			err := checkJSON(b, shape)
			var inv *validate.Error
			if err != nil && !errors.As(err, &inv) {
				t.Fatalf("%q: %T %v is not an input error", b, err, err)
			}
		}
	})
}
