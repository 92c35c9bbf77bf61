package httpx

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/hookd/hookd/core/validate"
)

// checkJSON refuses, in a document encoding/json accepted into a value of
// type t, what it would keep other than as sent: a key given twice in one
// object (the last one wins; a repeated "dry_run" turned a dry run into a
// replay), a key of a struct's object that is not exactly one of its
// fields' names (encoding/json matches them ignoring case, so "Dry_Run"
// after "dry_run" did the same) and text that validate.JSONText finds
// wrong (replaced by U+FFFD), and a null where a value of a type that
// does not take it goes (see takesNull). The error names the field by its
// path ("events[1].type", "metadata.plan").
//
// It scans the bytes itself, without allocating per token: walked with
// json.Decoder.Token, a batch of 1,000 events took three times as long
// to decode (BenchmarkDecodeBatch).
func checkJSON(b []byte, t reflect.Type) error {
	return (&strictScan{b: b}).value(t)
}

// Shaped is a type that takes a JSON value as it is, to decode it later
// (as json.RawMessage does), and names the type it will be decoded into,
// so that the value's keys are checked against that type's fields with
// the rest of the document. The events of a batch are such values.
type Shaped interface{ JSONShape() reflect.Type }

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	shapedType      = reflect.TypeFor[Shaped]()
)

// shapes caches shape, which is asked for every object and list of a
// document: reflection once per type, not once per value.
var shapes sync.Map // reflect.Type -> reflect.Type (nil: keys free)

// shape is the type whose fields a JSON value decoded into a value of
// type t must name exactly; nil when the value is decoded by a method of
// its own and its keys are free.
func shape(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	if s, ok := shapes.Load(t); ok {
		st, _ := s.(reflect.Type)
		return st
	}
	st := shapeOf(t)
	shapes.Store(t, st)
	return st
}

func shapeOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(shapedType) {
		return shape(reflect.New(t).Interface().(Shaped).JSONShape())
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

// fieldSet is the JSON names of a struct's fields, with the types their
// values are decoded into.
type fieldSet map[string]reflect.Type

var fieldSets sync.Map // reflect.Type -> fieldSet

func fieldsOf(t reflect.Type) fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	addFields(fs, map[string]int{}, t, 0)
	fieldSets.Store(t, fs)
	return fs
}

// addFields adds t's fields as encoding/json names them: by the tag's
// name, else the field's; "-" skipped, untagged embedded structs
// flattened, and of two fields of one name the shallower kept (depth
// records where each name was found).
func addFields(fs fieldSet, depth map[string]int, t reflect.Type, d int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(fs, depth, ft, d+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if at, taken := depth[name]; !taken || d < at {
			fs[name], depth[name] = ft, d
		}
	}
}

// strictScan walks a document that is known to be valid JSON.
type strictScan struct {
	b    []byte
	i    int
	path []pathStep
	// kinds: find the first value whose kind its type cannot take (see
	// misfit) instead of checking keys and text.
	kinds bool
}

// misfit is the path ("headers.X-B", "event_types[1]") of the first value
// in b that a value of type t cannot take, a *json.UnmarshalTypeError's
// value of type want; "" when it finds none such. encoding/json names
// only the struct fields on the way there ("headers"), not the map key
// or list index.
func misfit(b []byte, t, want reflect.Type) string {
	s := &strictScan{b: b, kinds: true}
	err := s.value(t)
	var v *validate.Error
	if !errors.As(err, &v) || v.Message != want.String() {
		return ""
	}
	return v.Field
}

// takesNull reports whether null is a value of type t as a request
// means it: only where any JSON goes (an interface, a type that decodes
// itself, such as json.RawMessage, which judges null itself). Elsewhere
// encoding/json reads null as nothing given (a nil pointer, as if the
// field were left out, a PATCH that answered 200 having done nothing) or
// as the zero value (a header of ""), and no request schema takes it.
func takesNull(t reflect.Type) bool {
	switch {
	case t.Kind() == reflect.Interface:
		return true
	case reflect.PointerTo(t).Implements(shapedType):
		return false
	}
	return t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType)
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// takes reports whether a value of type t can be decoded from the JSON
// value that starts with c, as far as its kind tells; a type that decodes
// itself takes anything.
func takes(t reflect.Type, c byte) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c == 'n' || reflect.PointerTo(t).Implements(unmarshalerType) {
		return true // null is taken by all
	}
	if c == '"' && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch k := t.Kind(); {
	case k == reflect.Interface:
		return true
	case c == '{':
		return k == reflect.Struct || k == reflect.Map
	case c == '[':
		return k == reflect.Slice || k == reflect.Array
	case c == '"':
		return k == reflect.String || k == reflect.Slice && t.Elem().Kind() == reflect.Uint8
	case c == 't' || c == 'f':
		return k == reflect.Bool
	default: // a number
		return k >= reflect.Int && k <= reflect.Float64
	}
}

// pathStep is one step into the document: an object's key or a list's index.
type pathStep struct {
	key   []byte // nil in a list
	index int
}

