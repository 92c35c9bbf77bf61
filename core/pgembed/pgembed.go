// Package pgembed runs a PostgreSQL server of hookd's own, from the server
// binaries installed on the machine, for when no database.url is given.
//
// # Layout
//
// Everything lives in Options.DataDir:
//
//	pgdata/          the cluster (initdb'd on first start, kept afterwards)
//	pgdata.location  where the cluster is instead, when it is not in pgdata/
//	password         the generated superuser password (0600)
//	postgres.log     the server's output
//	owner.pid        the process that started the running server
//	start.lock       held while a Start runs
//
// The server listens on 127.0.0.1 only (no Unix socket) and accepts the
// superuser `postgres` with scram-sha-256. Start and Attach both find the
// cluster through PgdataDir.
//
// # Root
//
// PostgreSQL refuses to run as root. When hookd is root the server runs as
// the `postgres` system user, or `nobody` when there is none; pgdata is
// handed to that user and DataDir is made searchable (0711).
//
// That user must also pass through every parent of DataDir, which hookd
// does not own and so never changes. When one is closed to it (a checkout
// in root's 0700 home, say), the cluster is kept outside DataDir instead,
// in a directory named after the absolute DataDir:
//
//	/var/lib/hookd/clusters/<hash>/pgdata   when /var/lib is writable
//	$TMPDIR/hookd-clusters/<hash>/pgdata     otherwise (the system may
//	                                         clean it at boot)
//
// and its path is written to DataDir/pgdata.location, so every later Start
// and Attach uses the same cluster, even if DataDir becomes reachable or
// moves. Removing DataDir does not remove that cluster; remove the
// directory named in pgdata.location too. A cluster already in
// DataDir/pgdata is never moved: Start then fails, naming the directory to
// open up.
//
// # Lifetime
//
// The server runs in a session of its own, so a Ctrl-C at the terminal
// reaches hookd but not PostgreSQL: hookd decides when to stop it.
//
// Start records its process in owner.pid and Stop removes it. A server
// whose owner is still alive is never touched by another Start, which
// fails with an InUseError (other processes use it through Attach); a
// server left running by an owner that died (or by one that recorded
// nothing) is stopped by the next Start on the same DataDir, or taken
// over, running, by Adopt. A stale
// postmaster.pid of a dead server is PostgreSQL's to clean up, and it
// does.
package pgembed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Superuser is the role initdb creates and URL connects as.
const Superuser = "postgres"

// ErrNotRunning is returned by Attach when no server runs on the data
// directory.
var ErrNotRunning = errors.New("no PostgreSQL server is running on this data directory")

// Options configure Start and Attach.
type Options struct {
	// DataDir holds the cluster, its password and its log. Required.
	DataDir string
	// Logger receives lifecycle messages. Defaults to discarding them.
	Logger *slog.Logger
	// Port is the loopback port to listen on. Defaults to 0: a free port
	// picked at every start.
	Port int
	// BinDir holds initdb and postgres. Defaults to FindBinaries().
	BinDir string
	// Settings are extra server settings (name -> value) passed as
	// `-c name=value`; they override pgembed's defaults. Tests use this to
	// turn fsync off; hookd leaves it empty.
	Settings map[string]string
}

// Cluster is a running server. Its methods are safe for concurrent use.
type Cluster struct {
	log      *slog.Logger
	dataDir  string
	pgdata   string
	password string
	port     int
	pid      int
	// exited is closed when the postmaster started by this process has
	// exited and been reaped; nil for an attached server.
	exited chan struct{}
	// owner is who started the server: this process for Start, what
	// owner.pid said for Attach (zero when it said nothing).
	owner owner
	// adopted marks a server this process took over with Adopt: Stop
	// removes owner.pid, as for a server it started.
	adopted bool

	stopOnce sync.Once
	stopErr  error
}

// Start brings up the server in opts.DataDir, creating the cluster on first
// use, and returns once it accepts connections. ctx bounds the start only;
// the server keeps running until Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	s, err := prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	if err := s.clearStale(ctx); err != nil {
		return nil, err
	}
	c, err := s.launchOnFreePort(ctx, opts.Port)
	if err != nil {
		return nil, err
	}
	c.owner = currentOwner(c.pid)
	if err := writeOwner(s.dataDir, c.owner); err != nil {
		// Without the record, the next Start would take the server for
		// a leftover and stop it.
		_ = c.kill()
		return nil, err
	}
	return c, nil
}

