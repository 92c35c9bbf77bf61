package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

type payload struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

// decodeServer answers the decoded payload, or the error WriteDomainError makes of it.
func decodeServer(t *testing.T, limit int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p payload
		if err := DecodeJSON(w, r, limit, &p); err != nil {
			WriteDomainError(w, slog.New(slog.DiscardHandler), err)
			return
		}
		WriteJSON(w, http.StatusOK, p)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (int, ErrorBody) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e ErrorBody
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	srv := decodeServer(t, 64)
	cases := []struct {
		name, body string
		status     int
		code, want string
	}{
		{"ok", `{"name":"a","count":2}`, 200, "", ""},
		{"malformed", `{"name":`, 400, CodeInvalidInput, "body: is not valid JSON"},
		{"syntax", `{"name" "a"}`, 400, CodeInvalidInput, "not valid JSON at byte"},
		{"unknown field", `{"nme":"a"}`, 400, CodeInvalidInput, "nme: is not a known field"},
		{"wrong type", `{"count":"x"}`, 400, CodeInvalidInput, "count: must be a whole number (written without a fraction or exponent, within its range), not a string"},
		{"a fraction", `{"count":1.5}`, 400, CodeInvalidInput, "count: must be a whole number (written without a fraction or exponent, within its range), not a number 1.5"},
		{"out of range", `{"count":99999999999999999999}`, 400, CodeInvalidInput, "count: must be a whole number (written without a fraction or exponent, within its range), not a number"},
		{"not an object", `[1]`, 400, CodeInvalidInput, "must be a JSON object"},
		{"trailing data", `{"name":"a"} {}`, 400, CodeInvalidInput, "data after the JSON object"},
		{"empty", ``, 400, CodeInvalidInput, "body: is empty"},
		// What encoding/json would keep other than as sent.
		{"key twice", `{"count":1,"count":2}`, 400, CodeInvalidInput, "count: is given twice"},
		{"invalid UTF-8", "{\"name\":\"a\xff\"}", 400, CodeInvalidInput, "name: is not valid UTF-8"},
		{"invalid UTF-8 in a list", "{\"tags\":[\"a\",\"b\xff\"]}", 400, CodeInvalidInput, "tags[1]: is not valid UTF-8"},
		{"lone surrogate", `{"name":"\ud800"}`, 400, CodeInvalidInput, `name: holds an unpaired surrogate escape (\ud800)`},
		{"lone low surrogate", `{"tags":["\udc00x"]}`, 400, CodeInvalidInput, "tags[0]: holds an unpaired surrogate"},
		{"surrogate pair", `{"name":"\ud83d\ude00"}`, 200, "", ""},
		{"escaped backslash", `{"name":"\\ud800"}`, 200, "", ""},
		{"too large", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, CodeTooLarge, "over the limit of 64 bytes (http.max_body_bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			status, e := post(t, srv.URL, c.body)
			if status != c.status || e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.want) {
				t.Fatalf("got %d %+v, want %d %s containing %q", status, e, c.status, c.code, c.want)
			}
		})
	}
}

func TestWriteDomainError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		code   string
		want   string
	}{
		{validate.Errorf("url", "must be absolute"), 400, CodeInvalidInput, "url: must be absolute"},
		{fmt.Errorf("wrapped: %w", validate.Errorf("type", "is required")), 400, CodeInvalidInput, "type: is required"},
		{&validate.TooLargeError{Field: "data", Size: 10, Limit: 5, Key: "delivery.max_payload_bytes"}, 413, CodeTooLarge, "delivery.max_payload_bytes"},
		{&http.MaxBytesError{Limit: 7}, 413, CodeTooLarge, "7 bytes"},
		{db.ErrNotFound, 404, CodeNotFound, "not found"},
		{fmt.Errorf("%w: key (id)=(x)", db.ErrConflict), 409, CodeConflict, "already exists"},
		{errors.New("pq: secret internals"), 500, CodeInternal, "internal error"},
		// A message quoting a huge value is cut, at a character boundary.
		{validate.Errorf("ordering", "%q is not concurrent or fifo", strings.Repeat("é", 150000)), 400, CodeInvalidInput, "… (cut at 1023 of 300"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		WriteDomainError(rec, slog.New(slog.DiscardHandler), c.err)
		var e ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%v: got %d %+v, want %d %s containing %q", c.err, rec.Code, e, c.status, c.code, c.want)
		}
		if len(e.Error.Message) > 1100 || !utf8.ValidString(e.Error.Message) {
			t.Errorf("%d-byte message (valid UTF-8: %v)", len(e.Error.Message), utf8.ValidString(e.Error.Message))
		}
		if strings.Contains(e.Error.Message, "internals") {
			t.Errorf("500 leaked the cause: %q", e.Error.Message)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
	}
}

