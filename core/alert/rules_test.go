package alert

import (
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/metrics"
)

// The shipped Prometheus rules parse and use only metrics hookd registers.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../demo/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("demo/prometheus-alerts.yml: %v", err)
	}
	known := registeredNames(t)
	name := regexp.MustCompile(`\bhookd_[a-z0-9_]+`)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %+v lacks alert, expr, severity or summary", r)
			}
			for _, m := range name.FindAllString(r.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("rule %s uses %s, which hookd does not register", r.Alert, m)
				}
			}
		}
	}
	if rules < 5 {
		t.Errorf("%d rules; want the dead-letter, backlog, failure-ratio, database and intake rules at least", rules)
	}
}

// registeredNames lists the metric names of core/metrics: those of every
// collector field and those the database collector reports.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	m.WatchDatabase(dbtest.NewPool(t), slog.New(slog.DiscardHandler))
	names := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok {
			continue
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if sub := fq.FindStringSubmatch(d.String()); sub != nil {
				names[sub[1]] = true
			}
		}
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	if !names["hookd_database_up"] || !names["hookd_dead_letters_total"] {
		t.Fatalf("metric names not found: %v", names)
	}
	return names
}