// launchOnFreePort launches the server on port, or on a free port when
// port is 0.
func (s *setup) launchOnFreePort(ctx context.Context, port int) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				return nil, err
			}
		}
		c, err := s.launch(ctx, p)
		// A free port can be taken between picking and binding it.
		if errors.Is(err, errPortTaken) && port == 0 && attempt < 3 {
			s.log.Info("pgembed: port taken, retrying", slog.Int("port", p))
			continue
		}
		return c, err
	}
}

// Attach returns the server that another process started with Start on
// opts.DataDir and that is still running, or an error wrapping
// ErrNotRunning. Stop on the returned Cluster stops that server.
func Attach(opts Options) (*Cluster, error) {
	dataDir, err := checkDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	pgdata, err := PgdataDir(dataDir)
	if err != nil {
		return nil, err
	}
	pf, err := readPidFile(pgdata)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, err
	}
	if !alive(pf.pid) || classify(pf.pid, pgdata) != ourPostmaster || pf.status != "ready" || pf.port == 0 {
		return nil, fmt.Errorf("%w (postmaster.pid names pid %d, status %q)", ErrNotRunning, pf.pid, pf.status)
	}
	pw, err := os.ReadFile(filepath.Join(dataDir, "password"))
	if err != nil {
		return nil, fmt.Errorf("read the superuser password: %w", err)
	}
	o, live, err := liveOwner(dataDir, pf.pid)
	if err != nil {
		return nil, err
	}
	if !live {
		o = owner{}
	}
	return &Cluster{
		log: logger(opts), dataDir: dataDir, pgdata: pgdata,
		password: strings.TrimSpace(string(pw)), port: pf.port, pid: pf.pid, owner: o,
	}, nil
}

// Adopt takes over the server running on opts.DataDir when the process
// that started it has died (a hookd killed with SIGKILL leaves its
// PostgreSQL running, in a session of its own): this process is recorded
// in owner.pid, and Stop on the returned Cluster stops the server and
// clears the record, as for a server it started. The server keeps
// running meanwhile; nothing is restarted. It fails with an InUseError
// when the recorded owner is alive (another process adopted it first, or
// it was never orphaned), and with an error wrapping ErrNotRunning when
// no server runs.
func Adopt(ctx context.Context, opts Options) (*Cluster, error) {
	dataDir, err := checkDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	unlock, err := lockStart(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := Attach(opts)
	if err != nil {
		return nil, err
	}
	if c.owner.pid != 0 {
		return nil, &InUseError{Pid: c.owner.pid, DataDir: dataDir}
	}
	c.owner = currentOwner(c.pid)
	if err := writeOwner(dataDir, c.owner); err != nil {
		return nil, err
	}
	c.adopted = true
	c.log.Warn("pgembed: took over a server whose hookd had died", slog.Int("pid", c.pid), slog.String("data_dir", dataDir))
	return c, nil
}

// OwnerPID returns the pid of the live process that started the server:
// this process for a Cluster from Start; for one from Attach, the process
// recorded in owner.pid, or 0 when none is recorded or it has died (the
// server was left running).
func (c *Cluster) OwnerPID() int { return c.owner.pid }

// Port returns the loopback port the server listens on; pass it as
// Options.Port to start the server again where its clients reconnect.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for database dbname as the superuser.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, c.password),
		Host:     "127.0.0.1:" + strconv.Itoa(c.port),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the server down in fast mode (open transactions are rolled
// back, clients disconnected) and waits for it to exit. When ctx ends
// first the server is killed and ctx's error returned. Safe to call twice;
// later calls return the first call's result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func checkDataDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("pgembed: Options.DataDir is required: the directory that holds hookd's own PostgreSQL cluster")
	}
	return filepath.Abs(dir)
}

func logger(opts Options) *slog.Logger {
	if opts.Logger != nil {
		return opts.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ensurePassword returns the superuser password, generating it on first
// use. A cluster without its password file cannot be reached, so that is
// an error rather than a new password.
func ensurePassword(dataDir, pgdata string) (string, error) {
	path := filepath.Join(dataDir, "password")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		return "", fmt.Errorf("%s is missing but the cluster in %s exists: restore the password file, or remove %s to start afresh", path, pgdata, pgdata)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the superuser password: %w", err)
	}
	return pw, nil
}
