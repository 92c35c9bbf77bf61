package filter_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/tui/filter"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// Parse never panics; what it accepts renders canonically and parses back
// to the same terms.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "state:dead", "endpoint:legacy status:5xx reason:connect refused",
		`"connection refused" text:"dial tcp 10.0.0.7:443"`, "id:in:payments:evt_1 since:2026-03-14T10:00:00Z",
		"state:deadendpoint:x", `"unclosed`, "ep:ep_x", "STATE:DEAD", ":x", "x:", "a:b:c", "  spaced   out  ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := filter.Parse(s, filter.DeliveryKeys...)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error must say what is wrong")
			}
			return
		}
		for _, v := range append([]string{terms.Text}, values(terms)...) {
			if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) && !strings.Contains(v, "\t") {
				t.Fatalf("%q: an accepted value holds what the database refuses: %q", s, v)
			}
		}
		again, err := filter.Parse(terms.String(), filter.DeliveryKeys...)
		if err != nil {
			t.Fatalf("the canonical form %q of %q does not parse: %v", terms.String(), s, err)
		}
		if again.String() != terms.String() || again.Text != terms.Text || len(again.Values) != len(terms.Values) {
			t.Fatalf("%q: %q parses back as %q", s, terms.String(), again.String())
		}
		for k, v := range terms.Values {
			if again.Values[k] != v {
				t.Fatalf("%q: %s=%q came back as %q", s, k, v, again.Values[k])
			}
		}
	})
}

func values(t filter.Terms) []string {
	var out []string
	for _, v := range t.Values {
		out = append(out, v)
	}
	return out
}

// Deliveries never panics; what it accepts is a valid query.
func FuzzDeliveries(f *testing.F) {
	for _, s := range []string{
		"state:retrying", "status:429", "status:4xx", "status:99", "reason:connect", "reason:nope",
		"since:1h until:10m", "since:10m until:1h", "since:99999999999d", "type:payment.*", "endpoint:ep_01abc", "endpoint:Legacy ERP",
		"tenant:cus_42", "tenant:org:cus_42", "tenant:", "state:skipped",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := filter.Deliveries(s, now)
		if err != nil {
			return
		}
		if err := d.Query.Filter.Validate(); err != nil {
			t.Fatalf("%q gave an invalid filter: %v", s, err)
		}
		if st := d.Query.State; st != "" && !st.Valid() {
			t.Fatalf("%q: state %q is not the engine's", s, st)
		}
		if tn := d.Query.Tenant; tn != "" && tenant.ValidateID(tn) != nil {
			t.Fatalf("%q: tenant %q is not a tenant id", s, tn)
		}
		if q := d.Query; q.StatusMin > q.StatusMax || q.StatusMin != 0 && (q.StatusMin < 100 || q.StatusMax > 599) {
			t.Fatalf("%q: status range %d..%d", s, q.StatusMin, q.StatusMax)
		}
		if d.EndpointIsID && strings.ContainsAny(d.Endpoint, " \t") {
			t.Fatalf("%q: an endpoint id has no spaces: %q", s, d.Endpoint)
		}
	})
}
