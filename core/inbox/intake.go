package inbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// claimSQL claims (source, event id) in hookd.inbox_ids, where the inbox
// dedupes (the partitioned inbox itself can only be unique per
// partition): it returns the inbox id the event has or gets, its
// partition key, and whether this statement claimed it (xmax is 0 only
// for a row this statement inserted). A concurrent claim of the same id
// waits for the first to commit.
const claimIDSQL = `
	INSERT INTO hookd.inbox_ids AS i (source, event_id, inbox_id, stored_at)
	VALUES ($1, $2, nextval('hookd.inbox_ids_seq'), statement_timestamp())
	ON CONFLICT (source, event_id) DO UPDATE SET inbox_id = i.inbox_id
	RETURNING inbox_id, stored_at, xmax = 0`

// insertSQL stores a claimed inbox event.
const insertSQL = `
	INSERT INTO hookd.inbox (id, stored_at, source, event_id, event_type, headers, body, verification, state, processed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $9 = 'forwarded' THEN now() END)`

// duplicateSQL counts a duplicate on the first event's row.
const duplicateSQL = `UPDATE hookd.inbox SET duplicates = duplicates + 1 WHERE id = $1 AND stored_at = $2`

// store writes one verified request in a single transaction: the inbox
// row (or a duplicate count), the forwarded event with its delivery, the
// intake counters and the consumers' wake-up. It returns once committed.
func (h *Handler) store(ctx context.Context, src *Source, res signing.Result, header http.Header, body []byte) (Answer, error) {
	ans := Answer{EventID: res.EventID}
	sent := eventType(src.Scheme, header, body)
	typ := clean(sent, maxTypeLen) // as the inbox shows it
	forward := src.ForwardTo != ""
	if forward && src.ForwardEndpointID == "" {
		return ans, fmt.Errorf("source %s forwards to %s but has no forward endpoint", src.Name, src.ForwardTo)
	}
	state := StatePending
	if forward {
		state = StateForwarded
	}
	headers, err := json.Marshal(redact(header))
	if err != nil {
		return ans, err
	}
	err = pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		var inserted bool
		var stored time.Time
		if err := tx.QueryRow(ctx, claimIDSQL, src.Name, res.EventID).Scan(&ans.ID, &stored, &inserted); err != nil {
			return err
		}
		if inserted {
			if _, err := tx.Exec(ctx, insertSQL, ans.ID, stored, src.Name, res.EventID, typ, headers, body,
				verification(src, res), string(state)); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, duplicateSQL, ans.ID, stored); err != nil {
			return err
		}
		accepted, dup := 1, 0
		ans.Status = "accepted"
		if !inserted {
			accepted, dup = 0, 1
			ans.Status = "duplicate"
		}
		if inserted && forward {
			ev := outbox.Event{ID: ForwardEventID(src.Name, res.EventID), Type: forwardType(src.Name, sent),
				Data: forwardData(header, body), EndpointID: src.ForwardEndpointID}
			pub, err := h.pub.PublishTx(ctx, tx, ev)
			if err != nil {
				return err
			}
			if err := forwardExists(ctx, tx, pub, ev); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, countSQL, src.Name, accepted, dup, 0); err != nil {
			return err
		}
		if inserted && !forward {
			return notifyConsumers(ctx, tx)
		}
		return nil
	})
	return ans, err
}

// ErrForwardIDTaken is returned (wrapped) by the handler's store when the
// id of an inbound event's forward is taken by an event hookd did not
// make: nothing is stored, and the sender, told to retry, succeeds once
// that event is gone.
var ErrForwardIDTaken = errors.New("the forward's event id is taken by an event hookd did not make")

