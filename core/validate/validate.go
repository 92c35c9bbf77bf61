// Package validate carries input errors from the core to its callers, so
// the HTTP API can answer 400 and the CLI can name the offending field.
package validate

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Error is invalid input: Field names what was wrong ("url", "type"),
// Message says why and what is allowed.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errorf returns an *Error for field.
func Errorf(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Is reports whether err is, or wraps, an input error.
func Is(err error) bool {
	var v *Error
	return errors.As(err, &v)
}

// Within names the part of a larger input an input error is about: the
// field of an *Error or *TooLargeError in err becomes prefix + field
// ("events[3]." + "type"). Other errors are returned as they are.
func Within(err error, prefix string) error {
	var v *Error
	if errors.As(err, &v) {
		return &Error{Field: prefix + v.Field, Message: v.Message}
	}
	var tl *TooLargeError
	if errors.As(err, &tl) {
		c := *tl
		c.Field = prefix + c.Field
		return &c
	}
	return err
}

// TooLargeError is input over a size cap; the HTTP API answers 413.
type TooLargeError struct {
	Field string
	Size  int64
	Limit int64
	Key   string // the config key that sets Limit
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the limit of %d bytes (%s)", e.Field, e.Size, e.Limit, e.Key)
}

// Text checks free text (a description, a reason): valid UTF-8 without NUL
// or other control characters, at most maxBytes bytes. PostgreSQL cannot
// store NUL or invalid UTF-8 in text, and control characters would garble
// the terminals that show it. The error names field but does not echo s.
func Text(field, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return Errorf(field, "is %d bytes, over the limit of %d", len(s), maxBytes)
	}
	if !utf8.ValidString(s) {
		return Errorf(field, "is not valid UTF-8 text")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Errorf(field, "must not contain control characters (found U+%04X)", r)
		}
	}
	return nil
}

// MaxIDBytes bounds ids in paths and filters (event, endpoint and
// delivery ids are at most 255 bytes).
const MaxIDBytes = 255

// ID checks an id given in a path or a filter: 1 to MaxIDBytes printable
// ASCII characters without spaces, which is what every hookd id is. Such
// a value cannot name anything, so it is refused before a query runs.
func ID(field, s string) error {
	if s == "" {
		return Errorf(field, "is empty")
	}
	if len(s) > MaxIDBytes {
		return Errorf(field, "is %d bytes, over the limit of %d", len(s), MaxIDBytes)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return Errorf(field, "must be printable ASCII without spaces (byte %d is 0x%02x)", i, s[i])
		}
	}
	return nil
}
