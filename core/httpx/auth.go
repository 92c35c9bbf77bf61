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

// RequireBearer lets through requests whose Authorization header is
// "Bearer <key>" for one of keys and answers every other request 401
// unauthorized with WWW-Authenticate: Bearer, before the body is read and
// closing the connection. With no keys every request is refused.
//
// The presented key is compared with every configured key, in constant
// time and without stopping at a match, so timing tells nothing about
// which key matched or how much of one. Both sides are hashed first so
// that key lengths leak nothing either.
func RequireBearer(keys []string, next http.Handler) http.Handler {
	sums := make([][32]byte, len(keys))
	for i, k := range keys {
		sums[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(sums) == 0 {
			unauthorized(w, "the API is locked: no api.keys are configured")
			return
		}
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, "send an API key as Authorization: Bearer <key>")
			return
		}
		got := sha256.Sum256([]byte(token))
		match := 0
		for i := range sums {
			match |= subtle.ConstantTimeCompare(got[:], sums[i][:])
		}
		if match != 1 {
			unauthorized(w, "the API key is not valid")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// unauthorized answers 401 without reading the request body, and closes
// the connection after the answer, so that a client without a valid key
// cannot hold it by announcing a large body and sending it slowly.
func unauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="hookd"`)
	RefuseBody(w)
	WriteError(w, http.StatusUnauthorized, CodeUnauthorized, message)
}
