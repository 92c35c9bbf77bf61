package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/testkit"
)

func TestConsoleServeSSHIsACommand(t *testing.T) {
	t.Parallel()
	r := hookdEnv(t, nil, "console", "serve-ssh", "--help")
	if r.code != 0 || !strings.Contains(r.out, "console.ssh.authorized_keys") {
		t.Errorf("hookd console serve-ssh --help: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
}

func TestConsoleServeSSHNeedsListen(t *testing.T) {
	t.Parallel()
	r := hookd(t, dbtest.NewDB(t), "console", "serve-ssh")
	if r.code != 1 || !strings.Contains(r.errOut, "console.ssh.listen is empty") {
		t.Errorf("exit %d, stderr %q; want 1 and the key to set", r.code, r.errOut)
	}
	r = hookdEnv(t, map[string]string{"HOOKD_CONSOLE_SSH_LISTEN": "127.0.0.1:0"}, "console", "serve-ssh")
	if r.code != 2 || !strings.Contains(r.errOut, "console.ssh.authorized_keys: must not be empty") {
		t.Errorf("exit %d, stderr %q; want 2 and the missing key", r.code, r.errOut)
	}
}

// hookd console serve-ssh, and hookd serve with console.ssh.listen set,
// serve the console on the configured database to the authorized key,
// until interrupted.
func TestConsoleServeSSH(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"console serve-ssh": {"console", "serve-ssh"},
		"serve":             {"serve", "--listen", "127.0.0.1:0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testServeSSH(t, args)
		})
	}
}

func testServeSSH(t *testing.T, args []string) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOOKD_DATABASE_URL":                dbtest.NewDB(t),
		"HOOKD_CONSOLE_SSH_LISTEN":          "127.0.0.1:0",
		"HOOKD_CONSOLE_SSH_HOST_KEY":        filepath.Join(dir, "host_key"),
		"HOOKD_CONSOLE_SSH_AUTHORIZED_KEYS": authorized,
	}
	var out, errOut testkit.SyncBuffer
	lookup := testEnv(env)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &cli{stdio: stdio{in: strings.NewReader(""), out: &out, err: &errOut}, env: lookup}
	done := make(chan int, 1)
	go func() { done <- c.execute(ctx, args) }()

	// The address is in the log line that says the server listens.
	var addr string
	testkit.Eventually(t, "the SSH server's address in the log", func() bool {
		for line := range strings.SplitSeq(errOut.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "console served over SSH" {
				addr = rec.Addr
				return true
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve-ssh exited with %d: %s", code, errOut.String())
		default:
		}
		return false
	})

	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "operator", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: testkit.Timeout, // the host key is the server's own test
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	screen := &testkit.SyncBuffer{}
	sess.Stdout = screen
	if err := sess.RequestPty("xterm", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the console on the SSH session", func() bool {
		return strings.Contains(ansi.Strip(screen.String()), "overview")
	})

	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve-ssh exit %d after interrupt: %s", code, errOut.String())
	}
	if fp := gossh.FingerprintSHA256(signer.PublicKey()); !strings.Contains(errOut.String(), fp) {
		t.Errorf("the session's key %s is not logged:\n%s", fp, errOut.String())
	}
}
