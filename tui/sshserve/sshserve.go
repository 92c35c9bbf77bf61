// Package sshserve serves the console over SSH: every SSH session gets a
// console of its own, drawn on the client's terminal and sized to it.
//
// # Security
//
// Only the public keys listed in an authorized_keys file may connect;
// password and keyboard-interactive authentication are never offered. Keys
// listed in a second file, ReadOnlyKeys, get a read-only console (a key in
// both files is read-only): an on-call viewer sees everything and changes
// nothing, and every action such a session attempts is refused and
// recorded in the audit trail. A session must request a terminal (ssh -t);
// one without is refused with a message. The host key is read from a file
// and generated there, ed25519 with mode 0600, the first time the server
// starts.
//
// Every session's console acts as the key that opened it: the audit trail
// names its SHA-256 fingerprint and the SSH login.
//
// # Use
//
//	srv, err := sshserve.New(sshserve.Config{
//		Listen:         "127.0.0.1:2222",
//		HostKey:        ".hookd/ssh_host_ed25519_key",
//		AuthorizedKeys: "authorized_keys",
//		Console:        app.Options{Source: data.NewPostgres(pool)},
//		Logger:         logger,
//	})
//	if err != nil { ... }
//	if err := srv.Start(ctx); err != nil { ... }
//	defer srv.Stop()
package sshserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hookd/hookd/core/audit"
	tuiapp "github.com/hookd/hookd/tui/app"
)

// Config configures a Server.
type Config struct {
	// Listen is the host:port to listen on; port 0 picks a free one (see
	// [Server.Addr]). Required.
	Listen string
	// HostKey is the path of the private host key, generated when the
	// file does not exist. Required.
	HostKey string
	// AuthorizedKeys is the path of an authorized_keys file; its keys may
	// connect with every action allowed. It is read once, at Start.
	// Required unless ReadOnlyKeys is set.
	AuthorizedKeys string
	// ReadOnlyKeys is the path of an authorized_keys file whose keys may
	// connect to a read-only console. It is read once, at Start. Optional.
	ReadOnlyKeys string
	// Console configures the console of every session; Source is
	// required and is shared by all sessions, so it must be safe for
	// concurrent use.
	Console tuiapp.Options
	// Logger receives connections (key fingerprint, remote address) and
	// refusals at info. Defaults to a logger that discards.
	Logger *slog.Logger
}

// Server is the console's SSH server.
type Server struct {
	cfg    Config
	logger *slog.Logger
	keys   []gossh.PublicKey // may act
	viewer []gossh.PublicKey // read-only

	mu       sync.Mutex
	srv      *ssh.Server
	listener net.Listener
	addr     net.Addr
	serving  chan struct{} // closed when Serve returns
	stopped  bool
	sessions sync.WaitGroup // Add under mu, before stopped is set
}

