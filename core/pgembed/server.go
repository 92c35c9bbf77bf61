package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultSettings suit a small local server: fsync stays on (the defaults
// are durable), memory is modest.
var defaultSettings = map[string]string{
	"max_connections": "100",
	"shared_buffers":  "128MB",
}

// maxLogSize is when postgres.log is rotated (to postgres.log.1) at start.
const maxLogSize = 10 << 20

// pollInterval paces the checks for readiness and for exit.
const pollInterval = 10 * time.Millisecond

var errPortTaken = errors.New("port already in use")

var settingNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

// setup is what Start has prepared before launching the server.
type setup struct {
	log      *slog.Logger
	binDir   string
	dataDir  string
	pgdata   string
	user     runAs
	password string
	settings map[string]string
	// unlock releases the start lock, held from placing the cluster until
	// Start returns.
	unlock func()
}

func prepare(ctx context.Context, opts Options) (*setup, error) {
	dataDir, err := checkDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &setup{log: logger(opts), binDir: opts.BinDir, dataDir: dataDir, pgdata: filepath.Join(dataDir, "pgdata")}
	s.settings = maps.Clone(defaultSettings)
	for k, v := range opts.Settings {
		if !settingNameRE.MatchString(k) {
			return nil, fmt.Errorf("pgembed: setting name %q is invalid: use a PostgreSQL parameter name such as work_mem", k)
		}
		s.settings[k] = v
	}
	if s.binDir == "" {
		if s.binDir, err = FindBinaries(); err != nil {
			return nil, err
		}
	} else if !hasBinaries(s.binDir) {
		return nil, fmt.Errorf("pgembed: BinDir %s: %w", s.binDir, missingBinariesError())
	}
	if s.user, err = chooseUser(os.Geteuid(), user.Lookup); err != nil {
		return nil, err
	}
	if err := s.placePgdata(); err != nil {
		return nil, err
	}
	if s.unlock, err = lockStart(ctx, dataDir); err != nil {
		return nil, err
	}
	if err := s.prepareCluster(ctx); err != nil {
		s.unlock()
		return nil, err
	}
	return s, nil
}

// prepareCluster creates the cluster on first use; the start lock is held.
func (s *setup) prepareCluster(ctx context.Context) error {
	if err := checkVersion(ctx, s.binDir, s.pgdata); err != nil {
		return err
	}
	var err error
	if s.password, err = ensurePassword(s.dataDir, s.pgdata); err != nil {
		return err
	}
	if err := s.initdb(ctx); err != nil {
		return err
	}
	return s.user.chownTree(s.pgdata)
}

// initdb creates the cluster unless pgdata already holds one.
func (s *setup) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.pgdata, "PG_VERSION")); err == nil {
		return nil
	}
	// Without PG_VERSION this is the remains of an interrupted initdb.
	if err := os.RemoveAll(s.pgdata); err != nil {
		return err
	}
	if err := os.Mkdir(s.pgdata, 0o700); err != nil {
		return err
	}
	if err := s.user.chownTree(s.pgdata); err != nil {
		return err
	}
	// Next to pgdata, where the server's account can read it even when
	// DataDir is out of its reach.
	pwFile := filepath.Join(filepath.Dir(s.pgdata), "initdb-password")
	if err := os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwFile)
	if s.user.cred != nil {
		if err := os.Chown(pwFile, s.user.uid, s.user.gid); err != nil {
			return err
		}
	}
	logFile, err := s.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.log.Info("pgembed: creating cluster", slog.String("dir", s.pgdata), slog.String("user", s.user.name))
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"),
		"-D", s.pgdata, "-U", Superuser, "--auth=scram-sha-256", "--pwfile="+pwFile,
		"--encoding=UTF8", "--locale=C")
	s.prepareCmd(cmd, logFile)
	cmd.Stdout = logFile
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s failed (%w): %s", s.pgdata, err, logTail(logFile.Name()))
	}
	return nil
}

// prepareCmd gives a server program a clean environment (no PG* variables
// from hookd's), its account, and a session of its own so that signals
// sent to the terminal's process group do not reach it.
func (s *setup) prepareCmd(cmd *exec.Cmd, logFile *os.File) {
	cmd.Dir = s.pgdata
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.user.cred}
}

// openLog opens postgres.log for appending, rotating it when large. The
// server gets the descriptor, so the file stays the hookd user's.
func (s *setup) openLog() (*os.File, error) {
	path := filepath.Join(s.dataDir, "postgres.log")
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1") // losing the old log is better than not starting
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// clearStale deals with a postmaster.pid left by an earlier run. A live
// server on this data directory is stopped when the process that started
// it is gone (or unknown); while that process lives, Start fails with an
// InUseError instead, for it relies on its server. A pid reused by an
// unrelated process would make postgres refuse to start, so that file is
// removed. A dead pid is left to postgres, which ignores it.
func (s *setup) clearStale(ctx context.Context) error {
	pf, err := readPidFile(s.pgdata)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !alive(pf.pid) {
		return nil
	}
	switch classify(pf.pid, s.pgdata) {
	case ourPostmaster:
		o, live, err := liveOwner(s.dataDir, pf.pid)
		if err != nil {
			return err
		}
		if live {
			return &InUseError{Pid: o.pid, DataDir: s.dataDir}
		}
		s.log.Warn("pgembed: stopping a server left running by an earlier run", slog.Int("pid", pf.pid))
		return stopPid(ctx, pf.pid, nil)
	case notPostgres:
		s.log.Warn("pgembed: removing stale postmaster.pid", slog.Int("pid", pf.pid))
		return os.Remove(filepath.Join(s.pgdata, "postmaster.pid"))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts postgres on port and waits until it is ready.
func (s *setup) launch(ctx context.Context, port int) (*Cluster, error) {
	logFile, err := s.openLog()
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the server holds its own copy
	logStart, _ := logFile.Seek(0, io.SeekEnd)

	settings := maps.Clone(s.settings)
	settings["listen_addresses"] = "127.0.0.1"
	settings["port"] = strconv.Itoa(port)
	settings["unix_socket_directories"] = ""
	args := []string{"-D", s.pgdata}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	s.prepareCmd(cmd, logFile)
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{
		log: s.log, dataDir: s.dataDir, pgdata: s.pgdata, password: s.password,
		port: port, pid: cmd.Process.Pid, exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait() // the exit status says nothing the log does not
		close(c.exited)
	}()
	if err := c.waitReady(ctx, logFile.Name(), logStart); err != nil {
		return nil, err
	}
	s.log.Info("pgembed: server ready", slog.Int("port", port), slog.Int("pid", c.pid), slog.String("pgdata", s.pgdata))
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context, logPath string, logStart int64) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if pf, err := readPidFile(c.pgdata); err == nil && pf.pid == c.pid && pf.status == "ready" {
			return nil
		}
		select {
		case <-c.exited:
			out := logSince(logPath, logStart)
			if strings.Contains(out, "could not bind") || strings.Contains(out, "already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, out)
			}
			return fmt.Errorf("postgres exited during start (see %s): %s", logPath, out)
		case <-ctx.Done():
			_ = c.kill()
			return fmt.Errorf("postgres did not become ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
