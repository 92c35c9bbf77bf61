package httpx

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/hookd/hookd/core/validate"
)

// checkJSON refuses, in a document encoding/json accepted, what it would
// keep other than as sent: a key given twice in one object (the last one
// wins; a repeated "dry_run" turned a dry run into a replay) and text
// that validate.JSONText finds wrong (replaced by U+FFFD). The error names
// the field by its path ("events[1].type", "metadata.plan").
//
// It scans the bytes itself, without allocating per token: walked with
// json.Decoder.Token, a batch of 1,000 events took three times as long
// to decode (BenchmarkDecodeBatch).
func checkJSON(b []byte) error {
	return (&strictScan{b: b}).value()
}

// strictScan walks a document that is known to be valid JSON.
type strictScan struct {
	b    []byte
	i    int
	path []pathStep
}

// pathStep is one step into the document: an object's key or a list's index.
type pathStep struct {
	key   []byte // nil in a list
	index int
}

func (s *strictScan) value() error {
	s.space()
	switch s.b[s.i] {
	case '{':
		return s.object()
	case '[':
		s.i++
		s.path = append(s.path, pathStep{})
		for n := 0; ; n++ {
			s.space()
			if s.b[s.i] == ']' {
				break
			}
			s.path[len(s.path)-1].index = n
			if err := s.value(); err != nil {
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
		if problem := check(raw, odd); problem != "" {
			return &validate.Error{Field: s.name(), Message: problem}
		}
		return nil
	}
	for s.i < len(s.b) && !endsLiteral(s.b[s.i]) {
		s.i++ // a number, true, false or null
	}
	return nil
}

func (s *strictScan) object() error {
	s.i++
	var few [8][]byte // most objects have fewer keys
	keys := few[:0]
	for {
		s.space()
		if s.b[s.i] == '}' {
			s.i++
			return nil
		}
		raw, odd := s.str()
		if problem := check(raw, odd); problem != "" {
			return &validate.Error{Field: s.name(), Message: "has a key that " + problem}
		}
		key := raw[1 : len(raw)-1]
		if odd { // escapes: compare keys as encoding/json reads them
			var k string
			_ = json.Unmarshal(raw, &k)
			key = []byte(k)
		}
		s.path = append(s.path, pathStep{key: key})
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return &validate.Error{Field: s.name(), Message: "is given twice; give each field once"}
			}
		}
		keys = append(keys, key)
		s.space()
		s.i++ // ':'
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
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
