package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// writeFile writes a config file in a fresh directory and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadErr loads and returns the error text, failing if there is none.
func loadErr(t *testing.T, opts LoadOptions) string {
	t.Helper()
	cfg, err := Load(opts)
	if err == nil {
		t.Fatalf("Load succeeded, want an error (config %+v)", cfg)
	}
	if cfg != nil {
		t.Error("Load returned a config along with an error")
	}
	return err.Error()
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()

	cfg, err := Load(LoadOptions{File: writeFile(t, ""), Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	cfg.file = ""
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("empty file: got %+v, want defaults", cfg)
	}
}

// A subsection's keys load from the file and the environment.
func TestLoadConsoleSSH(t *testing.T) {
	t.Parallel()

	file := writeFile(t, "console:\n  ssh:\n    listen: 127.0.0.1:2222\n    authorized_keys: keys\n")
	cfg, err := Load(LoadOptions{File: file, Env: envOf(map[string]string{"HOOKD_CONSOLE_SSH_HOST_KEY": "host_key",
		"HOOKD_CONSOLE_SSH_READ_ONLY_KEYS": "viewers"})})
	if err != nil {
		t.Fatal(err)
	}
	want := ConsoleSSH{Listen: "127.0.0.1:2222", HostKey: "host_key", AuthorizedKeys: "keys", ReadOnlyKeys: "viewers"}
	if cfg.Console.SSH != want {
		t.Errorf("console.ssh = %+v, want %+v", cfg.Console.SSH, want)
	}
	// Read-only keys alone are enough: a server for viewers only.
	file = writeFile(t, "console:\n  ssh:\n    listen: 127.0.0.1:2222\n    read_only_keys: viewers\n")
	if cfg, err = Load(LoadOptions{File: file, Env: envOf(nil)}); err != nil || cfg.Console.SSH.ReadOnlyKeys != "viewers" {
		t.Errorf("read_only_keys without authorized_keys: %v %+v", err, cfg)
	}
}

func TestLoadFileValues(t *testing.T) {
	t.Parallel()

	path := writeFile(t, `
database:
  url: postgres://hookd@db:5432/hookd
  max_conns: 5
http:
  listen: ":9090"
  trusted_proxies: [127.0.0.1/32, "::1", 10.0.0.0/8]
api:
  keys: [0123456789abcdef0123]
delivery:
  retry_schedule: [0s, 10ms, 1m]
  timeout: 2s
  allowed_networks: [127.0.0.0/8, "::1", 10.1.2.3]
  jitter: 0
  lease: 1m
intake:
  sources:
    - name: shop
      scheme: github
      secrets: [s1-0123456789abcdef, s2-0123456789abcdef]
      forward_to: https://example.com/in
log:
  level: debug
  format: json
console:
  read_only: true
`)
	cfg, err := Load(LoadOptions{File: path, Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.file = path
	want.Database.URL = "postgres://hookd@db:5432/hookd"
	want.Database.MaxConns = 5
	want.HTTP.Listen = ":9090"
	want.HTTP.TrustedProxies = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8"),
	}
	want.API.Keys = []string{"0123456789abcdef0123"}
	want.Delivery.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, time.Minute}
	want.Delivery.Timeout = 2 * time.Second
	want.Delivery.AllowedNetworks = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.2.3/32"),
	}
	want.Delivery.Jitter = 0
	want.Delivery.Lease = time.Minute
	want.Intake.Sources = []Source{{Name: "shop", Scheme: "github", Secrets: []string{"s1-0123456789abcdef", "s2-0123456789abcdef"},
		Tolerance: DefaultSourceTolerance, ForwardTo: "https://example.com/in"}}
	want.Log = Log{Level: "debug", Format: "json"}
	want.Console.ReadOnly = true
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if cfg.File() != path {
		t.Errorf("File() = %q, want %q", cfg.File(), path)
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "http:\n  listen: 127.0.0.1:1111\ndelivery:\n  timeout: 3s\n")
	cfg, err := Load(LoadOptions{File: path, Env: envOf(map[string]string{
		"HOOKD_HTTP_LISTEN":               "127.0.0.1:2222",
		"HOOKD_DATABASE_URL":              "host=db user=hookd",
		"HOOKD_DATABASE_AUTO_MIGRATE":     "false",
		"HOOKD_DELIVERY_JITTER":           "0.5",
		"HOOKD_API_KEYS":                  "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb",
		"HOOKD_DELIVERY_ALLOWED_NETWORKS": "127.0.0.1,10.0.0.0/8",
		"HOOKD_HTTP_TRUSTED_PROXIES":      "127.0.0.1/32, ::1/128",
		"HOOKD_INTAKE_SOURCES":            `[{"name":"gh","scheme":"github","secrets":["x-0123456789abcdef"]}]`,
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:2222" {
		t.Errorf("http.listen = %q, want the env value", cfg.HTTP.Listen)
	}
	if cfg.Delivery.Timeout != 3*time.Second {
		t.Errorf("delivery.timeout = %s, want the file value 3s", cfg.Delivery.Timeout)
	}
	if cfg.Database.URL != "host=db user=hookd" || cfg.Database.AutoMigrate || cfg.Delivery.Jitter != 0.5 {
		t.Errorf("env values not applied: %+v %+v", cfg.Database, cfg.Delivery)
	}
	if !reflect.DeepEqual(cfg.API.Keys, []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}) {
		t.Errorf("api.keys = %q", cfg.API.Keys)
	}
	if len(cfg.Delivery.AllowedNetworks) != 2 || cfg.Delivery.AllowedNetworks[1].String() != "10.0.0.0/8" {
		t.Errorf("allowed_networks = %v", cfg.Delivery.AllowedNetworks)
	}
	if len(cfg.HTTP.TrustedProxies) != 2 || cfg.HTTP.TrustedProxies[1].String() != "::1/128" {
		t.Errorf("trusted_proxies = %v", cfg.HTTP.TrustedProxies)
	}
	if len(cfg.Intake.Sources) != 1 || cfg.Intake.Sources[0].Name != "gh" || cfg.Intake.Sources[0].Tolerance != DefaultSourceTolerance {
		t.Errorf("sources = %+v", cfg.Intake.Sources)
	}
}

func TestLoadFlagsOverrideEnv(t *testing.T) {
	t.Parallel()

	fs := pflag.NewFlagSet("hookd", pflag.ContinueOnError)
	fs.String("listen", DefaultListen, "")
	fs.String("log-level", "info", "")
	fs.String("data-dir", DefaultDataDir, "")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:3333", "--log-level=warn"}); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "database:\n  data_dir: /var/lib/hookd\n")
	cfg, err := Load(LoadOptions{File: path, Flags: fs, Env: envOf(map[string]string{
		"HOOKD_HTTP_LISTEN": "127.0.0.1:2222",
		"HOOKD_LOG_LEVEL":   "error",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:3333" || cfg.Log.Level != "warn" {
		t.Errorf("flags did not override env: listen %q, level %q", cfg.HTTP.Listen, cfg.Log.Level)
	}
	// A flag the user did not set leaves the file value alone.
	if cfg.Database.DataDir != "/var/lib/hookd" {
		t.Errorf("unset --data-dir overrode the file: %q", cfg.Database.DataDir)
	}
}

func TestLoadRetrySchedule(t *testing.T) {
	t.Parallel()

	want := []time.Duration{0, 5 * time.Second, time.Minute}
	for name, opts := range map[string]LoadOptions{
		"yaml list":  {File: writeFile(t, "delivery:\n  retry_schedule: [0s, 5s, 1m]\n"), Env: noEnv},
		"yaml block": {File: writeFile(t, "delivery:\n  retry_schedule:\n    - 0\n    - 5s\n    - 1m\n"), Env: noEnv},
		"env string": {File: writeFile(t, ""), Env: envOf(map[string]string{"HOOKD_DELIVERY_RETRY_SCHEDULE": "0s,5s,1m"})},
		"env spaces": {File: writeFile(t, ""), Env: envOf(map[string]string{"HOOKD_DELIVERY_RETRY_SCHEDULE": " 0s, 5s ,1m "})},
		"env over yaml": {File: writeFile(t, "delivery:\n  retry_schedule: [1h]\n"),
			Env: envOf(map[string]string{"HOOKD_DELIVERY_RETRY_SCHEDULE": "0s,5s,1m"})},
	} {
		cfg, err := Load(opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(cfg.Delivery.RetrySchedule, want) {
			t.Errorf("%s: retry_schedule = %v, want %v", name, cfg.Delivery.RetrySchedule, want)
		}
	}
}

func TestLoadBadValuesNameKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{name: "duration", file: "delivery:\n  timeout: abc\n",
			want: []string{`delivery.timeout: "abc" is not a duration (examples: 500ms, 15s, 2m)`}},
		{name: "bare number duration", file: "delivery:\n  poll_interval: 5\n",
			want: []string{`delivery.poll_interval: 5 is not a duration`}},
		{name: "enum", file: "log:\n  format: xml\n",
			want: []string{`log.format: "xml" is not allowed (allowed: auto, text, json)`}},
		{name: "log level", file: "log:\n  level: verbose\n",
			want: []string{`log.level: "verbose" is not allowed (allowed: debug, info, warn, error)`}},
		{name: "max conns", file: "database:\n  max_conns: 1\n", want: []string{"database.max_conns: 1 is too small (minimum 2)"}},
		{name: "int", file: "delivery:\n  workers: many\n", want: []string{`delivery.workers: "many" is not a whole number`}},
		{name: "listen", file: "http:\n  listen: localhost\n", want: []string{`http.listen: "localhost" is not a listen address`}},
		{name: "short api key", file: "api:\n  keys: [short]\n", want: []string{"api.keys[0]: is 5 characters long; keys must have at least 16"}},
		{name: "api key like a tenant token", file: "api:\n  keys: [hkt_0123456789abcdef]\n", want: []string{"api.keys[0]: starts with hkt_, which marks tenant tokens"}},
		{name: "empty schedule", file: "delivery:\n  retry_schedule: []\n", want: []string{"delivery.retry_schedule: must list at least one delay"}},
		{name: "negative delay", file: "delivery:\n  retry_schedule: [0s, -5s]\n", want: []string{"delivery.retry_schedule[1]: -5s must not be negative"}},
		{name: "bad delay", file: "delivery:\n  retry_schedule: [0s, 5x]\n", want: []string{`delivery.retry_schedule[1]: "5x" is not a duration`}},
		{name: "network", file: "delivery:\n  allowed_networks: [10.0.0.0/8, 10.0.0/8]\n",
			want: []string{`delivery.allowed_networks[1]: "10.0.0/8" is not a CIDR or IP address`}},
		{name: "trusted proxy", file: "http:\n  trusted_proxies: [127.0.0.1/32, localhost, 10.0.0.0/33]\n",
			want: []string{
				`http.trusted_proxies[1]: "localhost" is not a CIDR or IP address`,
				`http.trusted_proxies[2]: "10.0.0.0/33" is not a CIDR or IP address`,
			}},
		{name: "trusted proxy env", env: map[string]string{"HOOKD_HTTP_TRUSTED_PROXIES": "127.0.0.1,nginx"},
			want: []string{`http.trusted_proxies[1]: "nginx" is not a CIDR or IP address`, "(from HOOKD_HTTP_TRUSTED_PROXIES)"}},
		{name: "lease", file: "delivery:\n  timeout: 15s\n  lease: 10s\n", want: []string{"delivery.lease: 10s must exceed delivery.timeout (15s)"}},
		{name: "jitter", file: "delivery:\n  jitter: 1\n", want: []string{"delivery.jitter: 1 is out of range"}},
		{name: "refresh", file: "console:\n  refresh: 10ms\n", want: []string{"console.refresh: 10ms is too short (minimum 100ms)"}},
		{name: "ssh without authorized keys", file: "console:\n  ssh:\n    listen: 127.0.0.1:2222\n",
			want: []string{"console.ssh.authorized_keys: must not be empty when console.ssh.listen is set"}},
		{name: "ssh listen", env: map[string]string{"HOOKD_CONSOLE_SSH_LISTEN": "2222", "HOOKD_CONSOLE_SSH_AUTHORIZED_KEYS": "keys"},
			want: []string{`console.ssh.listen: "2222" is not a listen address`, "(from HOOKD_CONSOLE_SSH_LISTEN)"}},
		{name: "ssh unknown key", file: "console:\n  ssh:\n    lisen: :2222\n",
			want: []string{`console.ssh.lisen: unknown key (did you mean "listen"? allowed: listen, host_key, authorized_keys, read_only_keys)`}},
		{name: "ssh not a mapping", file: "console:\n  ssh: yes\n",
			want: []string{"console.ssh: \"yes\" is not a mapping of keys (keys: listen, host_key, authorized_keys, read_only_keys)"}},
		{name: "alerts url", file: "alerts:\n  url: example.com/hook\n", want: []string{`alerts.url: "example.com/hook" is not an absolute http or https URL`}},
		{name: "alerts url in hex", file: "alerts:\n  url: http://0x7f000001:9000/alerts\n",
			want: []string{`alerts.url: "http://0x7f000001:9000/alerts": the host "0x7f000001" is the IPv4 address 127.0.0.1 in a spelling the HTTP client does not read; write 127.0.0.1`}},
		{name: "alerts format", file: "alerts:\n  format: teams\n", want: []string{`alerts.format: "teams" is not allowed (allowed: hookd, slack)`}},
		{name: "database url", file: "database:\n  url: db.example.com\n", want: []string{"database.url: is neither a postgres:// URL nor a key=value DSN"}},
		{name: "bool", file: "console:\n  read_only: maybe\n", want: []string{`console.read_only: "maybe" is not a boolean (allowed: true, false)`}},
		{name: "source", file: "intake:\n  sources:\n    - name: a b\n      scheme: paypal\n      forward_to: ftp://x\n",
			want: []string{
				`intake.sources[0].name: "a b" is not allowed`,
				`intake.sources[0].scheme: "paypal" is not allowed (allowed: hookd, standard, stripe, github)`,
				"intake.sources[0].secrets: must list at least one secret",
				`intake.sources[0].forward_to: "ftp://x" is not an absolute http or https URL`,
			}},
		{name: "duplicate source", file: "intake:\n  sources:\n    - {name: a, scheme: hookd, secrets: [x]}\n    - {name: a, scheme: hookd, secrets: [y]}\n",
			want: []string{`intake.sources[1].name: "a" is already used by intake.sources[0]`}},
		{name: "standard secret", file: "intake:\n  sources:\n    - {name: a, scheme: standard, secrets: [\"whsec_!!0123456789abcdef\"]}\n",
			want: []string{"intake.sources[0].secrets[0]: is not a Standard Webhooks secret"}},
		{name: "env names its variable", env: map[string]string{"HOOKD_DELIVERY_TIMEOUT": "soon"},
			want: []string{`delivery.timeout: "soon" is not a duration (examples: 500ms, 15s, 2m) (from HOOKD_DELIVERY_TIMEOUT)`}},
		{name: "env sources json", env: map[string]string{"HOOKD_INTAKE_SOURCES": "shop"},
			want: []string{"intake.sources: is not a JSON array of sources"}},
		{name: "all problems at once", file: "delivery:\n  timeout: abc\n  workers: 0\nlog:\n  format: xml\n",
			want: []string{"delivery.timeout:", "delivery.workers: 0 must be at least 1", "log.format:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := loadErr(t, LoadOptions{File: writeFile(t, tt.file), Env: envOf(tt.env)})
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadSecretsNotEchoed(t *testing.T) {
	t.Parallel()

	msg := loadErr(t, LoadOptions{File: writeFile(t, "api:\n  keys: [tooshortsecret]\n"), Env: noEnv})
	if strings.Contains(msg, "tooshortsecret") {
		t.Errorf("error echoes the API key: %s", msg)
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "delivery:\n  timeot: 5s\nhttp:\n  listen: 127.0.0.1:1\ndatabse:\n  url: x\nintake:\n  sources:\n    - {name: a, scheme: hookd, secrets: [x], secrts: y}\n")
	msg := loadErr(t, LoadOptions{File: path, Env: noEnv})
	for _, w := range []string{
		`delivery.timeot: unknown key (did you mean "timeout"?`,
		`databse: unknown key (did you mean "database"?`,
		`intake.sources[0].secrts: unknown key (did you mean "secrets"?`,
		"(from " + path + ")",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not contain %q:\n%s", w, msg)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "nope.yaml")
	msg := loadErr(t, LoadOptions{File: path, Env: noEnv})
	if !strings.Contains(msg, path) {
		t.Errorf("error does not name the file: %s", msg)
	}
	msg = loadErr(t, LoadOptions{File: writeFile(t, "http: [oops\n"), Env: noEnv})
	if !strings.Contains(msg, "config file") {
		t.Errorf("bad YAML error: %s", msg)
	}
}

func TestReadFileSearchesDefaults(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	present := writeFile(t, "log:\n  level: debug\n")
	missing := filepath.Join(dir, "absent.yaml")

	v := viper.New()
	got, err := readFile(v, "", []string{missing, present, missing})
	if err != nil || got != present {
		t.Fatalf("readFile = %q, %v; want %q", got, err, present)
	}
	if v.GetString("log.level") != "debug" {
		t.Error("the found file was not read")
	}
	got, err = readFile(viper.New(), "", []string{missing})
	if err != nil || got != "" {
		t.Errorf("no default file: readFile = %q, %v; want none and no error", got, err)
	}
}
