package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

const exampleFile = "../../config.example.yaml"

func TestDefault(t *testing.T) {
	t.Parallel()

	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	if got, want := cfg.LeaseDuration(), 2*DefaultDeliveryTimeout+30*time.Second; got != want {
		t.Errorf("LeaseDuration() = %s, want %s", got, want)
	}
	cfg.Delivery.Lease = time.Minute
	if got := cfg.LeaseDuration(); got != time.Minute {
		t.Errorf("LeaseDuration() with lease set = %s, want 1m", got)
	}
	if got := Default().Delivery.RetrySchedule; len(got) != 10 || got[9] != 24*time.Hour {
		t.Errorf("default retry schedule = %v", got)
	}
	// Default returns fresh slices: changing one config never leaks.
	Default().Delivery.RetrySchedule[0] = time.Hour
	if Default().Delivery.RetrySchedule[0] != 0 {
		t.Error("Default() shares its retry schedule between calls")
	}
}

func TestSlogLevel(t *testing.T) {
	t.Parallel()

	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		if got := (Log{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

// The example file must hold exactly the defaults, so it never drifts.
func TestExampleFileEqualsDefault(t *testing.T) {
	t.Parallel()

	cfg, err := Load(LoadOptions{File: exampleFile, Env: noEnv})
	if err != nil {
		t.Fatalf("load %s: %v", exampleFile, err)
	}
	cfg.file = ""
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.example.yaml differs from Default():\n got  %+v\n want %+v", cfg, want)
	}
}

// Every key of the struct must appear in the example file, and every key
// of a source in its commented example.
func TestExampleFileHasEveryKey(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		if !v.InConfig(key) {
			t.Errorf("key %s is missing from config.example.yaml", key)
		}
	}
	st := reflect.TypeFor[Source]()
	for i := range st.NumField() {
		key := st.Field(i).Tag.Get("key")
		re := regexp.MustCompile(`(?m)^\s*#\s+(- )?` + key + `:`)
		if !re.Match(data) {
			t.Errorf("source key %s is missing from the example source in config.example.yaml", key)
		}
	}
	// A section without a key tag would be invisible to Keys().
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if ct.Field(i).Tag.Get("key") == "" && ct.Field(i).IsExported() {
			t.Errorf("section %s has no key tag", ct.Field(i).Name)
		}
	}
}

// The commented example source must itself be valid.
func TestExampleSourceLoads(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "  sources: []\n", "", 1)
	text = regexp.MustCompile(`(?m)^  # (sources:|  )`).ReplaceAllString(text, "  $1")
	path := filepath.Join(t.TempDir(), "hookd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: path, Env: noEnv})
	if err != nil {
		t.Fatalf("example with its source uncommented: %v", err)
	}
	want := []Source{{Name: "shop", Scheme: "stripe", Secrets: []string{"whsec_replace_me"},
		Tolerance: 5 * time.Minute, ForwardTo: "http://127.0.0.1:9000/stripe"}}
	if !reflect.DeepEqual(cfg.Intake.Sources, want) {
		t.Errorf("sources = %+v, want %+v", cfg.Intake.Sources, want)
	}
}

func TestKeysAndEnvNames(t *testing.T) {
	t.Parallel()

	keys := Keys()
	if len(keys) == 0 || keys[0] != "database.url" {
		t.Fatalf("Keys() = %v", keys)
	}
	for _, k := range keys {
		if !regexp.MustCompile(`^[a-z]+(\.[a-z_]+)?\.[a-z_]+$`).MatchString(k) {
			t.Errorf("key %q is not section[.subsection].snake_case", k)
		}
	}
	if got := EnvName("delivery.retry_schedule"); got != "HOOKD_DELIVERY_RETRY_SCHEDULE" {
		t.Errorf("EnvName = %q", got)
	}
}
