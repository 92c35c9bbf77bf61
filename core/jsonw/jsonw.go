// Package jsonw appends JSON to byte slices for the hot path of delivery:
// strings and HTTP headers, without reflection, in the output
// encoding/json gives (HTML characters not escaped).
//
// Text that PostgreSQL cannot store (invalid UTF-8, NUL) is written as
// U+FFFD, so what is appended is always storable in json and jsonb.
package jsonw

import (
	"net/http"
	"slices"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case 0:
				dst = append(dst, "\ufffd"...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// As encoding/json writes them: valid JSON, safe in JavaScript.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Header appends h as a JSON object of string arrays, keys sorted.
func Header(dst []byte, h http.Header) []byte {
	if h == nil {
		return append(dst, "{}"...)
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, k)
		dst = append(dst, ':', '[')
		for j, v := range h[k] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = String(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
