package endpoint_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// TestOwnEndpointsAreChangedOnlyByHookd: the alert endpoint and intake
// forward targets follow the configuration. Update, Delete and
// RotateSecret refuse them whoever calls (the API, the CLI), and change
// nothing; the Own variants, which hookd's own syncing uses, work.
func TestOwnEndpointsAreChangedOnlyByHookd(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	for _, kind := range []string{endpoint.KindAlert, endpoint.KindForward} {
		ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{ID: "ep_own_" + kind, Kind: kind, URL: "https://own.example/", Trusted: true})
		if err != nil {
			t.Fatal(err)
		}
		evil := "http://169.254.169.254/latest/meta-data/"
		refusals := map[string]error{}
		_, refusals["update"] = endpoint.Update(ctx, pool, ep.ID, endpoint.UpdateParams{URL: &evil})
		refusals["delete"] = endpoint.Delete(ctx, pool, ep.ID)
		_, refusals["rotate"] = endpoint.RotateSecret(ctx, pool, ep.ID, "", time.Hour)
		for what, err := range refusals {
			var v *validate.Error
			if !errors.As(err, &v) || v.Field != "id" || !strings.Contains(v.Message, "hookd's own "+kind+" endpoint") {
				t.Errorf("%s of the %s endpoint: %v, want a refusal naming it", what, kind, err)
			}
		}
		got, err := endpoint.Get(ctx, pool, ep.ID)
		if err != nil || got.URL != ep.URL || got.Secret != ep.Secret || !got.Trusted {
			t.Fatalf("%s endpoint after refusals = %+v, %v", kind, got, err)
		}

		// Enabling and disabling alone is allowed, as Disable and Enable
		// allow it; with another field it is refused whole.
		off, on := false, true
		if _, err := endpoint.Update(ctx, pool, ep.ID, endpoint.UpdateParams{Enabled: &off, URL: &evil}); err == nil {
			t.Fatalf("disabling the %s endpoint and changing its url was allowed", kind)
		}
		if got, err := endpoint.Update(ctx, pool, ep.ID, endpoint.UpdateParams{Enabled: &off}); err != nil || got.Enabled {
			t.Fatalf("disabling the %s endpoint = %+v, %v", kind, got, err)
		}
		if got, err := endpoint.Update(ctx, pool, ep.ID, endpoint.UpdateParams{Enabled: &on}); err != nil || !got.Enabled || got.URL != ep.URL {
			t.Fatalf("enabling the %s endpoint = %+v, %v", kind, got, err)
		}

		// hookd's own syncing still changes it.
		next := "https://own.example/next"
		if got, err := endpoint.UpdateOwn(ctx, pool, ep.ID, endpoint.UpdateParams{URL: &next}); err != nil || got.URL != next {
			t.Fatalf("UpdateOwn = %+v, %v", got, err)
		}
		if got, err := endpoint.RotateOwnSecret(ctx, pool, ep.ID, "", time.Hour); err != nil || got.Secret == ep.Secret {
			t.Fatalf("RotateOwnSecret = %+v, %v", got, err)
		}
		if err := endpoint.DeleteOwn(ctx, pool, ep.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrustIsStoredNotDerivedFromTheID: the address guard's exemption is
// the endpoint's trusted flag. A forward endpoint named like the one of a
// configured source is not trusted unless it was made so.
func TestTrustIsStoredNotDerivedFromTheID(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO hookd.sources (name, scheme, secrets, from_config) VALUES ('shop', 'hookd', '{s}', true)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id      string
		trusted bool
	}{{"ep_fwd_shop", false}, {"ep_fwd_other", true}} {
		if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{ID: c.id, Kind: endpoint.KindForward, URL: "http://127.0.0.1:9/", Trusted: c.trusted}); err != nil {
			t.Fatal(err)
		}
		if _, err := outbox.NewPublisher(pool, outbox.Options{}).Publish(ctx, outbox.Event{Type: "a.b", EndpointID: c.id}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "test"})
	if err != nil || len(claimed.Jobs) != 2 {
		t.Fatalf("claim = %d jobs, %v", len(claimed.Jobs), err)
	}
	for _, j := range claimed.Jobs {
		if want := j.EndpointID == "ep_fwd_other"; j.Trusted != want {
			t.Errorf("job for %s: trusted %v, want %v", j.EndpointID, j.Trusted, want)
		}
	}
}
