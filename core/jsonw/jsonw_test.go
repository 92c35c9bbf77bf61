package jsonw

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// What String writes reads back as the string encoding/json would write,
// with invalid UTF-8 and NUL as U+FFFD.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "tab\tnew\nline\r", "\x00nul", "\xff\xfe bad",
		"é ü 日本", "\u2028\u2029", "<script>&", "\x01\x1f\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("String(%q) = %s is not JSON: %v", s, out, err)
		}
		// encoding/json coerces each invalid byte to U+FFFD.
		std, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(std, &want)
		want = strings.ReplaceAll(want, "\x00", "\ufffd")
		if back != want {
			t.Fatalf("String(%q) reads back as %q, want %q", s, back, want)
		}
		if strings.ContainsRune(string(out), 0) || strings.Contains(string(out), `\u0000`) {
			t.Fatalf("String(%q) = %s holds a NUL", s, out)
		}
	})
}

func TestHeaderMatchesEncodingJSON(t *testing.T) {
	h := http.Header{"X-B": {"2", "two"}, "A": {"1"}, "Content-Type": {"application/json"}, "Empty": {}}
	want, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(Header(nil, h)); got != string(want) {
		t.Errorf("Header = %s, want %s", got, want)
	}
	if got := string(Header(nil, nil)); got != "{}" {
		t.Errorf("Header(nil) = %s", got)
	}
}
