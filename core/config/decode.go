package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KeyError is one problem with one key. Key is the full key, with an index
// for list entries ("delivery.allowed_networks[1]"); Origin, when known,
// says where the value came from (a file, an environment variable or a
// flag).
type KeyError struct {
	Key     string
	Problem string
	Origin  string
}

func (e *KeyError) Error() string {
	if e.Origin == "" {
		return e.Key + ": " + e.Problem
	}
	return e.Key + ": " + e.Problem + " (from " + e.Origin + ")"
}

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// leaf is one settable key of Config.
type leaf struct {
	key   string // "delivery.timeout"
	index []int  // field path from Config
}

// leaves lists every key of Config in declaration order; sections are the
// fields of Config, keys the fields of each section, and a key whose type
// is a struct is a subsection ("console.ssh.listen").
func leaves() []leaf {
	return leavesOf(reflect.TypeFor[Config](), "", nil)
}

func leavesOf(t reflect.Type, prefix string, index []int) []leaf {
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("key")
		if !ok {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		idx := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leavesOf(f.Type, key, idx)...)
			continue
		}
		out = append(out, leaf{key: key, index: idx})
	}
	return out
}

// Keys returns every configuration key ("database.url", ...) in the order
// the struct declares them.
func Keys() []string {
	var out []string
	for _, l := range leaves() {
		out = append(out, l.key)
	}
	return out
}

// EnvName returns the environment variable that sets key.
func EnvName(key string) string {
	return "HOOKD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	durationsType = reflect.TypeFor[[]time.Duration]()
	prefixesType  = reflect.TypeFor[[]netip.Prefix]()
	stringsType   = reflect.TypeFor[[]string]()
	sourcesType   = reflect.TypeFor[[]Source]()
)

const durationExamples = "examples: 500ms, 15s, 2m"

// decode stores raw (a value from YAML, a string from env or a flag, or a
// typed default) into dst, the field of key. A nil raw leaves dst as is.
func decode(key string, raw any, dst reflect.Value) error {
	if raw == nil {
		return nil
	}
	if rv := reflect.ValueOf(raw); rv.Type() == dst.Type() {
		dst.Set(rv) // a typed default
		return nil
	}
	switch dst.Type() {
	case durationType:
		d, err := toDuration(key, raw)
		if err == nil {
			dst.SetInt(int64(d))
		}
		return err
	case durationsType:
		return decodeList(key, raw, dst, func(k string, item any) (any, error) { return toDuration(k, item) })
	case prefixesType:
		return decodeList(key, raw, dst, func(k string, item any) (any, error) { return toPrefix(k, item) })
	case stringsType:
		return decodeList(key, raw, dst, func(k string, item any) (any, error) { return toString(k, item) })
	case sourcesType:
		return decodeSources(key, raw, dst)
	}
	switch dst.Kind() {
	case reflect.String:
		s, err := toString(key, raw)
		if err == nil {
			dst.SetString(s)
		}
		return err
	case reflect.Bool:
		b, err := toBool(key, raw)
		if err == nil {
			dst.SetBool(b)
		}
		return err
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := toInt(key, raw, dst.Type().Bits())
		if err == nil {
			dst.SetInt(n)
		}
		return err
	case reflect.Float64:
		f, err := toFloat(key, raw)
		if err == nil {
			dst.SetFloat(f)
		}
		return err
	}
	return keyErr(key, "has unsupported type %s", dst.Type()) // a bug in this package
}

// show renders a raw value for an error message.
func show(raw any) string {
	if s, ok := raw.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", raw)
}

func toString(key string, raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(v), nil
	}
	return "", keyErr(key, "%s is not a string", show(raw))
}

func toBool(key string, raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, nil
		}
	}
	return false, keyErr(key, "%s is not a boolean (allowed: true, false)", show(raw))
}

