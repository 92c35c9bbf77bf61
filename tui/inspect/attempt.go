package inspect

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/pager"
)

// AttemptScreen shows one attempt: request headers and body, response
// status, headers and body, latency and error. y copies the request, Y
// the response, c the request as a curl command.
type AttemptScreen struct {
	c     *common.Common
	a     delivery.Attempt
	ev    *outbox.Event // nil when the event could not be loaded
	label data.Label
	pager pager.Model
}

// NewAttempt returns the screen of attempt a, sent for event ev (nil when
// unknown) to the endpoint l names.
func NewAttempt(c *common.Common, a delivery.Attempt, ev *outbox.Event, l data.Label) *AttemptScreen {
	s := &AttemptScreen{c: c, a: a, ev: ev, label: l}
	s.pager.SetContent(FormatAttempt(a, l) + "\n" + s.requestBody())
	return s
}

func (s *AttemptScreen) Title() string    { return fmt.Sprintf("attempt %d", s.a.Attempt) }
func (s *AttemptScreen) Init() tea.Cmd    { return nil }
func (s *AttemptScreen) Refresh() tea.Cmd { return nil } // attempts are insert-only
func (s *AttemptScreen) Next() Screen     { return nil }
func (s *AttemptScreen) SetSize(w, h int) { s.pager.SetSize(w, h) }
func (s *AttemptScreen) View() string     { return s.pager.View() }

// DeliveryID returns the delivery the attempt belongs to (r replays it).
func (s *AttemptScreen) DeliveryID() int64 { return s.a.DeliveryID }

// EventID returns the event sent (p opens its payload).
func (s *AttemptScreen) EventID() string {
	if s.ev == nil {
		return ""
	}
	return s.ev.ID
}

func (s *AttemptScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	keys := s.c.Keys
	switch {
	case s.pager.Move(k, keys):
	case key.Matches(k, keys.Copy):
		return s, tea.Batch(tea.SetClipboard(common.Sanitize(s.Request())), common.Status("copied the request (method, URL, headers, body)"))
	case key.Matches(k, keys.CopyResponse):
		return s, tea.Batch(tea.SetClipboard(common.Sanitize(s.Response())), common.Status("copied the response (status, headers, body)"))
	case key.Matches(k, keys.Curl):
		if s.ev == nil {
			return s, common.Errorf("the event of this attempt is gone; cannot rebuild its body")
		}
		return s, tea.Batch(tea.SetClipboard(Curl(s.a, s.ev, s.label.DataOnly)), common.Status("copied the request as a curl command"))
	}
	return s, nil
}

func (s *AttemptScreen) ShortHelp() []key.Binding {
	k := s.c.Keys
	return []key.Binding{k.PageDown, k.Copy, k.CopyResponse, k.Curl, k.Replay, k.Payload, k.Back}
}

func (s *AttemptScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{k.Movement(), {k.Copy, k.CopyResponse, k.Curl, k.Replay, k.Payload, k.Back}}
}

// Request renders the request as sent: method, URL, headers, body.
func (s *AttemptScreen) Request() string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s\n", s.a.RequestURL)
	writeHeaders(&b, s.a.RequestHeaders, "")
	b.WriteString("\n")
	if s.ev != nil {
		b.Write(data.RequestBody(s.ev, s.label.DataOnly))
		b.WriteString("\n")
	}
	return b.String()
}

// Response renders the response as received: status, headers, body.
func (s *AttemptScreen) Response() string {
	a := s.a
	if a.ResponseStatus == nil {
		return fmt.Sprintf("no response: %s: %s\n", a.ErrorClass, a.Error)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s\n", *a.ResponseStatus, http.StatusText(*a.ResponseStatus))
	writeHeaders(&b, a.ResponseHeaders, "")
	b.WriteString("\n" + a.ResponseBody + "\n")
	return b.String()
}

func (s *AttemptScreen) requestBody() string {
	if s.ev == nil {
		return "request body\n  (the event is gone)\n"
	}
	return "request body\n" + data.PrettyJSON(data.RequestBody(s.ev, s.label.DataOnly)) + "\n"
}

// FormatAttempt renders an attempt as plain text, sanitized: the
// response's headers and body and the error come from the receiver.
func FormatAttempt(a delivery.Attempt, l data.Label) string {
	return common.Sanitize(formatAttempt(a, l))
}

func formatAttempt(a delivery.Attempt, l data.Label) string {
	var b strings.Builder
	to := a.EndpointID
	if name := l.Name(); l.ID != "" && name != a.EndpointID {
		to = name + " (" + a.EndpointID + ")"
	}
	fmt.Fprintf(&b, "attempt %d of delivery %d to %s\n", a.Attempt, a.DeliveryID, to)
	fmt.Fprintf(&b, "started   %s\n", a.StartedAt.UTC().Format("2006-01-02 15:04:05.000Z"))
	fmt.Fprintf(&b, "latency   %s\n", common.Latency(a.Duration))
	if a.Worker != "" {
		fmt.Fprintf(&b, "worker    %s\n", a.Worker)
	}
	switch {
	case a.Succeeded():
		b.WriteString("result    success\n")
	case a.ErrorClass != "":
		fmt.Fprintf(&b, "result    %s: %s\n", a.ErrorClass, a.Error)
	}
	fmt.Fprintf(&b, "\nrequest   POST %s\n", a.RequestURL)
	writeHeaders(&b, a.RequestHeaders, "  ")
	if a.ResponseStatus == nil {
		b.WriteString("\nresponse  none\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\nresponse  %d %s\n", *a.ResponseStatus, http.StatusText(*a.ResponseStatus))
	writeHeaders(&b, a.ResponseHeaders, "  ")
	b.WriteString("\nresponse body\n")
	if a.ResponseBody == "" {
		b.WriteString("  (empty)\n")
	} else {
		b.WriteString(data.PrettyJSON([]byte(a.ResponseBody)) + "\n")
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, h http.Header, indent string) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range h[n] {
			fmt.Fprintf(b, "%s%s: %s\n", indent, n, v)
		}
	}
}

// Curl renders the attempt's request as a curl command that sends the
// same body with the same headers (the signature is the one recorded:
// receivers that check the timestamp will refuse it once it is old).
func Curl(a delivery.Attempt, ev *outbox.Event, dataOnly bool) string {
	var b strings.Builder
	b.WriteString("curl -sS -X POST " + shellQuote(a.RequestURL))
	names := make([]string, 0, len(a.RequestHeaders))
	for n := range a.RequestHeaders {
		switch http.CanonicalHeaderKey(n) {
		case "Content-Length", "Host":
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range a.RequestHeaders[n] {
			b.WriteString(" \\\n  -H " + shellQuote(common.Sanitize(n+": "+v)))
		}
	}
	b.WriteString(" \\\n  --data-binary " + shellQuote(string(data.RequestBody(ev, dataOnly))) + "\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