func TestRequireBearer(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	open := httptest.NewServer(RequireBearer([]string{"first-key-0123456789", "second-key-0123456789"}, ok))
	t.Cleanup(open.Close)
	locked := httptest.NewServer(RequireBearer(nil, ok))
	t.Cleanup(locked.Close)

	cases := []struct {
		url, auth string
		status    int
	}{
		{open.URL, "", 401},
		{open.URL, "Bearer wrong-key-0123456789", 401},
		{open.URL, "Bearer first-key-012345678", 401}, // a prefix is not the key
		{open.URL, "Basic Zmlyc3Qta2V5", 401},
		{open.URL, "Bearer ", 401},
		{open.URL, "Bearer first-key-0123456789", 204},
		{open.URL, "bearer second-key-0123456789", 204},
		{locked.URL, "Bearer first-key-0123456789", 401},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", c.url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%q: status %d, want %d", c.auth, resp.StatusCode, c.status)
		}
		if c.status == 401 {
			if e.Error.Code != CodeUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%q: body %+v, WWW-Authenticate %q", c.auth, e, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// TestWriteJSONNeverSendsAHalfEncodedSuccess: a value that cannot be
// encoded (a time past year 9999) must not go out as a 200 with an empty
// or cut body; the client gets a 500 in the usual error shape.
func TestWriteJSONNeverSendsAHalfEncodedSuccess(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{
		"ok":      "fine",
		"created": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500; body %q", rec.Code, rec.Body.String())
	}
	var e ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != CodeInternal {
		t.Fatalf("body %q (%v), want an internal error", rec.Body.String(), err)
	}
	if strings.Contains(rec.Body.String(), "fine") {
		t.Fatalf("part of the value leaked into the error: %q", rec.Body.String())
	}

	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, map[string]string{"a": "<b>"})
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\"a\":\"<b>\"}\n" {
		t.Fatalf("good value: %d %q", rec.Code, rec.Body.String())
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("Content-Length %q for %d bytes", cl, rec.Body.Len())
	}
}

