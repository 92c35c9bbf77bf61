package inspect

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/pager"
)

// AttemptScreen shows one attempt: request headers, response status,
// headers and body, latency and error.
type AttemptScreen struct {
	c     *common.Common
	a     delivery.Attempt
	pager pager.Model
}

// NewAttempt returns the screen of attempt a.
func NewAttempt(c *common.Common, a delivery.Attempt) *AttemptScreen {
	s := &AttemptScreen{c: c, a: a}
	s.pager.SetContent(FormatAttempt(a))
	return s
}

func (s *AttemptScreen) Title() string    { return fmt.Sprintf("attempt %d", s.a.Attempt) }
func (s *AttemptScreen) Init() tea.Cmd    { return nil }
func (s *AttemptScreen) Refresh() tea.Cmd { return nil } // attempts are insert-only
func (s *AttemptScreen) Next() Screen     { return nil }
func (s *AttemptScreen) SetSize(w, h int) { s.pager.SetSize(w, h) }
func (s *AttemptScreen) View() string     { return s.pager.View() }

func (s *AttemptScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if s.pager.Move(k, s.c.Keys) {
			return s, nil
		}
		if key.Matches(k, s.c.Keys.Copy) {
			return s, tea.Batch(tea.SetClipboard(s.pager.Content()), common.Status("copied the attempt"))
		}
	}
	return s, nil
}

func (s *AttemptScreen) ShortHelp() []key.Binding {
	k := s.c.Keys
	return []key.Binding{k.Up, k.Down, k.PageDown, k.Copy, k.Back}
}

func (s *AttemptScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{k.Movement(), {k.Copy, k.Back}}
}

// FormatAttempt renders an attempt as plain text, sanitized: the
// response's headers and body and the error come from the receiver.
func FormatAttempt(a delivery.Attempt) string {
	return common.Sanitize(formatAttempt(a))
}

func formatAttempt(a delivery.Attempt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d of delivery %d to %s\n", a.Attempt, a.DeliveryID, a.EndpointID)
	fmt.Fprintf(&b, "started   %s\n", a.StartedAt.UTC().Format("2006-01-02 15:04:05.000Z"))
	fmt.Fprintf(&b, "latency   %.1fms\n", a.DurationMS)
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
	writeHeaders(&b, a.RequestHeaders)
	if a.ResponseStatus == nil {
		b.WriteString("\nresponse  none\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\nresponse  %d %s\n", *a.ResponseStatus, http.StatusText(*a.ResponseStatus))
	writeHeaders(&b, a.ResponseHeaders)
	b.WriteString("\nbody\n")
	if a.ResponseBody == "" {
		b.WriteString("  (empty)\n")
	} else {
		b.WriteString(data.PrettyJSON([]byte(a.ResponseBody)) + "\n")
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, h http.Header) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range h[n] {
			fmt.Fprintf(b, "  %s: %s\n", n, v)
		}
	}
}
