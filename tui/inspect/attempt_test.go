package inspect_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/inspect"
)

// Copy as curl gives a command a shell reads back to the same URL,
// headers and body, whatever quotes they hold.
func TestCurlQuotesForTheShell(t *testing.T) {
	t.Parallel()
	ev := &outbox.Event{ID: "evt_1", Type: "note.added", Created: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
		Data: json.RawMessage(`{"text":"it's \"quoted\""}`)}
	a := delivery.Attempt{RequestURL: "https://example.com/hooks?a=1&b='2'", RequestHeaders: http.Header{
		"Webhook-Id": {"evt_1"}, "Content-Length": {"99"}, "X-Note": {"o'clock"}}}
	cmd := inspect.Curl(a, ev, false)
	if strings.Contains(cmd, "Content-Length") {
		t.Fatal("curl sets the length itself")
	}
	// The shell reads each argument back as it was.
	script := strings.Replace(cmd, "curl -sS -X POST", "printf '%s\\n'", 1)
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%v: %s", err, script)
	}
	want := strings.Join([]string{"https://example.com/hooks?a=1&b='2'", "-H", "Webhook-Id: evt_1", "-H", "X-Note: o'clock", "--data-binary",
		`{"id":"evt_1","type":"note.added","created":"2026-03-14T15:09:26Z","data":{"text":"it's \"quoted\""}}`}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("the shell reads:\n%s\nwant:\n%s", out, want)
	}
}
