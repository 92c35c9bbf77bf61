package sshserve_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/testkit"
	tuiapp "github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/sshserve"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type testBundle struct {
	srv     *sshserve.Server
	client  gossh.Signer // listed in authorized_keys
	hostKey gossh.PublicKey
	logs    *testkit.SyncBuffer
	dir     string
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setup starts a server on loopback over a database of the test's own,
// with one authorized key, and a host key it generates.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{client: newSigner(t), logs: &testkit.SyncBuffer{}, dir: t.TempDir()}
	authorized := filepath.Join(b.dir, "authorized_keys")
	text := "# operators\n\n" + string(gossh.MarshalAuthorizedKey(b.client.PublicKey()))
	if err := os.WriteFile(authorized, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := sshserve.New(sshserve.Config{
		Listen:         "127.0.0.1:0",
		HostKey:        filepath.Join(b.dir, "keys", "host_key"),
		AuthorizedKeys: authorized,
		Console:        tuiapp.Options{Source: data.NewPostgres(dbtest.NewPool(t)), Refresh: 100 * time.Millisecond},
		Logger:         slog.New(slog.NewTextHandler(b.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	b.srv = srv

	pemBytes, err := os.ReadFile(filepath.Join(b.dir, "keys", "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := gossh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	b.hostKey = host.PublicKey()
	return b
}

func (b *testBundle) dial(auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", b.srv.Addr().String(), &gossh.ClientConfig{
		User:            "operator",
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(b.hostKey),
		Timeout:         testkit.Timeout,
	})
}

func (b *testBundle) connect(t *testing.T) *gossh.Client {
	t.Helper()
	c, err := b.dial(gossh.PublicKeys(b.client))
	if err != nil {
		t.Fatalf("dial with the authorized key: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSessionShowsTheConsole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sess, err := b.connect(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := &testkit.SyncBuffer{}
	sess.Stdout = out
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the console's view names on the session", func() bool {
		s := ansi.Strip(out.String())
		return strings.Contains(s, "overview") && strings.Contains(s, "dead letters")
	})
	// q asks, y quits the console, which ends the session cleanly.
	if _, err := stdin.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the quit question", func() bool { return strings.Contains(ansi.Strip(out.String()), "Quit the console?") })
	if _, err := stdin.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if err := sess.Wait(); err != nil {
		t.Errorf("session after q: %v", err)
	}

	logs := b.logs.String()
	fp := gossh.FingerprintSHA256(b.client.PublicKey())
	if !strings.Contains(logs, "SSH console session opened") || !strings.Contains(logs, fp) || !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Errorf("the connection is not logged with its fingerprint %s and remote address:\n%s", fp, logs)
	}
}

func TestUnlistedKeyAndPasswordsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stranger := newSigner(t)
	for name, auth := range map[string]gossh.AuthMethod{
		"unlisted key": gossh.PublicKeys(stranger),
		"password":     gossh.Password("hunter2"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			return []string{"hunter2"}, nil
		}),
	} {
		c, err := b.dial(auth)
		if err == nil {
			c.Close()
			t.Errorf("%s: connected, want refused", name)
			continue
		}
		if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v, want an authentication failure", name, err)
		}
	}
	if fp := gossh.FingerprintSHA256(stranger.PublicKey()); !strings.Contains(b.logs.String(), fp) {
		t.Errorf("the refused key %s is not logged:\n%s", fp, b.logs.String())
	}
}

func TestSessionWithoutPtyIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sess, err := b.connect(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	err = sess.Run("ls")
	var exit *gossh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
		t.Fatalf("session without a pty: %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "the console needs a terminal; connect with ssh -t") {
		t.Errorf("stderr = %q, want the reason", stderr.String())
	}
}

// The host key is generated once, private to its owner, and kept.
func TestHostKeyIsGeneratedOnceWithMode0600(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := filepath.Join(b.dir, "keys", "host_key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode = %v, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(path)
	b.srv.Stop()
	b.srv.Stop() // safe twice

	srv, err := sshserve.New(sshserve.Config{Listen: "127.0.0.1:0", HostKey: path,
		AuthorizedKeys: filepath.Join(b.dir, "authorized_keys"), Console: tuiapp.Options{Source: data.NewPostgres(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("the host key changed on the second start")
	}
}

func TestBadConfigIsNamed(t *testing.T) {
	t.Parallel()
	if _, err := sshserve.New(sshserve.Config{}); err == nil ||
		!strings.Contains(err.Error(), "Listen is required") || !strings.Contains(err.Error(), "AuthorizedKeys (or ReadOnlyKeys) is required") ||
		!strings.Contains(err.Error(), "HostKey is required") || !strings.Contains(err.Error(), "Console.Source is required") {
		t.Errorf("New(empty) = %v, want every missing field named", err)
	}

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct{ name, keys, want string }{
		{"missing file", filepath.Join(dir, "absent"), "no such file"},
		{"no key", write("empty", "# nobody yet\n"), "lists no public key"},
		{"malformed", write("bad", "ssh-ed25519 AAAA\n"), "line 1: not a public key in authorized_keys format"},
	} {
		srv, err := sshserve.New(sshserve.Config{Listen: "127.0.0.1:0", HostKey: filepath.Join(dir, "host_key"),
			AuthorizedKeys: tt.keys, Console: tuiapp.Options{Source: data.NewPostgres(nil)}})
		if err != nil {
			t.Fatal(err)
		}
		err = srv.Start(context.Background())
		srv.Stop()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start = %v, want %q", tt.name, err, tt.want)
		}
	}
	srv, err := sshserve.New(sshserve.Config{Listen: "127.0.0.1:0", HostKey: write("junk_key", "not a key"),
		AuthorizedKeys: write("keys", string(gossh.MarshalAuthorizedKey(newSigner(t).PublicKey()))),
		Console:        tuiapp.Options{Source: data.NewPostgres(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "is not an unencrypted OpenSSH or PEM private key") {
		t.Errorf("junk host key: Start = %v", err)
	}
	srv.Stop()
}
