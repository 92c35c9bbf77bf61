// Package secrets seals the secrets hookd keeps in PostgreSQL (endpoint
// signing secrets current and previous, asymmetric signing keys, custom
// header values, intake source secrets), so that a dump of the database
// alone reveals none of them.
//
// # Cipher
//
// Values are sealed with AES-256-GCM from Go's standard library
// (crypto/aes, crypto/cipher): authenticated encryption, so a value that
// was altered, truncated or sealed under another key fails to open rather
// than decrypting to garbage, and with hardware AES it costs well under a
// microsecond per value. Each value gets a fresh random 96-bit nonce; at
// the few million values a key ever seals, nonce collisions are out of
// reach (NIST SP 800-38D allows 2^32 random nonces per key). No package
// outside the standard library is needed for this.
//
// # Stored form
//
//	hks1:<key id>:<base64 of nonce || ciphertext || tag>
//
// The key id is the first 8 hex digits of SHA-256 of the key, so a value
// names the key that sealed it and rotation can tell what is left to
// re-seal. A stored value without the prefix is a plaintext from before
// encryption at rest: Open returns it as is, and re-sealing (hookd
// secrets rotate, or hookd serve at start) encrypts it. The empty string
// stays empty.
//
// # Keys
//
// A key is 32 random bytes written in standard base64 (GenerateKey).
// A Keyring holds the current key, which seals, and previous keys, which
// only open: rotation is adding a new current key, moving the old one to
// the previous keys, re-sealing, then dropping the old key.
//
// # The process keyring
//
// The stores (core/endpoint, core/inbox) and the dispatcher seal and open
// through the process keyring, set once at start by Install from the
// configuration (secrets.key, secrets.key_file, secrets.previous_keys, or
// the embedded database's generated key file). A process holds one
// configuration, so one keyring; threading it through every store call
// would change every caller for no gain. Until Install runs, Default is a
// keyring with a random key of its own, which only this process can open:
// enough for tests and tools that never leave the process.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value.
const prefix = "hks1:"

// Keyring seals with its current key and opens with any of its keys. It
// is immutable and safe for concurrent use.
type Keyring struct {
	current *key
	keys    map[string]*key // by id, the current one included
}

type key struct {
	id   string
	aead cipher.AEAD
}

// GenerateKey returns a new key: 32 random bytes in standard base64.
func GenerateKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secrets: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ParseKey decodes a key written in standard base64. The error never
// shows the key.
func ParseKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("is not standard base64 (generate a key with: hookd secrets generate-key)")
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes; a key is %d random bytes in base64 (generate one with: hookd secrets generate-key)", len(b), KeySize)
	}
	return b, nil
}

// NewKeyring returns a keyring that seals with current and opens with
// current and every previous key, each written as ParseKey reads it.
func NewKeyring(current string, previous ...string) (*Keyring, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, fmt.Errorf("secrets.key %w", err)
	}
	kr := &Keyring{current: cur, keys: map[string]*key{cur.id: cur}}
	for i, p := range previous {
		k, err := newKey(p)
		if err != nil {
			return nil, fmt.Errorf("secrets.previous_keys[%d] %w", i, err)
		}
		kr.keys[k.id] = k
	}
	return kr, nil
}

func newKey(encoded string) (*key, error) {
	raw, err := ParseKey(encoded)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return &key{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// ID returns the id of the current key, as sealed values name it.
func (k *Keyring) ID() string { return k.current.id }

// Seal encrypts plain under the current key. The empty string stays empty.
func (k *Keyring) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: seal: %w", err)
	}
	sealed := k.current.aead.Seal(nonce, nonce, []byte(plain), nil)
	return prefix + k.current.id + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// ErrUnknownKey is returned (wrapped) by Open for a value sealed under a
// key the keyring does not hold.
var ErrUnknownKey = errors.New("sealed under a key that is not in secrets.key or secrets.previous_keys")

// Open returns the plaintext of a value Seal made (under any key of the
// keyring), or a plaintext stored before encryption at rest as is. A
// value altered or sealed under an unknown key is an error; the error
// never contains the value.
func (k *Keyring) Open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return stored, nil
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("secrets: open: malformed sealed value")
	}
	key := k.keys[id]
	if key == nil {
		return "", fmt.Errorf("secrets: open: value %w (key id %s; the current key is %s)", ErrUnknownKey, id, k.current.id)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	ns := key.aead.NonceSize()
	if err != nil || len(raw) < ns+key.aead.Overhead() {
		return "", errors.New("secrets: open: malformed sealed value")
	}
	plain, err := key.aead.Open(nil, raw[:ns], raw[ns:], nil)
	if err != nil {
		return "", fmt.Errorf("secrets: open: the value does not authenticate under key %s (altered, or sealed with another key of the same id)", id)
	}
	return string(plain), nil
}

