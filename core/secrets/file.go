package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadKeyFile returns the key in the file at path (a systemd credential,
// or the embedded database's key file): base64, surrounding space ignored.
func ReadKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secrets.key_file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if _, err := ParseKey(k); err != nil {
		return "", fmt.Errorf("secrets.key_file %s: the key %w", path, err)
	}
	return k, nil
}

// EnsureKeyFile returns the key in the file at path, generating it (mode
// 0600, never overwriting) on first use. Two processes racing to create it
// both end up with the one that was written first.
func EnsureKeyFile(path string) (string, error) {
	if k, err := ReadKeyFile(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err := GenerateKey()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create the key file's directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets.key.*")
	if err != nil {
		return "", fmt.Errorf("write the key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(k + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A hard link never replaces an existing file: the first writer wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("write the key file: %w", err)
	}
	return ReadKeyFile(path)
}
