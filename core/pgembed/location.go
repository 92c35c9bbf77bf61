package pgembed

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// locationFile, in DataDir, names the cluster directory when Start put it
// outside DataDir.
const locationFile = "pgdata.location"

// clusterHome is a place for clusters kept outside their DataDir: root
// must exist; sub is created under it as hookd's own, searchable (0711).
type clusterHome struct{ root, sub string }

// clusterHomes are tried in order; tests replace them.
var clusterHomes = func() []clusterHome {
	return []clusterHome{{"/var/lib", "hookd/clusters"}, {os.TempDir(), "hookd-clusters"}}
}

// PgdataDir returns where the cluster of dataDir lives: the directory
// recorded in dataDir/pgdata.location when Start put it outside dataDir,
// else dataDir/pgdata. It does not check that a cluster exists there.
func PgdataDir(dataDir string) (string, error) {
	dataDir, err := checkDataDir(dataDir)
	if err != nil {
		return "", err
	}
	if p, ok, err := recordedPgdata(dataDir); err != nil || ok {
		return p, err
	}
	return filepath.Join(dataDir, "pgdata"), nil
}

// Exists reports whether dataDir holds a cluster (in place, or where its
// pgdata.location says), without creating anything: commands that only use
// a database check it first, so a mistyped directory is an error rather
// than a new, empty cluster.
func Exists(dataDir string) (bool, error) {
	pgdata, err := PgdataDir(dataDir)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(filepath.Join(pgdata, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func recordedPgdata(dataDir string) (string, bool, error) {
	path := filepath.Join(dataDir, locationFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	p := strings.TrimSpace(string(b))
	if !filepath.IsAbs(p) {
		return "", false, fmt.Errorf("%s must hold the absolute path of the cluster directory, not %q: fix it, or remove it to let hookd choose again", path, p)
	}
	return filepath.Clean(p), true, nil
}

// placePgdata creates DataDir and decides where the cluster lives: where
// a record says, else in DataDir, else (root, with DataDir out of the
// server account's reach) in a place of hookd's own that it can reach.
func (s *setup) placePgdata() error {
	// Parents hookd creates must not be what keeps the server's account out.
	parentMode := os.FileMode(0o700)
	if s.user.cred != nil {
		parentMode = 0o711
	}
	if err := os.MkdirAll(filepath.Dir(s.dataDir), parentMode); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	recorded, ok, err := recordedPgdata(s.dataDir)
	if err != nil {
		return err
	}
	if ok {
		_, err := os.Stat(filepath.Join(recorded, "PG_VERSION"))
		if err == nil {
			s.pgdata = recorded
			s.log.Info("pgembed: using the cluster recorded in "+locationFile, slog.String("dir", recorded))
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the cluster recorded in %s: %w", filepath.Join(s.dataDir, locationFile), err)
		}
		// Typically a temporary directory cleaned at boot: the data is
		// gone. Choose afresh; a stale record would mislead Attach.
		s.log.Warn("pgembed: the cluster recorded in "+locationFile+" is gone; a new, empty one will be created",
			slog.String("dir", recorded))
		if err := os.Remove(filepath.Join(s.dataDir, locationFile)); err != nil {
			return err
		}
	}
	inPlace := filepath.Join(s.dataDir, "pgdata")
	if s.user.cred == nil {
		s.pgdata = inPlace
		return nil
	}
	reachErr := s.user.checkReachable(s.dataDir)
	if reachErr == nil {
		// The server's account must pass through DataDir to reach pgdata;
		// 0711 lets it without letting it list the password file.
		s.pgdata = inPlace
		return os.Chmod(s.dataDir, 0o711)
	}
	if _, err := os.Stat(filepath.Join(inPlace, "PG_VERSION")); err == nil {
		return reachErr // an existing cluster is not moved behind the operator's back
	}
	return s.relocate(reachErr, clusterHomes())
}

// relocate puts the cluster in the first home that works, in a directory
// named after DataDir so that every start finds the same one, and records
// the choice in DataDir.
func (s *setup) relocate(why error, homes []clusterHome) error {
	sum := sha256.Sum256([]byte(s.dataDir))
	name := hex.EncodeToString(sum[:8])
	var errs []error
	for _, h := range homes {
		dir, err := s.user.makeClusterDir(h, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.pgdata = filepath.Join(dir, "pgdata")
		if err := os.WriteFile(filepath.Join(s.dataDir, locationFile), []byte(s.pgdata+"\n"), 0o600); err != nil {
			return fmt.Errorf("record the cluster location: %w", err)
		}
		s.log.Info("pgembed: keeping the cluster outside the data directory, where the server's account can reach it",
			slog.String("dir", s.pgdata), slog.String("reason", why.Error()))
		return nil
	}
	return fmt.Errorf("%w; no other place for the cluster worked either: %w", why, errors.Join(errs...))
}

// makeClusterDir creates h.root/h.sub/name, each new directory 0711, and
// returns it. Existing directories under h.root must be hookd's own (not
// planted by another user in a shared temp dir) and, like h.root and its
// parents, searchable by the server's account.
func (r runAs) makeClusterDir(h clusterHome, name string) (string, error) {
	if err := r.checkReachable(filepath.Join(h.root, name)); err != nil {
		return "", err
	}
	dir := h.root
	for _, part := range append(strings.Split(h.sub, "/"), name) {
		dir = filepath.Join(dir, part)
		err := os.Mkdir(dir, 0o711)
		if err == nil {
			if err := os.Chmod(dir, 0o711); err != nil { // the umask may have narrowed it
				return "", err
			}
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		fi, err := os.Lstat(dir)
		if err != nil {
			return "", err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() {
			return "", fmt.Errorf("%s is not a directory owned by uid %d: remove it", dir, os.Geteuid())
		}
		if !r.canSearch(fi) {
			return "", fmt.Errorf("%s is not searchable by user %s: run `chmod 0711 %s`", dir, r.name, dir)
		}
	}
	return dir, nil
}