func toInt(key string, raw any, bits int) (int64, error) {
	var n int64
	ok := true
	switch v := raw.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case uint64:
		n, ok = int64(v), v <= math.MaxInt64
	case float64:
		n, ok = int64(v), v == math.Trunc(v) && math.Abs(v) < 1<<62
	case string:
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		ok = err == nil
	default:
		ok = false
	}
	if !ok {
		return 0, keyErr(key, "%s is not a whole number", show(raw))
	}
	if bits < 64 && (n > 1<<(bits-1)-1 || n < -(1<<(bits-1))) {
		return 0, keyErr(key, "%s is too large (maximum %d)", show(raw), int64(1<<(bits-1)-1))
	}
	return n, nil
}

func toFloat(key string, raw any) (float64, error) {
	switch v := raw.(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f, nil
		}
	}
	return 0, keyErr(key, "%s is not a number (example: 0.2)", show(raw))
}

func toDuration(key string, raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case int:
		if v == 0 { // a bare 0 is unambiguous; other bare numbers lack a unit
			return 0, nil
		}
	case string:
		if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil {
			return d, nil
		}
	}
	return 0, keyErr(key, "%s is not a duration (%s)", show(raw), durationExamples)
}

func toPrefix(key string, raw any) (netip.Prefix, error) {
	s, ok := raw.(string)
	s = strings.TrimSpace(s)
	if ok && strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil {
			return p.Masked(), nil
		}
	} else if ok {
		if a, err := netip.ParseAddr(s); err == nil {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
	}
	return netip.Prefix{}, keyErr(key, "%s is not a CIDR or IP address (examples: 127.0.0.0/8, 10.0.0.0/8, ::1)", show(raw))
}

// items splits raw into list items: a YAML list as is, a string (from env
// or a flag) on commas, empty parts dropped.
func items(raw any) ([]any, bool) {
	switch v := raw.(type) {
	case []any:
		return v, true
	case string:
		out := []any{}
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, true
	}
	return nil, false
}

// decodeList decodes each item with conv, naming a bad item by its index;
// every bad item is reported.
func decodeList(key string, raw any, dst reflect.Value, conv func(string, any) (any, error)) error {
	list, ok := items(raw)
	if !ok {
		return keyErr(key, "%s is not a list (write a YAML list, or comma-separated values in the environment)", show(raw))
	}
	out := reflect.MakeSlice(dst.Type(), 0, len(list))
	var errs []error
	for i, item := range list {
		v, err := conv(fmt.Sprintf("%s[%d]", key, i), item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = reflect.Append(out, reflect.ValueOf(v))
	}
	if len(errs) == 0 {
		dst.Set(out)
	}
	return joinErrs(errs)
}

// decodeSources decodes intake.sources: a YAML list of mappings, or a JSON
// array from the environment (parsed by the loader before it gets here).
func decodeSources(key string, raw any, dst reflect.Value) error {
	list, ok := raw.([]any)
	if !ok {
		return keyErr(key, "%s is not a list of sources (see the example in config.example.yaml)", show(raw))
	}
	st := reflect.TypeFor[Source]()
	allowed := make(map[string]int, st.NumField())
	var names []string
	for i := range st.NumField() {
		allowed[st.Field(i).Tag.Get("key")] = i
		names = append(names, st.Field(i).Tag.Get("key"))
	}
	out := make([]Source, 0, len(list))
	var errs []error
	for i, item := range list {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, keyErr(ikey, "%s is not a mapping (keys: %s)", show(item), strings.Join(names, ", ")))
			continue
		}
		src := Source{Tolerance: DefaultSourceTolerance}
		sv := reflect.ValueOf(&src).Elem()
		for _, k := range sortedKeys(m) {
			fi, ok := allowed[strings.ToLower(k)]
			if !ok {
				errs = append(errs, unknownKey(ikey+"."+k, k, names))
				continue
			}
			if err := decode(ikey+"."+k, m[k], sv.Field(fi)); err != nil {
				errs = append(errs, err)
			}
		}
		out = append(out, src)
	}
	dst.Set(reflect.ValueOf(out))
	return joinErrs(errs)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
