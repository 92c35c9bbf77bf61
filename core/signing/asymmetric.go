package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Prefixes of Standard Webhooks asymmetric (ed25519) keys: the signing
// (secret) key and the public key a receiver verifies with.
const (
	SigningKeyPrefix = "whsk_"
	PublicKeyPrefix  = "whpk_"
)

// Signature versions an endpoint may send in webhook-signature.
const (
	// VersionsHMAC is v1 alone (HMAC-SHA256 with the whsec_ secret), the
	// default.
	VersionsHMAC = "v1"
	// VersionsBoth is v1 and v1a (ed25519 with the whsk_ key) side by side,
	// while receivers move to the public key.
	VersionsBoth = "v1,v1a"
	// VersionsEd25519 is v1a alone.
	VersionsEd25519 = "v1a"
)

// ValidVersions reports whether v is one of VersionsHMAC, VersionsBoth,
// VersionsEd25519.
func ValidVersions(v string) bool {
	return v == VersionsHMAC || v == VersionsBoth || v == VersionsEd25519
}

// GenerateSigningKey returns a new ed25519 key pair as Standard Webhooks
// writes it: "whsk_" and the standard base64 of the 32-byte seed, and
// "whpk_" and the standard base64 of the 32-byte public key.
func GenerateSigningKey() (signingKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("signing: generate signing key: %w", err)
	}
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed()),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// PublicKey returns the whpk_ public key of a whsk_ signing key.
func PublicKey(signingKey string) (string, error) {
	priv, err := parseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

func parseSigningKey(s string) (ed25519.PrivateKey, error) {
	encoded, ok := strings.CutPrefix(s, SigningKeyPrefix)
	if !ok {
		return nil, errors.New(`signing key must start with "whsk_"`)
	}
	seed, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key after whsk_ must be the standard base64 of a %d-byte ed25519 seed", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func parsePublicKey(s string) (ed25519.PublicKey, error) {
	encoded, ok := strings.CutPrefix(s, PublicKeyPrefix)
	if !ok {
		return nil, errors.New(`public key must start with "whpk_"`)
	}
	pub, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key after whpk_ must be the standard base64 of a %d-byte ed25519 key", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(pub), nil
}

// CheckStandardSecret reports whether s can verify Standard Webhooks
// signatures: a whsec_ (or bare base64) secret for v1, or a whpk_ public
// key for v1a. The error never shows s.
func CheckStandardSecret(s string) error {
	if strings.HasPrefix(s, PublicKeyPrefix) {
		_, err := parsePublicKey(s)
		return err
	}
	_, err := standardKey(s)
	return err
}

// Keys are what signs one attempt: see SignWith.
type Keys struct {
	// Secrets are the whsec_ secrets, current first (several during a
	// rotation). They sign X-Webhook-Signature always, and v1 in
	// webhook-signature unless Versions is VersionsEd25519.
	Secrets []string
	// SigningKey is the endpoint's whsk_ key; it signs v1a when Versions
	// asks for it.
	SigningKey string
	// Versions is VersionsHMAC (the default when empty), VersionsBoth or
	// VersionsEd25519.
	Versions string
}

// SignWith is Sign with the endpoint's choice of signature versions: with
// VersionsBoth, webhook-signature carries "v1,<hmac>" and "v1a,<ed25519>"
// space-separated; with VersionsEd25519, only the v1a one. The ed25519
// signature covers "<id>.<t>.<body>", as v1 does.
func SignWith(h http.Header, id string, ts time.Time, body []byte, k Keys) error {
	versions := k.Versions
	if versions == "" {
		versions = VersionsHMAC
	}
	if !ValidVersions(versions) {
		return fmt.Errorf("signing: sign: signature versions %q; want %s, %s or %s", versions, VersionsHMAC, VersionsBoth, VersionsEd25519)
	}
	if err := Sign(h, id, ts, body, k.Secrets); err != nil {
		return err
	}
	if versions == VersionsHMAC {
		return nil
	}
	priv, err := parseSigningKey(k.SigningKey)
	if err != nil {
		return fmt.Errorf("signing: sign: %w", err)
	}
	t := strconv.FormatInt(ts.Unix(), 10)
	v1a := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, signedContent(id, t, body)))
	if versions == VersionsEd25519 {
		h.Set(HeaderStandardSignature, v1a)
	} else {
		h.Set(HeaderStandardSignature, h.Get(HeaderStandardSignature)+" "+v1a)
	}
	return nil
}

// signedContent is "<id>.<t>.<body>", what both Standard Webhooks
// signature versions cover.
func signedContent(id, t string, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(t)+len(body)+2)
	b = append(b, id...)
	b = append(b, '.')
	b = append(b, t...)
	b = append(b, '.')
	return append(b, body...)
}
