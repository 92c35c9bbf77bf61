package signing_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/signing"
)

func TestGenerateSecret(t *testing.T) {
	t.Parallel()

	a, err := signing.GenerateSecret()
	if err != nil {
		t.Fatalf("GenerateSecret: %v", err)
	}
	b, err := signing.GenerateSecret()
	if err != nil {
		t.Fatalf("GenerateSecret: %v", err)
	}
	if a == b {
		t.Fatalf("two generated secrets are equal: %q", a)
	}
	for _, s := range []string{a, b} {
		if err := signing.ValidateSecret(s); err != nil {
			t.Errorf("ValidateSecret(generated) = %v", err)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) != 32 {
			t.Errorf("generated secret %q: want whsec_ + base64 of 32 bytes, got %d bytes, err %v", s, len(key), err)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	t.Parallel()

	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name    string
		secret  string
		wantErr string // substring; empty means valid
	}{
		{"24 bytes", "whsec_" + b64(24), ""},
		{"64 bytes", "whsec_" + b64(64), ""},
		{"empty", "", "empty"},
		{"no prefix", b64(32), `start with "whsec_"`},
		{"wrong prefix", "sk_" + b64(32), `start with "whsec_"`},
		{"not base64", "whsec_not*base64!", "not valid standard base64"},
		{"url encoding", "whsec_" + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0, 0xef, 0xee, 0xed, 0xec, 0xeb, 0xea, 0xe9}), "not valid standard base64"},
		{"too short", "whsec_" + b64(16), "16 bytes"},
		{"prefix only", "whsec_", "0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signing.ValidateSecret(tt.secret)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateSecret = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateSecret = %v, want error containing %q", err, tt.wantErr)
			}
			if len(tt.secret) > len("whsec_") && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error %q echoes the secret", err)
			}
		})
	}
}

func TestParseScheme(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]signing.Scheme{
		"hookd": signing.SchemeHookd, "standard": signing.SchemeStandard,
		"Stripe": signing.SchemeStripe, " github ": signing.SchemeGitHub,
	} {
		got, err := signing.ParseScheme(in)
		if err != nil || got != want {
			t.Errorf("ParseScheme(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := signing.ParseScheme("svix")
	if err == nil || !strings.Contains(err.Error(), `"svix"`) || !strings.Contains(err.Error(), "hookd, standard, stripe, github") {
		t.Fatalf("ParseScheme(svix) = %v; want error naming the input and the allowed values", err)
	}
}
