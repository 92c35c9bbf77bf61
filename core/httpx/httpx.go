// Package httpx holds the JSON and error conventions shared by hookd's
// HTTP handlers (the API and intake), so that every handler answers errors
// in one shape:
//
//	{"error": {"code": "invalid_input", "message": "url: must be an absolute http:// or https:// URL"}}
//
// # Error codes
//
//	400 invalid_input   bad JSON, unknown fields, bad values (*validate.Error)
//	401 unauthorized    missing, wrong, revoked or expired bearer key or token
//	403 forbidden       a valid tenant token on a route outside its tenant's slice
//	404 not_found       unknown id or route (db.ErrNotFound)
//	405 method_not_allowed
//	409 conflict        a unique constraint refused the write (db.ErrConflict)
//	413 too_large       request body or payload over a cap
//	500 internal        anything else; the message is generic, the cause is logged
//	503 unavailable     the database is unreachable (with Retry-After); retry later
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Error codes used in error bodies.
const (
	CodeInvalidInput     = "invalid_input"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
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

// WriteJSON writes v as JSON with status. v is encoded in full before
// anything is sent, so a value that cannot be encoded (a time past year
// 9999, say) never goes out as a success with an empty or cut body: the
// client gets a 500 internal error instead, and the failure is logged on
// slog.Default.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Default().Error("response could not be encoded as JSON", slog.Int("status", status), slog.String("error", err.Error()))
		buf.Reset()
		buf.WriteString(`{"error":{"code":"` + CodeInternal + `","message":"the response could not be encoded; the server log has the details"}}` + "\n")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a client that went away cannot be told
}

// RetryAfterSeconds is the Retry-After of a 503 answered while the
// database is unavailable.
const RetryAfterSeconds = 5

// WriteUnavailable answers 503 unavailable with Retry-After: the request
// may succeed when repeated.
func WriteUnavailable(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, message)
}

// DatabaseUnavailable reports whether err means the database could not
// be reached or dropped the connection (it refuses connections, is
// restarting or shutting down, the pool is closed), rather than that the
// request itself was wrong: such a request may succeed when repeated.
func DatabaseUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var (
		connect *pgconn.ConnectError
		pgErr   *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connect), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08 connection exception; 57P01-57P03 the server is
		// shutting down, crashed or starting; 53300 too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, puddle.ErrClosedPool):
		return true
	}
	return pgconn.SafeToRetry(err)
}

// WriteError writes {"error":{"code":code,"message":message}} with status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: shortened(message)}})
}

// maxMessageBytes bounds an error message: one quoting a client's
// 300 KB value whole would send it all back.
const maxMessageBytes = 1024

// shortened cuts a message over maxMessageBytes at a character boundary
// and says so.
func shortened(m string) string {
	if len(m) <= maxMessageBytes {
		return m
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return m[:cut] + fmt.Sprintf("… (cut at %d of %d bytes)", cut, len(m))
}

// WriteDomainError answers err with the status its kind calls for:
// *validate.Error and *BodyReadError 400, *validate.TooLargeError, *BodyTooLargeError and
// *http.MaxBytesError 413, db.ErrNotFound 404, db.ErrConflict 409, an
// unreachable database (DatabaseUnavailable) 503 with Retry-After. Anything
// else is a 500 with a generic message; the error itself is logged on
// logger (slog.Default when nil) and never shown to the client, since it
// may carry internals such as SQL.
func WriteDomainError(w http.ResponseWriter, logger *slog.Logger, err error) {
	var (
		inv      *validate.Error
		tooLarge *validate.TooLargeError
		body     *BodyTooLargeError
		maxBytes *http.MaxBytesError
		cut      *BodyReadError
	)
	switch {
	case errors.As(err, &cut):
		// The client went away or stalled mid-body; the answer likely
		// reaches no one, and it is no server fault.
		WriteError(w, http.StatusBadRequest, CodeInvalidInput, cut.Error())
	case errors.As(err, &inv):
		WriteError(w, http.StatusBadRequest, CodeInvalidInput, inv.Error())
	case errors.As(err, &body):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, body.Error())
	case errors.As(err, &tooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLarge.Error())
	case errors.As(err, &maxBytes):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("request body is over the limit of %d bytes", maxBytes.Limit))
	case errors.Is(err, context.Canceled):
		// The server cancels a request when its client closes the
		// connection, or its side of it (an HTTP/1.0 client, nc -N): no
		// server fault, and what was cut short rolled back. A client that
		// still reads learns why.
		WriteError(w, http.StatusBadRequest, CodeInvalidInput,
			"the request was cancelled: the client closed the connection before the answer")
	case errors.Is(err, db.ErrNotFound):
		WriteError(w, http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, db.ErrConflict):
		WriteError(w, http.StatusConflict, CodeConflict, err.Error())
	case DatabaseUnavailable(err):
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("request failed: database unavailable", slog.String("error", err.Error()))
		WriteUnavailable(w, "the database is unavailable; retry later")
	default:
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error("request failed", slog.String("error", err.Error()))
		WriteError(w, http.StatusInternalServerError, CodeInternal, "internal error; the server log has the details")
	}
}
