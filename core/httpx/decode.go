package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/hookd/hookd/core/validate"
)

// APIBodyKey is the config key that caps API request bodies; DecodeJSON
// names it in its 413 message.
const APIBodyKey = "http.max_body_bytes"

// ErrEmptyBody is returned by DecodeJSON for a request without a body.
// Handlers whose body is optional treat it as "no fields given".
var ErrEmptyBody = &validate.Error{Field: "body", Message: "is empty; send a JSON object"}

// BodyTooLargeError is a request body over its cap (413). It wraps the
// *http.MaxBytesError that detected it.
type BodyTooLargeError struct {
	Limit int64
	// Key is the config key that sets Limit.
	Key string
	err error
}

func (e *BodyTooLargeError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("request body is over the limit of %d bytes", e.Limit)
	}
	return fmt.Sprintf("request body is over the limit of %d bytes (%s)", e.Limit, e.Key)
}

func (e *BodyTooLargeError) Unwrap() error { return e.err }

// BodyReadError is a request body that could not be read in full: the
// client closed the connection or stopped sending before the end. It is
// the client's doing, so it is answered 400 and not logged as a fault.
type BodyReadError struct{ err error }

func (e *BodyReadError) Error() string {
	return "body: could not be read in full (the connection ended before the announced length)"
}

func (e *BodyReadError) Unwrap() error { return e.err }

// ReadBody reads the whole request body, at most maxBytes of it. A larger
// body gives a *BodyTooLargeError naming key, and the connection is closed
// after the response so the rest is not read. A body cut short by the
// client gives a *BodyReadError.
func ReadBody(w http.ResponseWriter, r *http.Request, maxBytes int64, key string) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return nil, &BodyTooLargeError{Limit: mb.Limit, Key: key, err: mb}
	}
	if err != nil {
		return nil, &BodyReadError{err: err}
	}
	return b, nil
}

// DecodeJSON reads a JSON object of at most maxBytes into dst. It refuses
// unknown fields, malformed JSON and anything after the object with a
// *validate.Error naming the problem, an empty body with ErrEmptyBody and
// an oversized one with a *BodyTooLargeError (keyed http.max_body_bytes).
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	b, err := ReadBody(w, r, maxBytes, APIBodyKey)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return ErrEmptyBody
	}
	return Unmarshal(b, dst)
}

// Unmarshal decodes one JSON value from b into dst as strictly as
// DecodeJSON does (unknown fields, malformed JSON, trailing data, a key
// given twice, a key naming a field in other case, a null where no null
// goes and text that would not be kept as sent are
// *validate.Error naming the field or "body"). Callers that decode parts
// of a body one by one (the events of a batch) rename the field.
func Unmarshal(b []byte, dst any) error {
	if err := UnmarshalPart(b, dst); err != nil {
		return err
	}
	return checkJSON(b, reflect.TypeOf(dst))
}

// UnmarshalPart is Unmarshal for a part of a body that Unmarshal already
// took whole (an event of a batch): the part is not scanned again for
// keys given twice and text not kept as sent.
func UnmarshalPart(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Type != nil {
			// Named to the element: "headers.X-B", not "headers".
			if field := misfit(b, reflect.TypeOf(dst), typ.Type); field != "" && field != "body" {
				c := *typ
				c.Field = field
				err = &c
			}
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &validate.Error{Field: "body", Message: "has data after the JSON object; send exactly one object"}
	}
	return nil
}

// jsonError turns encoding/json's errors into input errors a user can act on.
func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return &validate.Error{Field: "body", Message: fmt.Sprintf("is not valid JSON at byte %d: %v", syntax.Offset, syntax)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &validate.Error{Field: "body", Message: "is not valid JSON: it ends early"}
	case errors.As(err, &typ):
		if h, ok := reflect.Zero(typ.Type).Interface().(hinted); ok {
			field := typ.Field
			if field == "" {
				field = "body"
			}
			return &validate.Error{Field: field, Message: h.JSONHint() + ", not " + typ.Value}
		}
		if typ.Field == "" {
			return &validate.Error{Field: "body", Message: "must be a JSON object, not " + withArticle(typ.Value)}
		}
		return &validate.Error{Field: typ.Field, Message: "must be " + withArticle(jsonKind(typ.Type.Kind().String())) + ", not " + withArticle(typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &validate.Error{Field: name, Message: "is not a known field"}
	}
	return &validate.Error{Field: "body", Message: err.Error()}
}

// hinted is a type whose UnmarshalJSON refuses values with a
// *json.UnmarshalTypeError (which encoding/json completes with the
// field's name) and that says what it takes instead.
type hinted interface{ JSONHint() string }

// withArticle puts "a" or "an" before a kind of JSON value.
func withArticle(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "map", "struct", "ptr":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		// Said so: "must be a number, not a number 1.5" puzzled.
		return "whole number (written without a fraction or exponent, within its range)"
	default:
		return "number"
	}
}

// DecodeOptional is DecodeJSON for a body that may be left out: an empty
// body leaves dst as it is.
func DecodeOptional(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	err := DecodeJSON(w, r, maxBytes, dst)
	if errors.Is(err, ErrEmptyBody) {
		return nil
	}
	return err
}

// NoFields answers 400 and reports false for a body other than none or
// {}: to a route that takes no fields, a body sent is a mistake
// ({"dry_run":true} to a single replay), not something to ignore while
// the action runs.
func NoFields(w http.ResponseWriter, r *http.Request, maxBytes int64, logger *slog.Logger) bool {
	var none struct{}
	if err := DecodeOptional(w, r, maxBytes, &none); err != nil {
		WriteDomainError(w, logger, err)
		return false
	}
	return true
}

// PathID reads the path value name as a positive id in its one decimal
// spelling: "01" and "+1" would name id 1 by another name.
func PathID(r *http.Request, name string) (int64, bool) {
	raw := r.PathValue(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return 0, false
	}
	return id, true
}
