package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

// endpointName is what people call an endpoint: its description, else
// its URL's host and path, else its id.
func endpointName(id, description, rawURL string) string {
	if d := strings.TrimSpace(description); d != "" {
		return d
	}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return strings.TrimSuffix(u.Host+u.Path, "/")
	}
	return id
}

// reasonText renders why a delivery failed, shortly: "HTTP 503 Service
// Unavailable", "connect: connection refused", "timeout".
func reasonText(class string, status int, sample string) string {
	if class == delivery.ClassHTTPStatus && status > 0 {
		return fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	msg := strings.TrimSpace(sample)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	// "connection failed: dial tcp 127.0.0.1:9: connect: connection
	// refused" says what matters last.
	if i := strings.LastIndex(msg, ": "); i >= 0 && class != delivery.ClassBlocked {
		msg = msg[i+2:]
	}
	switch {
	case class == "" && msg == "":
		return "-"
	case class == "":
		return msg
	case msg == "":
		return class
	}
	return class + ": " + msg
}

// Reason renders why d failed last, shortly (see Group.Reason).
func Reason(d delivery.Delivery) string {
	status := 0
	if d.LastStatus != nil {
		status = *d.LastStatus
	}
	return reasonText(d.LastErrorClass, status, d.LastError)
}

// RequestBody rebuilds the body hookd sent for ev: its envelope
// {"id","type","created","data"}, or the data alone for an endpoint whose
// body format is "data". The bytes match what core/dispatch sends.
func RequestBody(ev *outbox.Event, dataOnly bool) []byte {
	if dataOnly {
		return ev.Data
	}
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	writeJSONString(&b, ev.ID)
	b.WriteString(`,"type":`)
	writeJSONString(&b, ev.Type)
	b.WriteString(`,"created":`)
	writeJSONString(&b, ev.Created.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"data":`)
	if len(ev.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(ev.Data)
	}
	b.WriteString("}")
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1)
}
