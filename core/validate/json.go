package validate

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONText reports what in raw JSON (a whole document or one token) would
// not be kept as sent: invalid UTF-8 and a \u escape of an unpaired
// surrogate, which encoding/json turns into U+FFFD without a word (a
// source secret so stored never verifies), and, when jsonb is set, a
// \u0000 escape, which PostgreSQL's jsonb cannot store. It returns what
// is wrong, to follow a field name, or "" when nothing is. Backslashes
// occur in valid JSON only inside strings, so raw need not be cut into
// strings first.
func JSONText(raw []byte, jsonb bool) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || raw[i+1] != 'u' {
			i++ // a two-byte escape: skip the escaped character
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return "" // malformed: the decoder says where
		}
		i += 5
		switch {
		case r == 0 && jsonb:
			return `holds \u0000, which cannot be stored`
		case r >= 0xdc00 && r <= 0xdfff:
			return "holds an unpaired surrogate escape (\\u" + string(raw[i-3:i+1]) + ")"
		case r >= 0xd800 && r <= 0xdbff:
			low, ok := rune(0), i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u'
			if ok {
				low, ok = hex4(raw, i+3)
			}
			if !ok || low < 0xdc00 || low > 0xdfff {
				return "holds an unpaired surrogate escape (\\u" + string(raw[i-3:i+1]) + ")"
			}
			i += 6
		}
	}
	return ""
}

// hex4 reads the 4 hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// JSONTextAt is JSONText for a document known to be valid JSON, saying
// also where: path is that of the string found wrong ("plan",
// "items[2].name"; "" for the document itself), and a wrong key of an
// object is reported at the object's path, its problem starting "has a
// key that". One pass over raw.
func JSONTextAt(raw []byte, jsonb bool) (path, problem string) {
	if JSONText(raw, jsonb) == "" {
		return "", ""
	}
	type step struct {
		key   string
		index int
		list  bool
	}
	var stack []step
	name := func(steps []step) string {
		var p strings.Builder
		for _, s := range steps {
			if s.list {
				p.WriteString("[" + strconv.Itoa(s.index) + "]")
				continue
			}
			if p.Len() > 0 {
				p.WriteByte('.')
			}
			p.WriteString(s.key)
		}
		return p.String()
	}
	wantKey := false
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{':
			stack, wantKey = append(stack, step{}), true
		case '[':
			stack = append(stack, step{list: true})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := &stack[len(stack)-1]; top.list {
				top.index++
			} else {
				wantKey = true
			}
		case '"':
			end := i + 1
			for raw[end] != '"' {
				if raw[end] == '\\' {
					end++
				}
				end++
			}
			s := raw[i : end+1]
			i = end
			if wantKey {
				if p := JSONText(s, jsonb); p != "" {
					return name(stack[:len(stack)-1]), "has a key that " + p
				}
				var k string
				_ = json.Unmarshal(s, &k)
				stack[len(stack)-1].key, wantKey = k, false
				continue
			}
			if p := JSONText(s, jsonb); p != "" {
				return name(stack), p
			}
		}
	}
	return "", JSONText(raw, jsonb)
}
