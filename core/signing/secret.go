package signing

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every secret hookd generates and accepts for
// outbound signing.
const SecretPrefix = "whsec_"

// MinSecretBytes is the least number of decoded key bytes a secret must
// carry; the Standard Webhooks spec asks for 24 to 64.
const MinSecretBytes = 24

// generatedSecretBytes is how much randomness GenerateSecret draws.
const generatedSecretBytes = 32

// GenerateSecret returns a new secret: "whsec_" followed by the standard
// base64 encoding of 32 random bytes.
func GenerateSecret() (string, error) {
	key := make([]byte, generatedSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("signing: generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ValidateSecret reports whether s can sign outbound webhooks: it must be
// "whsec_" followed by standard (padded) base64 of at least 24 bytes. The
// error names what is wrong but never echoes the secret.
func ValidateSecret(s string) error {
	if s == "" {
		return errors.New("secret is empty; want whsec_ followed by base64 of at least 24 bytes (generate one with GenerateSecret)")
	}
	encoded, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return errors.New(`secret must start with "whsec_" followed by base64 of at least 24 bytes`)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return errors.New("secret after whsec_ is not valid standard base64 (A-Z a-z 0-9 + / with = padding)")
	}
	if len(key) < MinSecretBytes {
		return fmt.Errorf("secret key is %d bytes after base64 decoding; at least %d are required", len(key), MinSecretBytes)
	}
	return nil
}

// standardKey returns the HMAC key the Standard Webhooks scheme uses: the
// base64-decoded secret, with or without the whsec_ prefix.
func standardKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New("secret is not whsec_ followed by standard base64, which the standard scheme needs")
	}
	if len(key) == 0 {
		return nil, errors.New("secret decodes to an empty key")
	}
	return key, nil
}