// forwardExists checks that publishing ev, with result pub, left ev's
// delivery to the forward endpoint in place: an inbound event is never
// marked forwarded without it.
func forwardExists(ctx context.Context, tx pgx.Tx, pub outbox.Result, ev outbox.Event) error {
	if pub.Deliveries == 1 {
		return nil
	}
	// A duplicate id is this very forward only if it goes to this
	// endpoint and has its delivery. An id whose event has aged out
	// (retention) was an earlier forward of this event.
	var event, forward bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hookd.events WHERE id = $1),
		EXISTS (SELECT 1 FROM hookd.events e JOIN hookd.deliveries d ON d.event_id = e.id
			WHERE e.id = $1 AND e.endpoint_id = $2 AND d.endpoint_id = $2)`, ev.ID, ev.EndpointID).Scan(&event, &forward)
	if err != nil {
		return err
	}
	if event && !forward {
		return fmt.Errorf("%w: %s (ids starting with %s are hookd's own; remove that event, and the sender's retry is forwarded)",
			ErrForwardIDTaken, ev.ID, outbox.ReservedIDPrefix)
	}
	return nil
}

// ForwardEventID is the outbound event id of inbox event eventID of
// source: stable, so a sender's retry never makes a second event. Source
// names cannot contain ":", so ids of different sources never collide.
// Ids that would not fit an event id are replaced by their SHA-256.
func ForwardEventID(source, eventID string) string {
	id := "in:" + source + ":" + eventID
	if len(id) <= 255 && printable(eventID) {
		return id
	}
	sum := sha256.Sum256([]byte(eventID))
	return "in:" + source + ":sha256:" + hex.EncodeToString(sum[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxTypeLen bounds an event type as the inbox stores it.
const maxTypeLen = 255

// eventType reads the event's type: GitHub's X-GitHub-Event header, or
// the top-level "type" of a JSON body (hookd, Standard Webhooks, Stripe).
func eventType(scheme signing.Scheme, h http.Header, body []byte) string {
	t := ""
	if scheme == signing.SchemeGitHub {
		t = h.Get("X-GitHub-Event")
	} else {
		var v struct {
			Type json.RawMessage `json:"type"`
		}
		if json.Unmarshal(body, &v) == nil && len(v.Type) > 0 {
			_ = json.Unmarshal(v.Type, &t) // a non-string type is no type
		}
	}
	return t
}

// maxEventIDLen bounds event ids, which the (source, event id) index holds.
const maxEventIDLen = 255

// badEventID says why an event id cannot be stored, or "" when it can.
func badEventID(id string) string {
	switch {
	case len(id) > maxEventIDLen:
		return fmt.Sprintf("is %d bytes, over the limit of %d", len(id), maxEventIDLen)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return "is not valid UTF-8 text"
	}
	return ""
}

// clean makes text storable in PostgreSQL (valid UTF-8, no NUL) and cuts
// it to at most max bytes on a character boundary.
func clean(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// forwardType is the outbound event type: the type as sent when it is a
// valid event type, otherwise "intake.<source>". An overlong type is not
// forwarded cut short, which would make it another type.
func forwardType(source, typ string) string {
	if validate.EventType(typ) {
		return typ
	}
	return "intake." + source
}

// forwardData is the outbound event's data: the body itself when it is
// JSON an event's data may be (UTF-8, and not null), otherwise the body
// in base64 with its content type.
func forwardData(h http.Header, body []byte) json.RawMessage {
	if json.Valid(body) && utf8.Valid(body) && string(bytes.TrimSpace(body)) != "null" {
		return body
	}
	b, _ := json.Marshal(struct {
		ContentType string `json:"content_type"`
		BodyBase64  []byte `json:"body_base64"`
	}{h.Get("Content-Type"), body})
	return b
}

// redacted headers carry credentials that the signature already replaced.
var redacted = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

func redact(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		if redacted[http.CanonicalHeaderKey(k)] {
			out[k] = []string{"[redacted]"}
			continue
		}
		out[k] = v
	}
	return out
}

// verification describes how a request was verified, for operators.
func verification(src *Source, res signing.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: signature matched secret %d of %d", res.Scheme, res.SecretIndex+1, len(src.Secrets))
	if !res.Timestamp.IsZero() {
		fmt.Fprintf(&b, ", timestamp %s", res.Timestamp.UTC().Format(time.RFC3339))
	} else {
		b.WriteString(", no signed timestamp")
	}
	return b.String()
}