// value checks the value at s.i, which is decoded into a value of type t
// (nil: keys free).
func (s *strictScan) value(t reflect.Type) error {
	s.space()
	if s.kinds && t != nil && !takes(t, s.b[s.i]) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return &validate.Error{Field: s.name(), Message: t.String()}
	}
	if s.kinds && t != nil && t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64 && s.b[s.i] != 'n' && !s.whole(t) {
		return &validate.Error{Field: s.name(), Message: t.String()}
	}
	if !s.kinds && s.b[s.i] == 'n' && t != nil && !takesNull(t) {
		if len(s.path) == 0 {
			return &validate.Error{Field: "body", Message: "must be a JSON object, not null"}
		}
		return &validate.Error{Field: s.name(), Message: "must not be null"}
	}
	switch s.b[s.i] {
	case '{':
		return s.object(shape(t))
	case '[':
		var elem reflect.Type
		if t = shape(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		s.i++
		s.path = append(s.path, pathStep{})
		for n := 0; ; n++ {
			s.space()
			if s.b[s.i] == ']' {
				break
			}
			s.path[len(s.path)-1].index = n
			if err := s.value(elem); err != nil {
				return err
			}
			s.space()
			if s.b[s.i] == ',' {
				s.i++
			}
		}
		s.i++
		s.path = s.path[:len(s.path)-1]
		return nil
	case '"':
		raw, odd := s.str()
		if problem := check(raw, odd); problem != "" && !s.kinds {
			return &validate.Error{Field: s.name(), Message: problem}
		}
		return nil
	}
	for s.i < len(s.b) && !endsLiteral(s.b[s.i]) {
		s.i++ // a number, true, false or null
	}
	return nil
}

// object checks the object at s.i, decoded into a value of type t.
func (s *strictScan) object(t reflect.Type) error {
	var fields fieldSet
	var values reflect.Type // of a map's values
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map:
		values = t.Elem()
	}
	s.i++
	var few [manyKeys + 1][]byte // most objects have fewer keys
	keys := few[:0]
	var seen map[string]struct{} // once keys has more than manyKeys
	for {
		s.space()
		if s.b[s.i] == '}' {
			s.i++
			return nil
		}
		raw, odd := s.str()
		if problem := check(raw, odd); problem != "" && !s.kinds {
			return &validate.Error{Field: s.name(), Message: "has a key that " + problem}
		}
		key := raw[1 : len(raw)-1]
		if odd { // escapes: compare keys as encoding/json reads them
			var k string
			_ = json.Unmarshal(raw, &k)
			key = []byte(k)
		}
		s.path = append(s.path, pathStep{key: key})
		if s.kinds {
			// Keys given twice are not looked for.
		} else if seen != nil {
			if _, twice := seen[string(key)]; twice {
				return &validate.Error{Field: s.name(), Message: "is given twice; give each field once"}
			}
			seen[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return &validate.Error{Field: s.name(), Message: "is given twice; give each field once"}
				}
			}
			keys = append(keys, key)
			if len(keys) > manyKeys {
				// Past a few keys, a set: compared each with every other,
				// an object of 18,500 keys took 1.4 s to check.
				seen = make(map[string]struct{}, 4*manyKeys)
				for _, k := range keys {
					seen[string(k)] = struct{}{}
				}
			}
		}
		if fields != nil {
			ft, ok := fields[string(key)]
			if !ok {
				return s.notAField(fields)
			}
			values = ft
		}
		s.space()
		s.i++ // ':'
		if err := s.value(values); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

// whole reports whether the number at s.i fits an integer of type t, as
// encoding/json reads it: no fraction or exponent, within range.
func (s *strictScan) whole(t reflect.Type) bool {
	end := s.i
	for end < len(s.b) && !endsLiteral(s.b[end]) {
		end++
	}
	num := string(s.b[s.i:end])
	if t.Kind() >= reflect.Uint {
		_, err := strconv.ParseUint(num, 10, t.Bits())
		return err == nil
	}
	_, err := strconv.ParseInt(num, 10, t.Bits())
	return err == nil
}

// manyKeys is how many keys of one object are compared one by one before
// they go into a set.
const manyKeys = 16

// notAField refuses the current key, which names none of fields exactly
// (encoding/json took it for one that matches it ignoring case, or refused
// it as unknown already).
func (s *strictScan) notAField(fields fieldSet) error {
	key := string(s.path[len(s.path)-1].key)
	for name := range fields {
		if strings.EqualFold(name, key) {
			return &validate.Error{Field: s.name(), Message: "is not a known field; names are case-sensitive: did you mean \"" + name + "\"?"}
		}
	}
	return &validate.Error{Field: s.name(), Message: "is not a known field"}
}

// str reads the string at s.i, quotes included, and says whether it has
// escapes or bytes outside ASCII (which check then looks at).
func (s *strictScan) str() (raw []byte, odd bool) {
	start := s.i
	s.i++
	for s.b[s.i] != '"' {
		switch c := s.b[s.i]; {
		case c == '\\':
			odd = true
			s.i += 2
		case c >= 0x80:
			odd = true
			s.i++
		default:
			s.i++
		}
	}
	s.i++
	return s.b[start:s.i], odd
}

func endsLiteral(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func (s *strictScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func check(raw []byte, odd bool) string {
	if !odd {
		return ""
	}
	return validate.JSONText(raw, false)
}

// name is the path to the current value, "body" for the document itself.
func (s *strictScan) name() string {
	var p []byte
	for _, st := range s.path {
		if st.key == nil {
			p = strconv.AppendInt(append(p, '['), int64(st.index), 10)
			p = append(p, ']')
			continue
		}
		if len(p) > 0 {
			p = append(p, '.')
		}
		p = append(p, st.key...)
	}
	if len(p) == 0 {
		return "body"
	}
	return string(p)
}
