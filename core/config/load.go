package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// DefaultFiles are searched in order when no file is given; the first that
// exists is read, and none existing is fine.
var DefaultFiles = []string{"hookd.yaml", "/etc/hookd/hookd.yaml"}

// FlagKeys maps the flag names a command may define to the keys they set.
var FlagKeys = map[string]string{
	"database-url": "database.url",
	"listen":       "http.listen",
	"data-dir":     "database.data_dir",
	"log-level":    "log.level",
}

// LoadOptions says where [Load] reads from.
type LoadOptions struct {
	// File is an explicit config file (--config); it must exist. "" searches
	// DefaultFiles.
	File string
	// Flags, if not nil, are looked up by the names in FlagKeys; a flag
	// the user set overrides its key.
	Flags *pflag.FlagSet
	// Env looks up environment variables. Defaults to os.LookupEnv.
	Env func(string) (string, bool)
}

// Load reads the configuration from defaults, file, environment and flags
// (in rising precedence), and validates it. On error it returns every
// problem found, joined, each naming its key; it never returns a partly
// valid Config.
func Load(opts LoadOptions) (*Config, error) {
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	v := viper.New()
	file, err := readFile(v, opts.File, DefaultFiles)
	if err != nil {
		return nil, err
	}
	origin := map[string]string{}
	// Before any default exists, viper's settings are exactly the file's.
	errs := checkKnown(v.AllSettings())
	for _, err := range errs {
		setOrigin(err, file)
	}

	def := reflect.ValueOf(Default()).Elem()
	for _, l := range leaves() {
		v.SetDefault(l.key, def.FieldByIndex(l.index).Interface())
		if v.InConfig(l.key) {
			origin[l.key] = file
		}
	}
	errs = append(errs, applyEnv(v, env, origin)...)
	applyFlags(v, opts.Flags, origin)

	cfg := Default()
	cfg.file = file
	cv := reflect.ValueOf(cfg).Elem()
	for _, l := range leaves() {
		if err := decode(l.key, v.Get(l.key), cv.FieldByIndex(l.index)); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, cfg.Validate())
	errs = flatten(errs)
	if len(errs) > 0 {
		for _, err := range errs {
			setOrigin(err, originOf(err, origin))
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// readFile reads the explicit file, or the first default file that exists,
// into v, and returns its path ("" when none was read).
func readFile(v *viper.Viper, explicit string, defaults []string) (string, error) {
	candidates, must := defaults, false
	if explicit != "" {
		candidates, must = []string{explicit}, true
	}
	for _, path := range candidates {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && !must {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("config file: %w", err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return "", fmt.Errorf("config file %s: %w", path, err)
		}
		return path, nil
	}
	return "", nil
}

// keyNode is one level of the key tree: its names in declaration order
// and, for each, the subtree (nil for a key that holds a value).
type keyNode struct {
	names []string
	kids  map[string]*keyNode
}

func keyTree() *keyNode {
	root := &keyNode{kids: map[string]*keyNode{}}
	for _, l := range leaves() {
		n := root
		parts := strings.Split(l.key, ".")
		for i, part := range parts {
			kid, seen := n.kids[part]
			if !seen {
				n.names = append(n.names, part)
				if i < len(parts)-1 {
					kid = &keyNode{kids: map[string]*keyNode{}}
				}
				n.kids[part] = kid
			}
			n = kid
		}
	}
	return root
}

// checkKnown reports every section and key in settings (the file's) that
// Config does not have.
func checkKnown(settings map[string]any) []error {
	return keyTree().check("", settings)
}

func (n *keyNode) check(prefix string, settings map[string]any) []error {
	var errs []error
	for _, k := range sortedKeys(settings) {
		full := k
		if prefix != "" {
			full = prefix + "." + k
		}
		kid, ok := n.kids[k]
		switch {
		case !ok:
			errs = append(errs, unknownKey(full, k, n.names))
		case kid == nil: // a value; decode judges it
		default:
			m, isMap := settings[k].(map[string]any)
			if !isMap {
				if settings[k] != nil {
					errs = append(errs, keyErr(full, "%s is not a mapping of keys (keys: %s)", show(settings[k]), strings.Join(kid.names, ", ")))
				}
				continue
			}
			errs = append(errs, kid.check(full, m)...)
		}
	}
	return errs
}

// applyEnv overrides every key whose HOOKD_ variable is set. Lists stay
// strings, split later; intake.sources is a JSON array.
func applyEnv(v *viper.Viper, env func(string) (string, bool), origin map[string]string) []error {
	var errs []error
	for _, l := range leaves() {
		name := EnvName(l.key)
		val, ok := env(name)
		if !ok {
			continue
		}
		origin[l.key] = name
		if l.key != "intake.sources" {
			v.Set(l.key, val)
			continue
		}
		var list []any
		if err := json.Unmarshal([]byte(val), &list); err != nil {
			errs = append(errs, &KeyError{Key: l.key, Origin: name,
				Problem: fmt.Sprintf("is not a JSON array of sources (%v); example: [{\"name\":\"shop\",\"scheme\":\"stripe\",\"secrets\":[\"whsec_...\"]}]", err)})
			continue
		}
		v.Set(l.key, list)
	}
	return errs
}

// applyFlags overrides the key of every flag in FlagKeys that the user set.
func applyFlags(v *viper.Viper, flags *pflag.FlagSet, origin map[string]string) {
	if flags == nil {
		return
	}
	for name, key := range FlagKeys {
		if f := flags.Lookup(name); f != nil && f.Changed {
			v.Set(key, f.Value.String())
			origin[key] = "--" + name
		}
	}
}

func flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, err)
	}
	return out
}

// originOf finds where the value behind err came from, by its key without
// list indexes ("intake.sources[0].name" -> "intake.sources").
func originOf(err error, origin map[string]string) string {
	var ke *KeyError
	if !errors.As(err, &ke) {
		return ""
	}
	key, _, _ := strings.Cut(ke.Key, "[")
	return origin[key]
}

func setOrigin(err error, o string) {
	var ke *KeyError
	if errors.As(err, &ke) && ke.Origin == "" {
		ke.Origin = o
	}
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

// unknownKey reports an unknown key, suggesting the closest allowed name
// when one is a likely typo.
func unknownKey(full, name string, allowed []string) error {
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(name, a); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" {
		return keyErr(full, "unknown key (did you mean %q? allowed: %s)", best, strings.Join(allowed, ", "))
	}
	return keyErr(full, "unknown key (allowed: %s)", strings.Join(allowed, ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
