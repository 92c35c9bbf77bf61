package main

import (
	"strings"
	"testing"
)

// A mistyped subcommand of a command group fails with exit status 1 and
// names the group and its commands; the bare group prints its help.
func TestCommandGroupsRejectUnknownSubcommands(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"endpoints", "deliveries", "events", "inbox", "sources"} {
		r := hookdEnv(t, nil, group, "bogus")
		want := `unknown command "bogus" for "hookd ` + group + `"`
		if r.code != 1 || !strings.Contains(r.errOut, want) || !strings.Contains(r.errOut, "commands: ") {
			t.Errorf("hookd %s bogus: exit %d, stderr %q; want exit 1 with %s and the commands", group, r.code, r.errOut, want)
		}
		r = hookdEnv(t, nil, group)
		if r.code != 0 || !strings.Contains(r.out, "Available Commands:") {
			t.Errorf("hookd %s: exit %d, stdout %q; want its help and exit 0", group, r.code, r.out)
		}
	}
	for _, group := range []string{"endpoints", "sources"} {
		r := hookdEnv(t, nil, group, "create")
		if r.code != 1 || !strings.Contains(r.errOut, `did you mean "add"?`) {
			t.Errorf("hookd %s create: exit %d, stderr %q; want exit 1 suggesting add", group, r.code, r.errOut)
		}
	}
}
