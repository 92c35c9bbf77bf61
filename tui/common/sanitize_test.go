package common_test

import (
	"testing"

	"github.com/hookd/hookd/tui/common"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"plain\ttext\nline two":                                  "plain\ttext\nline two",
		"a\x1b[31mred\x1b[0m b":                                  "ared b",
		"x\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\y": "xlinky",
		"title\x1b]0;pwned\x07!":                                 "title!",
		"cr\r\nbell\a bs\b c1\u009b31m del\x7f":                  "cr\nbell bs c131m del",
		"héllo 世界":                                               "héllo 世界",
	}
	for in, want := range cases {
		if got := common.Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