// New checks cfg and returns a server that is not yet listening; files
// are read at Start.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Listen == "" {
		errs = append(errs, errors.New("sshserve: Listen is required (host:port, e.g. 127.0.0.1:2222)"))
	}
	if cfg.HostKey == "" {
		errs = append(errs, errors.New("sshserve: HostKey is required (the path of the private host key)"))
	}
	if cfg.AuthorizedKeys == "" && cfg.ReadOnlyKeys == "" {
		errs = append(errs, errors.New("sshserve: AuthorizedKeys (or ReadOnlyKeys) is required (the path of an authorized_keys file)"))
	}
	if cfg.Console.Source == nil {
		errs = append(errs, errors.New("sshserve: Console.Source is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, logger: logger.With(slog.String("service", "sshserve"))}, nil
}

// Start reads the authorized keys and the host key (generating it if
// missing), listens, and serves in the background until Stop. It returns
// once the server accepts connections. ctx bounds only the start.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("sshserve: Start after Stop; make a new Server")
	}
	if s.srv != nil {
		return errors.New("sshserve: already started")
	}
	var keys, viewers []gossh.PublicKey
	var err error
	if s.cfg.AuthorizedKeys != "" {
		if keys, err = loadAuthorizedKeys(s.cfg.AuthorizedKeys); err != nil {
			return err
		}
	}
	if s.cfg.ReadOnlyKeys != "" {
		if viewers, err = loadAuthorizedKeys(s.cfg.ReadOnlyKeys); err != nil {
			return fmt.Errorf("read-only keys: %w", err)
		}
	}
	hostKey, generated, err := loadHostKey(s.cfg.HostKey)
	if err != nil {
		return err
	}
	if generated {
		s.logger.Info("generated SSH host key", slog.String("path", s.cfg.HostKey))
	}
	s.keys, s.viewer = keys, viewers
	srv, err := wish.NewServer(
		wish.WithHostKeyPEM(hostKey),
		wish.WithPublicKeyAuth(s.authorize),
		wish.WithMiddleware(
			bubbletea.MiddlewareWithProgramHandler(s.program), // innermost
			s.requirePty,
			s.track, // outermost: runs first
		),
	)
	if err != nil {
		return fmt.Errorf("sshserve: %w", err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sshserve: listen on %s: %w", s.cfg.Listen, err)
	}
	s.srv, s.listener, s.addr, s.serving = srv, l, l.Addr(), make(chan struct{})
	go func() {
		defer close(s.serving)
		err := srv.Serve(l)
		if err != nil && !errors.Is(err, ssh.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.logger.Error("serve failed", slog.String("error", err.Error()))
		}
	}()
	s.logger.Info("console served over SSH", slog.String("addr", s.addr.String()), slog.Int("authorized_keys", len(keys)),
		slog.Int("read_only_keys", len(viewers)))
	return nil
}

// Addr returns the address the server listens on; nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every session, and waits for the sessions'
// consoles to end. It is safe to call twice and before Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l, serving := s.srv, s.listener, s.serving
	s.srv, s.stopped = nil, true
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// Close forgets a listener Serve has not registered yet (a Stop right
	// after Start); closing it here ends Serve either way.
	_ = l.Close()
	<-serving
	s.sessions.Wait()
}

// authorize admits exactly the listed keys, of either file.
func (s *Server) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	if listed(s.keys, key) || listed(s.viewer, key) {
		return true
	}
	s.logger.Info("SSH key refused", slog.String("fingerprint", gossh.FingerprintSHA256(key)),
		slog.String("remote", ctx.RemoteAddr().String()), slog.String("user", ctx.User()))
	return false
}

func listed(keys []gossh.PublicKey, key ssh.PublicKey) bool {
	for _, k := range keys {
		if ssh.KeysEqual(k, key) {
			return true
		}
	}
	return false
}

// readOnly reports whether a session of key gets a read-only console.
func (s *Server) readOnly(key ssh.PublicKey) bool {
	return s.cfg.Console.ReadOnly || listed(s.viewer, key)
}

// track logs each session and lets Stop wait for it.
func (s *Server) track(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		s.sessions.Add(1)
		s.mu.Unlock()
		defer s.sessions.Done()
		attrs := []any{slog.String("fingerprint", gossh.FingerprintSHA256(sess.PublicKey())),
			slog.String("remote", sess.RemoteAddr().String()), slog.String("user", sess.User()),
			slog.Bool("read_only", s.readOnly(sess.PublicKey()))}
		s.logger.Info("SSH console session opened", attrs...)
		next(sess)
		s.logger.Info("SSH console session closed", attrs...)
	}
}

// requirePty refuses sessions without a terminal: the console has nothing
// to draw on, and a command (ssh host ls) has nothing to run.
func (s *Server) requirePty(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, ok := sess.Pty(); !ok {
			s.logger.Info("SSH session refused: no terminal", slog.String("remote", sess.RemoteAddr().String()))
			wish.Fatalln(sess, "hookd: the console needs a terminal; connect with ssh -t (commands are not supported)")
			return
		}
		next(sess)
	}
}

// program builds the console of one session, acting as its key.
func (s *Server) program(sess ssh.Session) *tea.Program {
	opts := s.cfg.Console
	opts.ReadOnly = s.readOnly(sess.PublicKey())
	opts.Actor = audit.SSHKey(gossh.FingerprintSHA256(sess.PublicKey()), sess.User())
	opts.Remote = sess.RemoteAddr().String()
	return tea.NewProgram(tuiapp.New(opts), bubbletea.MakeOptions(sess)...)
}
