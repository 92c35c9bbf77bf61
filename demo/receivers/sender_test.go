package receivers

import (
	"context"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/testkit"
)

// The sender feeds the healthy receiver, which verifies and dedupes the
// way hookd's intake does: tampered requests must be refused and repeats
// acknowledged as duplicates.
func TestSenderAgainstVerifyingReceiver(t *testing.T) {
	t.Parallel()
	sec := secret(t)
	r := start(t, Healthy, Options{Secret: sec})
	s, err := NewSender(SenderOptions{URL: r.URL(), Secret: sec, TamperShare: 0.3, RepeatShare: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		s.SendOne(ctx)
	}
	st, rs := s.Stats(), r.Stats()
	if st.Sent != 300 || st.Failed != 0 {
		t.Fatalf("sender stats = %+v, want 300 sent and none failed", st)
	}
	if st.Accepted == 0 || st.Repeats == 0 || st.Rejected == 0 {
		t.Errorf("sender stats = %+v, want accepted, repeats and rejected all above zero", st)
	}
	if rs.OK != st.Accepted || rs.Duplicates != st.Repeats || rs.Rejected != st.Rejected {
		t.Errorf("receiver stats %+v disagree with sender stats %+v", rs, st)
	}
}

func TestSenderLoopStops(t *testing.T) {
	t.Parallel()
	sec := secret(t)
	r := start(t, Healthy, Options{Secret: sec})
	s, err := NewSender(SenderOptions{URL: r.URL(), Secret: sec, Interval: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop() // before Start: a no-op
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the condition", func() bool { return s.Stats().Sent >= 5 })
	s.Stop()
	s.Stop()
	sent := s.Stats().Sent
	// The receiver may also have seen the one request Stop cut short.
	if got := r.Stats().Requests; got != sent && got != sent+1 {
		t.Errorf("receiver saw %d requests after Stop, sender sent %d", got, sent)
	}
}

func TestNewSenderRejectsBadInput(t *testing.T) {
	t.Parallel()
	sec := secret(t)
	for _, tc := range []struct {
		opts SenderOptions
		want string
	}{
		{SenderOptions{Secret: sec}, "URL"},
		{SenderOptions{URL: "http://127.0.0.1:1/in/x", Secret: "nope"}, "Secret"},
		{SenderOptions{URL: "http://127.0.0.1:1/in/x", Secret: sec, TamperShare: 0.6, RepeatShare: 0.6}, "less than 1"},
	} {
		if _, err := NewSender(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSender(%+v): err = %v, want one mentioning %q", tc.opts, err, tc.want)
		}
	}
}
