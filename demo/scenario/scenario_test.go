package scenario

import (
	"net/netip"
	"testing"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/demo/receivers"
)

func TestConfigIsValidAndAllowsOnlyLoopback(t *testing.T) {
	t.Parallel()
	cfg := Config("postgres://u:p@127.0.0.1:5432/hookd", DefaultListen, "demo_0123456789abcdef", mustSecret(),
		"http://127.0.0.1:9/webhooks")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the demo's configuration does not validate: %v", err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if got := cfg.Delivery.AllowedNetworks; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("delivery.allowed_networks = %v, want exactly %v", got, want)
	}
	if len(cfg.Intake.Sources) != 1 || cfg.Intake.Sources[0].Name != SourceName ||
		cfg.Intake.Sources[0].ForwardTo != "http://127.0.0.1:9/webhooks" {
		t.Errorf("intake.sources = %+v, want the one source %q forwarding to the given URL", cfg.Intake.Sources, SourceName)
	}
}

func TestEverySubscriptionHasAReceiverAndMatchingEvents(t *testing.T) {
	t.Parallel()
	if len(subscriptions) != len(receivers.Behaviours) {
		t.Fatalf("%d subscriptions for %d behaviours", len(subscriptions), len(receivers.Behaviours))
	}
	for i, s := range subscriptions {
		if s.behaviour != receivers.Behaviours[i] {
			t.Errorf("subscription %d is %s, want %s", i, s.behaviour, receivers.Behaviours[i])
		}
		matched := false
		for _, k := range eventKinds {
			matched = matched || endpoint.MatchTypes(s.eventTypes, k.typ)
		}
		if !matched {
			t.Errorf("no event of the stream reaches the %s receiver (filter %v)", s.behaviour, s.eventTypes)
		}
	}
}
