package pgembed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// MinMajorVersion is the oldest PostgreSQL major version pgembed runs.
const MinMajorVersion = 13

// systemGlob is where Debian and Ubuntu install server binaries; they are
// not on PATH there.
const systemGlob = "/usr/lib/postgresql/*/bin"

// requiredBinaries are the programs pgembed runs: initdb once, then postgres.
var requiredBinaries = []string{"initdb", "postgres"}

// ErrNoBinaries is returned (wrapped) when no PostgreSQL server binaries are
// installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// FindBinaries returns the directory holding the PostgreSQL server programs
// initdb and postgres. It looks on PATH first, then takes the highest
// version under /usr/lib/postgresql/*/bin. When none is found the error
// wraps ErrNoBinaries and says how to install them or how to use an
// external database instead.
func FindBinaries() (dir string, err error) {
	return findBinaries(os.Getenv("PATH"), systemGlob)
}

func findBinaries(pathEnv, glob string) (string, error) {
	for _, d := range filepath.SplitList(pathEnv) {
		if d != "" && hasBinaries(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob(glob) // the pattern is constant; Glob only fails on a bad pattern
	best, bestVersion := "", -1.0
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil || !hasBinaries(d) {
			continue
		}
		if v > bestVersion {
			best, bestVersion = d, v
		}
	}
	if best == "" {
		return "", missingBinariesError()
	}
	return best, nil
}

func missingBinariesError() error {
	return fmt.Errorf("%w on PATH or in %s: install the PostgreSQL server, version %d or newer "+
		"(Debian/Ubuntu: apt-get install postgresql; Fedora/RHEL: dnf install postgresql-server; "+
		"Alpine: apk add postgresql; macOS: brew install postgresql), "+
		"or use an existing server by setting database.url (env HOOKD_DATABASE_URL)",
		ErrNoBinaries, systemGlob, MinMajorVersion)
}

func hasBinaries(dir string) bool {
	for _, name := range requiredBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// serverMajor runs `postgres --version` and returns the major version.
func serverMajor(ctx context.Context, binDir string) (int, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("run %s --version: %w", filepath.Join(binDir, "postgres"), err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("unexpected output of postgres --version: %q", strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}

// checkVersion refuses servers older than MinMajorVersion and data
// directories written by another major version, which postgres would
// refuse with a less helpful message.
func checkVersion(ctx context.Context, binDir, pgdata string) error {
	major, err := serverMajor(ctx, binDir)
	if err != nil {
		return err
	}
	if major < MinMajorVersion {
		return fmt.Errorf("PostgreSQL %d in %s is too old: version %d or newer is required "+
			"(or set database.url, env HOOKD_DATABASE_URL)", major, binDir, MinMajorVersion)
	}
	b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if dataMajor := strings.TrimSpace(string(b)); dataMajor != strconv.Itoa(major) {
		return fmt.Errorf("data directory %s was created by PostgreSQL %s but the binaries in %s are version %d: "+
			"install PostgreSQL %s, or move the data directory away to start afresh", pgdata, dataMajor, binDir, major, dataMajor)
	}
	return nil
}

// Tool returns the path of a program installed with the PostgreSQL server
// binaries (pg_ctl, pg_dump), which need not be on PATH: it looks next to
// the postgres that FindBinaries finds (following a link to the real
// directory), then on PATH.
func Tool(name string) (string, error) {
	dir, err := FindBinaries()
	if err != nil {
		return "", err
	}
	var candidates []string
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "postgres")); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(real), name))
	}
	candidates = append(candidates, filepath.Join(dir, name))
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is not installed with the PostgreSQL server binaries in %s, nor on PATH: install the PostgreSQL client programs too", name, dir)
}
