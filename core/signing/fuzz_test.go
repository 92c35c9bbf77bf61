package signing_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/core/signing"
)

// FuzzVerify feeds hostile header values to every scheme (hookd, standard
// with a whsec_ secret and with a whpk_ public key, stripe, github). With
// valid secrets Verify must never panic and must reject only with a
// *VerifyError; CheckHeaders, which judges the headers before the body is
// read, must never refuse what Verify would accept. `go test` runs the
// seeds and testdata/fuzz/FuzzVerify; `go test -fuzz FuzzVerify` explores
// further.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const publicKey = "whpk_dVxMuSVsp83ErP3Gz+7ahJAX5bn5UU6ZGRvWfgsNQnY="
	now := time.Unix(1_750_000_000, 0)
	h := http.Header{}
	if err := signing.Sign(h, "evt_1", now, []byte(`{"id":"evt_1"}`), []string{secret}); err != nil {
		f.Fatal(err)
	}
	f.Add(h.Get("X-Webhook-Signature"), h.Get("webhook-signature"), h.Get("X-Webhook-Timestamp"), "evt_1", []byte(`{"id":"evt_1"}`))
	f.Add("t=1,v1=,v1=zz,,=", "v1, v1,,, v2,x", "99999999999999999999", "", []byte(`{"id":`))
	f.Add("t=-1,v1=00", "v1,AAAA====", "-1", "\x00", []byte("\xff"))
	f.Add("sha256=", "", "1750000000", "id", []byte(`[]`))

	f.Fuzz(func(t *testing.T, sig, stdSig, ts, id string, body []byte) {
		h := http.Header{}
		h.Set("X-Webhook-Signature", sig)
		h.Set("X-Webhook-Timestamp", ts)
		h.Set("X-Webhook-ID", id)
		h.Set("webhook-signature", stdSig)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-id", id)
		h.Set("Stripe-Signature", sig)
		h.Set("X-Hub-Signature-256", sig)
		h.Set("X-GitHub-Delivery", id)
		for _, scheme := range signing.Schemes {
			secrets := []string{secret}
			if scheme == signing.SchemeStandard {
				secrets = append(secrets, publicKey)
			}
			_, err := signing.Verify(scheme, h, body, secrets, time.Minute, now)
			var ve *signing.VerifyError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("%s: Verify = %v, want nil or *VerifyError", scheme, err)
			}
			if pre := signing.CheckHeaders(scheme, h); err == nil && pre != nil {
				t.Fatalf("%s: CheckHeaders refuses (%v) a request Verify accepts", scheme, pre)
			}
		}
	})
}
