package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustKeyring(t *testing.T, current string, previous ...string) *Keyring {
	t.Helper()
	kr, err := NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func testKey(t *testing.T) string {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, testKey(t))
	for _, plain := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "Bearer x", "ü\x00\xff", strings.Repeat("a", 5000)} {
		sealed, err := kr.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, plain) || !strings.HasPrefix(sealed, "hks1:"+kr.ID()+":") || !kr.Current(sealed) {
			t.Fatalf("sealed %q as %q", plain, sealed)
		}
		again, _ := kr.Seal(plain)
		if again == sealed {
			t.Fatal("two seals of one value are equal: the nonce is not fresh")
		}
		if got, err := kr.Open(sealed); err != nil || got != plain {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	if s, _ := kr.Seal(""); s != "" {
		t.Fatalf("empty sealed as %q", s)
	}
	// A plaintext from before encryption at rest opens as itself and is
	// not current.
	if got, err := kr.Open("whsec_legacy"); err != nil || got != "whsec_legacy" || kr.Current("whsec_legacy") {
		t.Fatalf("legacy plaintext: %q %v current=%v", got, err, kr.Current("whsec_legacy"))
	}
}

func TestOpenRefusesTamperingAndUnknownKeys(t *testing.T) {
	t.Parallel()
	a, b := mustKeyring(t, testKey(t)), mustKeyring(t, testKey(t))
	sealed, _ := a.Seal("the secret")
	if _, err := b.Open(sealed); !errors.Is(err, ErrUnknownKey) || strings.Contains(err.Error(), "the secret") {
		t.Fatalf("other key: %v", err)
	}
	body := sealed[len(sealed)-10:]
	flipped := sealed[:len(sealed)-10] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, body)
	if _, err := a.Open(flipped); err == nil {
		t.Fatal("an altered value opened")
	}
	for _, bad := range []string{"hks1:", "hks1:" + a.ID(), "hks1:" + a.ID() + ":!!", "hks1:" + a.ID() + ":AAAA"} {
		if _, err := a.Open(bad); err == nil {
			t.Fatalf("%q opened", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newK := testKey(t), testKey(t)
	old := mustKeyring(t, oldKey)
	sealed, _ := old.Seal("v")
	rotated := mustKeyring(t, newK, oldKey)
	if rotated.Current(sealed) {
		t.Fatal("a value sealed under the previous key counts as current")
	}
	if got, err := rotated.Open(sealed); err != nil || got != "v" {
		t.Fatalf("previous key: %q %v", got, err)
	}
	re, err := rotated.Reseal(sealed)
	if err != nil || !rotated.Current(re) {
		t.Fatalf("Reseal = %q, %v", re, err)
	}
	if _, err := mustKeyring(t, newK).Open(re); err != nil {
		t.Fatalf("resealed value needs the old key: %v", err)
	}
}

func TestParseKeyNamesTheProblem(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		if _, err := NewKeyring(bad); err == nil || !strings.HasPrefix(err.Error(), "secrets.key ") || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("NewKeyring(%q) = %v", bad, err)
		}
	}
	if _, err := NewKeyring(testKey(t), "bad"); err == nil || !strings.Contains(err.Error(), "secrets.previous_keys[0]") {
		t.Errorf("bad previous key: %v", err)
	}
}

func TestEnsureKeyFileIsMadeOnceWithMode0600(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secrets.key")
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := EnsureKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] || k == "" {
			t.Fatalf("concurrent first uses got different keys: %q", keys)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if again, err := EnsureKeyFile(path); err != nil || again != keys[0] {
		t.Fatalf("second use: %q %v", again, err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKeyFile(path); err == nil || !strings.Contains(err.Error(), "secrets.key_file") {
		t.Fatalf("a bad key file: %v", err)
	}
}

func TestInstallKeepsEarlierKeysOpening(t *testing.T) {
	// Not parallel: it changes the process keyring.
	before, _ := Seal("earlier")
	kr := mustKeyring(t, testKey(t))
	Install(kr)
	if got, err := Open(before); err != nil || got != "earlier" {
		t.Fatalf("a value sealed before Install: %q %v", got, err)
	}
	after, _ := Seal("later")
	if !kr.Current(after) {
		t.Fatalf("after Install, values are sealed under another key: %q", after)
	}
}
