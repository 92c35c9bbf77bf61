// Package httpx holds the JSON and error conventions shared by hookd's
// HTTP handlers (the API and intake), so that every handler answers errors
// in one shape:
//
//	{"error": {"code": "invalid_input", "message": "url: must be an absolute http:// or https:// URL"}}
//
// # Error codes
//
//	400 invalid_input   bad JSON, unknown fields, bad values (*validate.Error)
//	401 unauthorized    missing or wrong bearer key
//	404 not_found       unknown id or route (db.ErrNotFound)
//	405 method_not_allowed
//	409 conflict        a unique constraint refused the write (db.ErrConflict)
//	413 too_large       request body or payload over a cap
//	500 internal        anything else; the message is generic, the cause is logged
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Error codes used in error bodies.
const (
	CodeInvalidInput     = "invalid_input"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "too_large"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong: Code is stable for programs, Message
// is for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with status. Encoding errors after the header
// is sent cannot be reported to the client and are ignored.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError writes {"error":{"code":code,"message":message}} with status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}

// WriteDomainError answers err with the status its kind calls for:
// *validate.Error 400, *validate.TooLargeError, *BodyTooLargeError and
// *http.MaxBytesError 413, db.ErrNotFound 404, db.ErrConflict 409. Anything
// else is a 500 with a generic message; the error itself is logged on
// logger (slog.Default when nil) and never shown to the client, since it
// may carry internals such as SQL.
func WriteDomainError(w http.ResponseWriter, logger *slog.Logger, err error) {
	var (
		inv      *validate.Error
		tooLarge *validate.TooLargeError
		body     *BodyTooLargeError
		maxBytes *http.MaxBytesError
	)
	switch {
	case errors.As(err, &inv):
		WriteError(w, http.StatusBadRequest, CodeInvalidInput, inv.Error())
	case errors.As(err, &body):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, body.Error())
	case errors.As(err, &tooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLarge.Error())
	case errors.As(err, &maxBytes):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("request body is over the limit of %d bytes", maxBytes.Limit))
	case errors.Is(err, db.ErrNotFound):
		WriteError(w, http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, db.ErrConflict):
		WriteError(w, http.StatusConflict, CodeConflict, err.Error())
	default:
		if logger == nil {
			logger = slog.Default()
		}
		// A client that went away is not a server fault.
		if !errors.Is(err, context.Canceled) {
			logger.Error("request failed", slog.String("error", err.Error()))
		}
		WriteError(w, http.StatusInternalServerError, CodeInternal, "internal error; the server log has the details")
	}
}
