package inbox

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanKeepsTextStorable(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200) // 400 bytes, 2 per character
	got := clean(long, 255)
	if len(got) > 255 || !utf8.ValidString(got) {
		t.Fatalf("clean cut to %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if got := clean("a\x00b\xffc", 100); got != "a\uFFFDb\uFFFDc" {
		t.Fatalf("clean = %q", got)
	}
}

func TestBadEventID(t *testing.T) {
	t.Parallel()
	for id, bad := range map[string]bool{
		"evt_1":                  false,
		strings.Repeat("x", 256): true,
		"a\x00b":                 true,
		"\xff":                   true,
	} {
		if got := badEventID(id) != ""; got != bad {
			t.Errorf("badEventID(%q) = %v, want %v", id, got, bad)
		}
	}
}
