// Package validate carries input errors from the core to its callers, so
// the HTTP API can answer 400 and the CLI can name the offending field.
package validate

import (
	"errors"
	"fmt"
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