// KeyOf returns the id of the key that sealed stored and whether k holds
// that key; "" and true for an empty value or a plaintext.
func (k *Keyring) KeyOf(stored string) (id string, held bool) {
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return "", true
	}
	id, _, _ = strings.Cut(rest, ":")
	return id, k.keys[id] != nil
}

// Current reports whether stored needs no re-sealing: it is empty or
// sealed under the current key.
func (k *Keyring) Current(stored string) bool {
	return stored == "" || strings.HasPrefix(stored, prefix+k.current.id+":")
}

// CurrentPrefix is what every value sealed under the current key starts
// with, for finding in SQL the values a rotation must re-seal.
func (k *Keyring) CurrentPrefix() string { return prefix + k.current.id + ":" }

// Reseal returns stored sealed under the current key: opened with
// whichever key sealed it (or taken as a plaintext) and sealed again.
func (k *Keyring) Reseal(stored string) (string, error) {
	if k.Current(stored) {
		return stored, nil
	}
	plain, err := k.Open(stored)
	if err != nil {
		return "", err
	}
	return k.Seal(plain)
}

// merge returns a keyring sealing with k's current key and opening with
// the keys of both.
func (k *Keyring) merge(old *Keyring) *Keyring {
	out := &Keyring{current: k.current, keys: make(map[string]*key, len(k.keys)+len(old.keys))}
	for id, key := range old.keys {
		out.keys[id] = key
	}
	for id, key := range k.keys {
		out.keys[id] = key
	}
	return out
}

var (
	mu      sync.Mutex
	process *Keyring
)

// Install makes kr the process keyring: values are sealed with its
// current key from now on. Keys installed before keep opening what they
// sealed, so nothing this process wrote becomes unreadable to it.
func Install(kr *Keyring) {
	mu.Lock()
	defer mu.Unlock()
	if process == nil {
		process = kr
		return
	}
	process = kr.merge(process)
}

// Default returns the process keyring: the one Install set, else one with
// a random key that only this process can open.
func Default() *Keyring {
	mu.Lock()
	defer mu.Unlock()
	if process == nil {
		k, err := GenerateKey()
		if err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		process, _ = NewKeyring(k)
	}
	return process
}

// Seal seals plain with the process keyring.
func Seal(plain string) (string, error) { return Default().Seal(plain) }

// Open opens stored with the process keyring.
func Open(stored string) (string, error) { return Default().Open(stored) }

// OpenAll opens each value in place with the process keyring.
func OpenAll(values ...*string) error {
	kr := Default()
	for _, v := range values {
		plain, err := kr.Open(*v)
		if err != nil {
			return err
		}
		*v = plain
	}
	return nil
}

// OpenMap opens every value of m in place with the process keyring.
func OpenMap(m map[string]string) error {
	kr := Default()
	for k, v := range m {
		plain, err := kr.Open(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		m[k] = plain
	}
	return nil
}

// SealMap returns a copy of m with every value sealed by the process
// keyring; the names stay readable.
func SealMap(m map[string]string) (map[string]string, error) {
	kr := Default()
	out := make(map[string]string, len(m))
	for k, v := range m {
		sealed, err := kr.Seal(v)
		if err != nil {
			return nil, err
		}
		out[k] = sealed
	}
	return out, nil
}
