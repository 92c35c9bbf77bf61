package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// RefuseBody makes the answer being written the last on its connection,
// without the request body being read first: the connection is closed
// after the answer (Connection: close), and reading stops at once, so
// that net/http does not wait for the rest of an announced body before
// closing (it otherwise reads up to 256 KiB of it). Call it before writing
// the answer to a request refused for what its headers say.
func RefuseBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	// Not every ResponseWriter supports deadlines (a test recorder): the
	// Connection header alone still closes it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// KeySet holds bearer keys for constant-time matching.
//
// A presented key is compared with every configured key, in constant time
// and without stopping at a match, so timing tells nothing about which
// key matched or how much of one. Both sides are hashed first so that key
// lengths leak nothing either.
type KeySet struct{ sums [][32]byte }

// NewKeySet returns the set of keys.
func NewKeySet(keys []string) *KeySet {
	s := &KeySet{sums: make([][32]byte, len(keys))}
	for i, k := range keys {
		s.sums[i] = sha256.Sum256([]byte(k))
	}
	return s
}

// Empty reports whether the set holds no key (every key is refused).
func (s *KeySet) Empty() bool { return len(s.sums) == 0 }

// Match reports whether key is one of the set.
func (s *KeySet) Match(key string) bool {
	got := sha256.Sum256([]byte(key))
	match := 0
	for i := range s.sums {
		match |= subtle.ConstantTimeCompare(got[:], s.sums[i][:])
	}
	return match == 1
}

// RequireBearer lets through requests whose Authorization header is
// "Bearer <key>" for one of keys and answers every other request 401
// unauthorized with WWW-Authenticate: Bearer, before the body is read and
// closing the connection. With no keys every request is refused. Keys are
// matched as KeySet does.
func RequireBearer(keys []string, next http.Handler) http.Handler {
	set := NewKeySet(keys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if set.Empty() {
			Unauthorized(w, "the API is locked: no api.keys are configured")
			return
		}
		token, ok := BearerToken(r)
		if !ok {
			Unauthorized(w, "send an API key as Authorization: Bearer <key>")
			return
		}
		if !set.Match(token) {
			Unauthorized(w, "the API key is not valid")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// BearerToken returns the credential of an "Authorization: Bearer <token>"
// header, and false when the request has none.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Unauthorized answers 401 with WWW-Authenticate: Bearer, without reading
// the request body, and closes the connection after the answer, so that a
// client without a valid credential cannot hold it by announcing a large
// body and sending it slowly.
func Unauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="hookd"`)
	RefuseBody(w)
	WriteError(w, http.StatusUnauthorized, CodeUnauthorized, message)
}

// Forbidden answers 403 to a valid credential that may not use the route,
// without reading the request body, closing the connection after it.
func Forbidden(w http.ResponseWriter, message string) {
	RefuseBody(w)
	WriteError(w, http.StatusForbidden, CodeForbidden, message)
}