// objectOfKeys is an object of keys k0..k(n-1) and, unless again < 0, k(again)
// once more at the end.
func objectOfKeys(n, again int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if again >= 0 {
		fmt.Fprintf(&b, `"k%d":0,`, again)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

// checkJSON names what it refuses by its path in the document.
func TestCheckJSONNamesThePath(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		`{"events":[{"id":"a"},{"id":"b","id":"c"}]}`:            "events[1].id: is given twice",
		`{"events":[{"id":"a","data":{"x":[1,{"k":1,"k":2}]}}]}`: "events[0].data.x[1].k: is given twice",
		"{\"metadata\":{\"plan\":\"pro\xff\"}}":                  "metadata.plan: is not valid UTF-8",
		"{\"metadata\":{\"pl\xffan\":1}}":                        "metadata: has a key that is not valid UTF-8",
		`{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":1}]}`:        "",
		`{"a":[[1,2],["\ud800"]]}`:                               "a[1][0]: holds an unpaired surrogate",
		`"\ud800"`:                                               "body: holds an unpaired surrogate",
		objectOfKeys(30, 3):                                      "k3: is given twice",
		objectOfKeys(30, 25):                                     "k25: is given twice",
		objectOfKeys(30, -1):                                     "",
	} {
		err := checkJSON([]byte(doc), nil)
		if (want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

// caseRequest has the kinds of fields whose keys Unmarshal checks: a
// struct's own, an embedded struct's, a map's (free) and parts decoded
// later into a struct (Shaped).
type caseRequest struct {
	caseEmbedded                   // first: its parts is shadowed by the shallower one below
	DryRun       bool              `json:"dry_run"`
	Meta         map[string]string `json:"meta"`
	Parts        []casePart        `json:"parts"`
	Raw          json.RawMessage   `json:"raw"`
}

type caseEmbedded struct {
	Note  string `json:"note"`
	Parts string `json:"parts"` // shadowed by caseRequest's own parts
}

type casePart []byte

func (p *casePart) UnmarshalJSON(b []byte) error { *p = append((*p)[:0], b...); return nil }

func (casePart) JSONShape() reflect.Type {
	return reflect.TypeFor[struct {
		ID string `json:"id"`
	}]()
}

// encoding/json matches keys to fields ignoring case; Unmarshal takes a
// struct's fields by their exact names only, so that "Dry_Run" after
// "dry_run" cannot undo it, while the keys of maps and raw values stay
// free.
func TestUnmarshalTakesFieldsByTheirExactNames(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		`{"dry_run":true,"Dry_Run":false}`:                 `Dry_Run: is not a known field; names are case-sensitive: did you mean "dry_run"?`,
		`{"DRY_RUN":true}`:                                 `DRY_RUN: is not a known field; names are case-sensitive: did you mean "dry_run"?`,
		`{"Note":"x"}`:                                     `Note: is not a known field; names are case-sensitive: did you mean "note"?`,
		`{"parts":[{"id":"a"},{"ID":"b"}]}`:                `parts[1].ID: is not a known field; names are case-sensitive: did you mean "id"?`,
		`{"dry_run":true,"note":"x","parts":[{"id":"a"}]}`: "",
		`{"meta":{"Plan":"a","plan":"b"}}`:                 "",
		`{"raw":{"X":1,"x":2}}`:                            "",
	} {
		var dst caseRequest
		err := Unmarshal([]byte(doc), &dst)
		if got := fmt.Sprint(err); (want == "") != (err == nil) || err != nil && got != want {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
		if want == "" && doc[2] == 'd' && (!dst.DryRun || dst.Note != "x" || len(dst.Parts) != 1) {
			t.Errorf("%s: decoded %+v", doc, dst)
		}
	}
}

// A value of the wrong kind is named by its path down to the element,
// map key or list index, where encoding/json names the struct field only.
func TestUnmarshalNamesTheElementOfTheWrongKind(t *testing.T) {
	t.Parallel()
	type inner struct {
		Counts []map[string]int `json:"counts"`
	}
	type request struct {
		Headers    map[string]string `json:"headers"`
		EventTypes *[]string         `json:"event_types"`
		Inner      inner             `json:"inner"`
		Limit      *int              `json:"limit"`
		Any        any               `json:"any"`
		Parts      []casePart        `json:"parts"`
	}
	for doc, want := range map[string]string{
		`{"headers":{"X-A":"1","X-B":2}}`:              "headers.X-B: must be a string, not a number",
		`{"headers":[]}`:                               "headers: must be an object, not an array",
		`{"event_types":["a",1]}`:                      "event_types[1]: must be a string, not a number",
		`{"inner":{"counts":[{"k":1},{"z":"s"}]}}`:     "inner.counts[1].z: must be a whole number",
		`{"inner":{"counts":[{"k":1},{"z":1.5}]}}`:     "inner.counts[1].z: must be a whole number",
		`{"limit":"5"}`:                                "limit: must be a whole number",
		`{"any":[1,"x",{}],"headers":{"a":"b"}}`:       "",
		`{"parts":[1,"x"],"event_types":[]}`:           "",
		`{"headers":{"\u0041":"1","b":true}}`:          "headers.b: must be a string, not a bool",
		`{"event_types":["a"],"headers":{"X":{}}}`:     "headers.X: must be a string, not an object",
		`{"event_types":["a","b",["c"]],"limit":1e99}`: "event_types[2]: must be a string, not an array",
		`[1]`: "body: must be a JSON object, not an array",
	} {
		var dst request
		err := Unmarshal([]byte(doc), &dst)
		if (want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

// No field of a request takes null but those any JSON goes in: encoding/json
// reads it as nothing given (a nil pointer: {"url":null} to a PATCH did
// nothing and answered 200) or as the zero value (a header of "").
func TestUnmarshalRefusesNullWhereNoneGoes(t *testing.T) {
	t.Parallel()
	type request struct {
		URL     *string           `json:"url"`
		Enabled *bool             `json:"enabled"`
		Headers map[string]string `json:"headers"`
		Types   []string          `json:"types"`
		Raw     json.RawMessage   `json:"raw"`
		Meta    *json.RawMessage  `json:"meta"`
		Any     any               `json:"any"`
		Parts   []casePart        `json:"parts"`
	}
	for doc, want := range map[string]string{
		`{"url":null}`:                           "url: must not be null",
		`{"url":"x","enabled":null}`:             "enabled: must not be null",
		`{"headers":{"X-A":"1","X-B":null}}`:     "headers.X-B: must not be null",
		`{"types":["a",null]}`:                   "types[1]: must not be null",
		`{"meta":null}`:                          "meta: must not be null",
		`{"parts":[{"id":"a"},null]}`:            "parts[1]: must not be null",
		`{"parts":[{"id":null}]}`:                "parts[0].id: must not be null",
		`null`:                                   "body: must be a JSON object, not null",
		`{"raw":null,"any":null}`:                "",
		`{"meta":{"a":null},"any":{"b":[null]}}`: "",
		`{"raw":{"a":[null]}}`:                   "",
	} {
		var dst request
		err := Unmarshal([]byte(doc), &dst)
		if (want == "") != (err == nil) || err != nil && err.Error() != want {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}
