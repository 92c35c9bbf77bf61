package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/config"
)

// The README documents every configuration key, in its table.
func TestReadmeListsEveryConfigKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, key := range config.Keys() {
		if !strings.Contains(readme, "| `"+key+"` |") {
			t.Errorf("README.md has no row for the config key %s", key)
		}
	}
	// It starts with the two commands.
	first := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(readme)
	if first == nil || !strings.Contains(first[1], "go run ./cmd/hookd demo") || !strings.Contains(first[1], "go test -race ./...") {
		t.Errorf("README.md does not start with the demo and test commands: %q", first)
	}
}

// .ci/run runs exactly the README's test command.
func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*go test -race .*\./\.\.\.`).Match(b) || !strings.Contains(string(b), "go vet ./...") {
		t.Errorf(".ci/run does not run go vet ./... and go test -race ./...:\n%s", b)
	}
	fi, err := os.Stat("../../.ci/run")
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf(".ci/run is not executable (%v)", err)
	}
}
