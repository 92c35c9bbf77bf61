package main

import (
	"io/fs"
	"os"
	"path/filepath"
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

// TestReadmePrerequisitesNameEveryTool: every program the tests look for
// on the machine (exec.LookPath, pgembed.Tool, pgTool) is named in the
// README's prerequisites, so that a newcomer with those installed can run
// the test command.
func TestReadmePrerequisitesNameEveryTool(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Prerequisites")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no Prerequisites section")
	}
	prereq := readme[start : start+1+end]
	lookup := regexp.MustCompile(`(?:exec\.LookPath|pgembed\.Tool|pgTool)\((?:t, )?"([A-Za-z0-9_.-]+)"\)`)
	found := map[string]string{"initdb": "core/pgembed", "postgres": "core/pgembed"}
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range lookup.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 4 {
		t.Fatalf("found only %v: the scan is broken", found)
	}
	for tool, where := range found {
		if !strings.Contains(prereq, "`"+tool+"`") && !strings.Contains(prereq, " "+tool+",") && !strings.Contains(prereq, " "+tool+" ") {
			t.Errorf("%s needs %s, which the README's prerequisites do not name", where, tool)
		}
	}
}
