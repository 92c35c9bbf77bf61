package sshserve

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadHostKey returns the PEM of the private host key at path, generating
// an ed25519 key there (mode 0600, its directory 0700) when the file does
// not exist. generated reports whether it did.
func loadHostKey(path string) (pemBytes []byte, generated bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if _, perr := gossh.ParsePrivateKey(b); perr != nil {
			return nil, false, fmt.Errorf("host key %s is not an unencrypted OpenSSH or PEM private key: %w", path, perr)
		}
		return b, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "hookd console host key")
	if err != nil {
		return nil, false, fmt.Errorf("encode host key: %w", err)
	}
	b = pem.EncodeToMemory(block)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("host key directory: %w", err)
	}
	// O_EXCL: two hookd starting at once must not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("write host key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write host key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write host key %s: %w", path, err)
	}
	return b, true, nil
}

// loadAuthorizedKeys parses an authorized_keys file: one public key per
// line, blank lines and # comments ignored. A file with no key is an
// error, so that a mistake never leaves a server nobody can use, and a
// malformed line is named by its number.
func loadAuthorizedKeys(path string) ([]gossh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	var keys []gossh.PublicKey
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, _, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("authorized keys %s line %d: not a public key in authorized_keys format (example: ssh-ed25519 AAAA... user@host): %w", path, i+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("authorized keys %s lists no public key: add one per line (example: ssh-ed25519 AAAA... user@host)", path)
	}
	return keys, nil
}
