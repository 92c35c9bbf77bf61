package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/validate"
)

func TestSourceValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	ctx := context.Background()
	cases := []struct {
		p            inbox.CreateParams
		field, match string
	}{
		{inbox.CreateParams{Name: "bad name", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}}, "name", "letters, digits, - and _"},
		{inbox.CreateParams{Name: "a", Scheme: "svix", Secrets: []string{"s-0123456789abcdef"}}, "scheme", "allowed: hookd, standard, stripe, github"},
		{inbox.CreateParams{Name: "a", Scheme: "hookd"}, "secrets", "at least one"},
		{inbox.CreateParams{Name: "a", Scheme: "hookd", Secrets: []string{""}}, "secrets", "secret 0 is empty"},
		{inbox.CreateParams{Name: "a", Scheme: "standard", Secrets: []string{"not base64 at all!!"}}, "secrets", "Standard Webhooks secret"},
		{inbox.CreateParams{Name: "a", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}, Tolerance: endpoint.Duration(-time.Second)}, "tolerance", "between 0"},
		{inbox.CreateParams{Name: "a", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}, ForwardTo: "ftp://x"}, "forward_to", "http:// or https://"},
		{inbox.CreateParams{Name: "a", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}, ForwardTo: "http://x", ForwardSecret: "abc"}, "forward_secret", "whsec_"},
	}
	for _, c := range cases {
		_, err := inbox.CreateSource(ctx, b.pool, c.p)
		var v *validate.Error
		if !errors.As(err, &v) || v.Field != c.field || !strings.Contains(v.Message, c.match) {
			t.Errorf("%+v: error %v, want %s: ...%s...", c.p, err, c.field, c.match)
		}
	}
	s := b.source(t, inbox.CreateParams{Name: "ok", Scheme: " Stripe ", Secrets: []string{secretA}})
	if s.Scheme != "stripe" || time.Duration(s.Tolerance) != 5*time.Minute || s.ForwardEndpointID != "" {
		t.Fatalf("defaults: %+v", s)
	}
	if _, err := inbox.CreateSource(ctx, b.pool, inbox.CreateParams{Name: "ok", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
}

func TestSourceUpdateAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	ctx := context.Background()
	b.source(t, inbox.CreateParams{Name: "s", Scheme: "hookd", Secrets: []string{"one-0123456789abcdef"}})
	fwd := "http://127.0.0.1:9/in"
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s, err := inbox.UpdateSource(ctx, b.pool, "s", inbox.UpdateParams{ForwardTo: &fwd, ForwardSecret: &secret})
	if err != nil || s.ForwardEndpointID != "ep_fwd_s" || s.ForwardSecret != secret || s.Secrets[0] != "one-0123456789abcdef" {
		t.Fatalf("update: %+v %v", s, err)
	}
	ep, err := endpoint.Get(ctx, b.pool, "ep_fwd_s")
	if err != nil || ep.Kind != endpoint.KindForward || ep.URL != fwd || ep.Trusted {
		t.Fatalf("forward endpoint %+v %v", ep, err)
	}
	none := ""
	if s, err = inbox.UpdateSource(ctx, b.pool, "s", inbox.UpdateParams{ForwardTo: &none}); err != nil || s.ForwardEndpointID != "" {
		t.Fatalf("stop forwarding: %+v %v", s, err)
	}
	if _, err := endpoint.Get(ctx, b.pool, "ep_fwd_s"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("forward endpoint left behind: %v", err)
	}
	if err := inbox.DeleteSource(ctx, b.pool, "s"); err != nil {
		t.Fatal(err)
	}
	if err := inbox.DeleteSource(ctx, b.pool, "s"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestSyncConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	ctx := context.Background()
	b.source(t, inbox.CreateParams{Name: "api-made", Scheme: "hookd", Secrets: []string{"x-0123456789abcdef"}})
	cfg := []config.Source{
		{Name: "stripe", Scheme: "stripe", Secrets: []string{secretB}, Tolerance: time.Minute},
		{Name: "gh", Scheme: "github", Secrets: []string{"s-0123456789abcdef"}, ForwardTo: "http://127.0.0.1:9/gh"},
	}
	if err := inbox.SyncConfig(ctx, b.pool, cfg); err != nil {
		t.Fatal(err)
	}
	gh, err := inbox.GetSource(ctx, b.pool, "gh")
	if err != nil || !gh.FromConfig || gh.ForwardSecret == "" {
		t.Fatalf("gh: %+v %v", gh, err)
	}
	// The forward target of a configured source is trusted (exempt from
	// the address guard); the flag is stored on the endpoint.
	if ep, err := endpoint.Get(ctx, b.pool, "ep_fwd_gh"); err != nil || !ep.Trusted {
		t.Fatalf("configured forward endpoint %+v %v, want trusted", ep, err)
	}
	// Config sources are changed in the file, not through the API.
	if _, err := inbox.UpdateSource(ctx, b.pool, "gh", inbox.UpdateParams{}); !validate.Is(err) || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("update of a config source: %v", err)
	}
	if err := inbox.DeleteSource(ctx, b.pool, "gh"); !validate.Is(err) {
		t.Fatalf("delete of a config source: %v", err)
	}
	// A restart with gh's URL changed and stripe removed: the forward
	// secret is kept, stripe goes, the API's source stays.
	cfg = []config.Source{{Name: "gh", Scheme: "github", Secrets: []string{"s2-0123456789abcdef"}, ForwardTo: "http://127.0.0.1:9/gh2"}}
	if err := inbox.SyncConfig(ctx, b.pool, cfg); err != nil {
		t.Fatal(err)
	}
	ss, err := inbox.ListSources(ctx, b.pool)
	if err != nil || len(ss) != 2 || ss[0].Name != "api-made" || ss[1].Name != "gh" {
		t.Fatalf("sources after resync: %+v %v", ss, err)
	}
	if ss[1].ForwardSecret != gh.ForwardSecret || ss[1].Secrets[0] != "s2-0123456789abcdef" {
		t.Fatalf("gh after resync: %+v", ss[1])
	}
	ep, err := endpoint.Get(ctx, b.pool, "ep_fwd_gh")
	if err != nil || ep.URL != "http://127.0.0.1:9/gh2" {
		t.Fatalf("forward endpoint %+v %v", ep, err)
	}
	if err := inbox.SyncConfig(ctx, b.pool, []config.Source{{Name: "x y", Scheme: "hookd", Secrets: []string{"s-0123456789abcdef"}}}); !validate.Is(err) ||
		!strings.Contains(err.Error(), "intake.sources[0]") {
		t.Fatalf("bad config source: %v", err)
	}
}
