package endpointpage

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/styles"
)

// sparkLines is what the last hour's sparklines take; they show when the
// terminal is tall enough to keep ten recent deliveries below them.
const sparkLines = 4

// minRecent is the recent deliveries the sparklines leave room for.
const minRecent = 10

// layout sizes the recent deliveries to the lines left below what the
// page draws above them (which wraps: a long name, URL or type list takes
// more than a line).
func (m *Model) layout() {
	if m.d == nil {
		m.table.SetSize(m.w, max(m.h-2, 3))
		return
	}
	top, sparks := m.top()
	h := m.h - lineCount(top)
	if sparks {
		h -= sparkLines
	}
	if m.err != nil {
		h-- // the refresh's failure, below the table
	}
	m.table.SetSize(m.w, max(h, 3))
}

// showSparks reports whether the sparklines fit above minRecent recent
// deliveries and their header.
func (m *Model) showSparks(top string) bool {
	return m.h-lineCount(top)-sparkLines-1 >= minRecent
}

func lineCount(s string) int { return strings.Count(s, "\n") }

func (m *Model) render() {
	now := m.c.Now()
	held := m.d.Row.Health.Breaker.State == delivery.BreakerOpen
	rows := make([]list.Row, len(m.d.Recent))
	for i, d := range m.d.Recent {
		info := ""
		if d.LastErrorClass != "" {
			info = data.Reason(d)
		}
		next := ""
		switch {
		case held && d.State == delivery.StatePending:
			next = "waits on the breaker" // not due, whatever its time says
		case d.AwaitsAttempt():
			next = common.Until(now, d.NextAttemptAt)
		}
		if next != "" && info != "" {
			info = next + " · " + info
		} else if next != "" {
			info = next
		}
		rows[i] = list.Row{ID: strconv.FormatInt(d.ID, 10), Ref: i, Style: inspect.StateStyle(m.c, d), Cells: []string{
			strconv.FormatInt(d.ID, 10), common.Age(now, d.CreatedAt), string(d.State), strconv.Itoa(d.Attempts),
			common.StatusCode(d.LastStatus), d.EventType, info}, Keys: []any{d.ID, now.Sub(d.CreatedAt), nil, d.Attempts}}
	}
	m.table.SetRows(rows)
}

func (m *Model) View() string {
	st := m.c.Styles
	var out string
	switch {
	case m.stack.Active():
		out = st.Muted.Render("endpoint "+m.name()+" › "+m.stack.Breadcrumb()) + "\n" + m.stack.View()
	case m.gone:
		out = st.Title.Render(common.Sanitize(m.name())) + "  " + st.Muted.Render(m.id) + "\n" +
			st.Bad.Render("This endpoint was deleted.") + " " + st.Muted.Render("esc goes back to the endpoints")
	case m.form != nil:
		out = m.form.view(st, m.w)
	case m.d == nil && m.err != nil:
		out = st.Error.Render("cannot load endpoint " + m.id + ": " + common.Describe(m.err))
	case m.d == nil:
		out = st.Muted.Render("loading endpoint " + m.id + "…")
	default:
		out = m.page0()
	}
	for _, d := range []*confirm.Model{&m.dialog, &m.replay.Dialog} {
		if d.Active() {
			return d.Over(st, out, m.w, max(m.h, 3))
		}
	}
	return out
}

// page0 draws the page proper.
func (m *Model) page0() string {
	st := m.c.Styles
	m.layout() // an age or an error may change what wraps above the table
	var b strings.Builder
	b.WriteString(m.facts())
	if _, sparks := m.top(); sparks {
		b.WriteString(m.sparks())
	}
	b.WriteString(m.errorsAndTitle())
	b.WriteString(m.table.View(st, "no deliveries yet: t sends a test event"))
	if m.err != nil {
		b.WriteString("\n" + st.Error.Render("refresh failed: "+common.Describe(m.err)))
	}
	lines := strings.Split(b.String(), "\n")
	if m.h > 0 && len(lines) > m.h {
		lines = lines[:m.h]
	}
	return strings.Join(lines, "\n")
}

// top draws what the page shows above the recent deliveries, the
// sparklines aside, and says whether they fit too.
func (m *Model) top() (text string, sparks bool) {
	text = m.facts() + m.errorsAndTitle()
	return text, m.showSparks(text)
}

// facts draws the endpoint's lines: name, URL, state, types, limits,
// signing, queue, health, breaker and fifo line, wrapped to the width.
func (m *Model) facts() string {
	st := m.c.Styles
	e, h := m.d.Row.Endpoint, m.d.Row.Health
	now := m.c.Now()
	w := max(m.w, 20)
	label := func(s string) string { return st.Key.Render(fmt.Sprintf("%-9s", s)) }
	// field wraps text after its label, the lines after it indented.
	field := func(name, text string) string {
		lines := strings.Split(ansi.Wrap(text, w-10, ""), "\n")
		return label(name) + " " + strings.Join(lines, "\n"+strings.Repeat(" ", 10)) + "\n"
	}
	var b strings.Builder
	owner := "no tenant"
	if e.Tenant != "" {
		owner = "tenant " + e.Tenant
	}
	// Wrapped: a long name takes the tenant onto the next line, not off
	// the screen.
	title := st.Title.Render(common.Sanitize(m.name())) + "  " + st.Muted.Render(common.Sanitize(e.ID+" · "+e.Kind+" · "+owner+
		" · "+e.Ordering+" · updated "+common.Age(now, m.at)+" ago"))
	b.WriteString(ansi.Wrap(title, w, "") + "\n")
	b.WriteString(field("url", common.Sanitize(e.URL)))
	state := st.Good.Render("enabled")
	if !e.Enabled {
		state = st.Bad.Render("DISABLED") + " " + common.Sanitize(e.DisabledReason)
		if e.DisabledAt != nil {
			state += st.Muted.Render(" (" + common.Age(now, *e.DisabledAt) + " ago)")
		}
	}
	b.WriteString(label("state") + " " + state + "\n")
	types := "all (*)"
	if len(e.EventTypes) > 0 {
		types = strings.Join(e.EventTypes, ", ")
	}
	b.WriteString(field("types", common.Sanitize(types)))
	b.WriteString(label("limits") + " " + limits(e) + "\n")
	secret := "one signing secret"
	if e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(now) {
		secret = "rotated: the previous secret signs too, " + common.Until(now, *e.PreviousSecretExpiresAt) + " more"
		secret = strings.Replace(secret, "in ", "for ", 1)
	}
	if len(e.Headers) > 0 {
		names := make([]string, 0, len(e.Headers))
		for n := range e.Headers {
			names = append(names, n)
		}
		slices.Sort(names)
		secret += " · custom headers: " + strings.Join(names, ", ")
	}
	b.WriteString(label("signing") + " " + common.Sanitize(secret) + "\n")
	// Counted up to data.TotalCap each (see the data source).
	n := func(v int) string { return common.CountUpTo(v, data.TotalCap) }
	dead := n(h.Dead) + " dead"
	if h.Dead > 0 {
		dead = st.Bad.Render(dead)
	}
	held := n(h.Held) + " held"
	if h.Held > 0 {
		held = st.Warn.Render(held)
	}
	// Short words, so that 80 columns keep the dead at the end.
	b.WriteString(label("queue") + fmt.Sprintf(" %s · %s retrying · %s in flight · %s · %s\n",
		dueText(st, m.d, n), n(h.Retrying), n(h.InFlight), held, dead))
	b.WriteString(label("health") + " " + healthLine(st, m.d.Row, now) + "\n")
	if br := h.Breaker; br.State == delivery.BreakerOpen {
		b.WriteString(label("breaker") + " " + st.Bad.Render("OPEN") + breakerLine(br, now) + "\n")
	}
	if e.Ordering == endpoint.OrderingFIFO {
		b.WriteString(label("fifo") + " " + fifoLine(st, e, h, now) + "\n")
	}
	return b.String()
}

// errorsAndTitle draws the errors by reason and the recent deliveries'
// title.
func (m *Model) errorsAndTitle() string {
	st := m.c.Styles
	d, now := m.d, m.c.Now()
	var b strings.Builder
	b.WriteString(st.Title.Render("Errors by reason") + st.Muted.Render("  (dead and retrying deliveries; R replays the dead)") + "\n")
	if len(d.Errors.Groups) == 0 {
		b.WriteString("  " + st.Good.Render("none") + "\n")
	}
	for i, g := range d.Errors.Groups {
		if i == 4 {
			b.WriteString(st.Muted.Render(fmt.Sprintf("  … and %d more\n", len(d.Errors.Groups)-i)))
			break
		}
		b.WriteString(fmt.Sprintf("  %6s × %-8s %s  %s\n", common.Count(g.Count), g.State, common.Sanitize(g.Reason()),
			st.Muted.Render("newest "+common.Age(now, g.Newest)+" ago")))
	}
	if d.Errors.Capped {
		b.WriteString(st.Muted.Render(fmt.Sprintf("  (of the newest %s)\n", common.Count(d.Errors.Scanned))))
	}
	b.WriteString(st.Title.Render("Recent deliveries") + st.Muted.Render("  (enter opens · r replays · d all of them)") + "\n")
	return b.String()
}

// dueText says how many deliveries are due and how long the oldest has
// waited, as the overview reckons them; behind an open breaker none is
// due: they wait on it (the overview's "behind breakers").
func dueText(st *styles.Styles, d *data.EndpointDetail, n func(int) string) string {
	h := d.Row.Health
	if h.Breaker.State == delivery.BreakerOpen {
		s := n(h.Pending) + " behind the breaker"
		if h.Pending > 0 {
			s = st.Warn.Render(s)
		}
		return s
	}
	s := n(h.Pending) + " due"
	if d.OldestDue > 0 {
		s += ", oldest " + common.Waited(d.OldestDue)
	}
	return s
}

// breakerLine says since when an open breaker holds the endpoint's
// deliveries and when it probes next, the facts first.
func breakerLine(br delivery.Breaker, now time.Time) string {
	s := ""
	if br.OpenedAt != nil {
		s += " for " + common.Dur(now.Sub(*br.OpenedAt))
	}
	if br.NextProbeAt != nil {
		s += " · next probe " + common.Until(now, *br.NextProbeAt)
	}
	return s + " · its deliveries wait while one probe at a time goes out"
}

// fifoLine says whether a fifo endpoint's line moves, and what blocks
// it: its endpoint disabled, its open breaker (the line's next try is the
// breaker's probe), or which delivery, since when, how many attempts
// failed and its next try on the first line (so that 80 columns show them), its
// event and error on the second, after the probe it waits for.
func fifoLine(st *styles.Styles, e *endpoint.Endpoint, h *delivery.Health, now time.Time) string {
	b := h.Blocked
	probe := ""
	if br := h.Breaker; br.State == delivery.BreakerOpen {
		// Not "overdue": a probe past its time goes out with the next
		// claim, and the line waits for it, not for its own next try.
		probe = "the breaker's probe"
		if br.NextProbeAt != nil {
			if when := common.Until(now, *br.NextProbeAt); strings.HasPrefix(when, "in ") {
				probe += " " + when
			} else {
				probe += ", due now"
			}
		}
	}
	switch {
	case !e.Enabled:
		return "one at a time in publish order · " + st.Bad.Render("held while the endpoint is disabled") +
			st.Muted.Render(" · e enables")
	case b == nil && probe != "":
		return "one at a time in publish order · " + st.Warn.Render("waits for "+probe)
	case b == nil:
		return "one at a time in publish order · the line moves"
	}
	first := fmt.Sprintf("BLOCKED for %s by delivery %d, ", common.Dur(now.Sub(b.Since)), b.DeliveryID)
	second := ""
	switch {
	case Head(*h).Attempts < b.Attempts:
		first += fmt.Sprintf("attempt %d in flight", b.Attempts)
	case probe != "":
		// Its own next try is the probe's: said first on the next line,
		// which 80 columns keep.
		first += common.Plural(b.Attempts, "attempt")
		second = "waits for " + probe + " · "
	default:
		first += common.Plural(b.Attempts, "attempt") + ", next try " + common.Until(now, b.NextAttemptAt)
	}
	second += "event " + b.EventID
	if b.LastError != "" {
		second += ": " + b.LastError
	}
	return st.Bad.Render(common.Sanitize(first)) + "\n" + strings.Repeat(" ", 10) + common.Sanitize(second) +
		st.Muted.Render(" · b retries it now, B skips it")
}

// Head is a fifo line's blocked head as the line stands: Attempts counts
// its failed attempts, not the one in flight (the only delivery of a
// fifo endpoint in flight is its head; its attempt counts from its
// claim). The page's fifo line and the b and B dialogs count from it.
func Head(h delivery.Health) delivery.BlockedHead {
	if h.Blocked == nil {
		return delivery.BlockedHead{}
	}
	b := *h.Blocked
	if h.InFlight > 0 && b.Attempts > 0 {
		b.Attempts--
	}
	return b
}

// HeadRow is r with its blocked head as Head counts it, for the b and B
// dialogs.
func HeadRow(r data.EndpointRow) data.EndpointRow {
	if r.Health == nil || r.Health.Blocked == nil {
		return r
	}
	h := *r.Health
	b := Head(h)
	h.Blocked = &b
	r.Health = &h
	return r
}

func limits(e *endpoint.Endpoint) string {
	rate := "no rate limit"
	if e.RateLimit > 0 {
		rate = fmt.Sprintf("%d/s", e.RateLimit)
	}
	inFlight := "default in flight"
	if e.MaxInFlight > 0 {
		inFlight = fmt.Sprintf("%d in flight", e.MaxInFlight)
	}
	timeout := "default timeout"
	if e.Timeout > 0 {
		timeout = "timeout " + time.Duration(e.Timeout).String()
	}
	return rate + " · " + inFlight + " · " + timeout + " · body " + e.BodyFormat
}

func healthLine(st *styles.Styles, r data.EndpointRow, now time.Time) string {
	h := r.Health
	var parts []string
	if w := h.Last5m; w.Attempts > 0 {
		rate := common.Percent(w.SuccessRate)
		switch {
		case w.SuccessRate < 0.9:
			rate = st.Bad.Render(rate)
		case w.SuccessRate < 0.99:
			rate = st.Warn.Render(rate)
		default:
			rate = st.Good.Render(rate)
		}
		parts = append(parts, fmt.Sprintf("5m %s ok of %s · p95 %s", rate, common.Plural(w.Attempts, "attempt"),
			common.LatencyBound(r.P95, r.P95Over)))
	} else {
		parts = append(parts, "no attempts in 5m")
	}
	if w := h.Last1h; w.Attempts > 0 {
		parts = append(parts, fmt.Sprintf("1h %s of %s", common.Percent(w.SuccessRate), common.Count(w.Attempts)))
	}
	if h.ConsecutiveFailures > 0 {
		f := fmt.Sprintf("%d failures in a row", h.ConsecutiveFailures)
		if h.FailingSince != nil {
			f += " since " + common.Age(now, *h.FailingSince) + " ago"
		}
		parts = append(parts, st.Bad.Render(f))
	}
	if h.LastSuccessAt != nil {
		parts = append(parts, "last success "+common.Age(now, *h.LastSuccessAt)+" ago")
	}
	parts = append(parts, "last status "+common.StatusCode(h.LastStatus))
	return strings.Join(parts, " · ")
}

// sparks draws the last hour, a column a minute: attempts, success rate
// and the p95 bucket.
func (m *Model) sparks() string {
	st := m.c.Styles
	width := max(min(len(m.d.Minutes), m.w-26), 10)
	var attempts, ok, p95 []int
	peakAttempts, peakP95, over := 0, time.Duration(0), false
	for _, mn := range m.d.Minutes {
		peakAttempts = max(peakAttempts, mn.Attempts)
		if mn.Attempts == 0 {
			attempts, ok, p95 = append(attempts, -1), append(ok, -1), append(p95, -1)
			continue
		}
		attempts = append(attempts, mn.Attempts)
		ok = append(ok, mn.Successes*100/mn.Attempts)
		p95 = append(p95, bucketIndex(mn.P95)+1)
		if mn.P95 > peakP95 || mn.P95 == peakP95 && mn.P95Over {
			peakP95, over = mn.P95, mn.P95Over
		}
	}
	row := func(name, spark, note string) string {
		return fmt.Sprintf("  %-9s %s %s\n", name, st.Spark.Render(spark), st.Muted.Render(note))
	}
	peakNote := "none"
	if peakP95 > 0 {
		peakNote = "max " + common.LatencyBound(peakP95, over)
	}
	return st.Title.Render("Last hour") + st.Muted.Render("  (a column a minute, oldest left)") + "\n" +
		row("attempts", common.Spark(attempts, width, 0), "max "+common.Count(peakAttempts)+"/min") +
		row("success", common.Spark(ok, width, 100), "0–100%") +
		row("p95", common.Spark(p95, width, len(delivery.LatencyBuckets)+1), peakNote)
}

// bucketIndex places a p95 bound among the latency buckets.
func bucketIndex(d time.Duration) int {
	for i, b := range delivery.LatencyBuckets {
		if d <= b {
			return i
		}
	}
	return len(delivery.LatencyBuckets)
}

// HelpSections lists the page's keys and its drill-downs'.
func HelpSections(k *keys.KeyMap) []common.HelpSection {
	return append([]common.HelpSection{{Title: "endpoint page", Keys: []key.Binding{k.Up, k.Down, k.Enter, k.Payload,
		k.Replay, replayDead(k), k.RetryHead, k.SkipHead, k.Disable, k.Enable, k.TestEvent, k.Rotate, k.Edit, k.Deliveries,
		k.DeadLetters, k.Copy, k.Back}}},
		inspect.HelpSections(k)[1:]...)
}

func replayDead(k *keys.KeyMap) key.Binding {
	b := k.ReplayAll
	b.SetHelp("R", "replay its dead (preview)")
	return b
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	switch {
	case m.dialog.Active() && m.secret != "" && m.dialog.Prompt() == m.secret:
		// y copies the secret, not what it copies elsewhere.
		copySecret := key.NewBinding(key.WithKeys(k.Copy.Keys()...), key.WithHelp(k.Copy.Help().Key, "copy the secret"))
		return append([]key.Binding{copySecret}, m.dialog.Help(k)[1:]...)
	case m.dialog.Active():
		return m.dialog.Help(k)
	case m.replay.Dialog.Active():
		return m.replay.Dialog.Help(k)
	case m.form != nil:
		return []key.Binding{k.NextField, k.PrevField, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")), k.Back}
	case m.stack.Active():
		return m.stack.Top().ShortHelp()
	case m.gone:
		return []key.Binding{k.Back}
	}
	// x or e, whichever applies.
	onOff := k.Disable
	if m.d != nil && !m.d.Row.Endpoint.Enabled {
		onOff = k.Enable
	}
	if m.d != nil && m.d.Row.Health.Blocked != nil {
		// The blocked line first: it is what the operator came for.
		return []key.Binding{k.RetryHead, k.SkipHead, replayDead(k), onOff, k.Deliveries, k.Back}
	}
	return []key.Binding{replayDead(k), onOff, k.TestEvent, k.Rotate, k.Edit, k.Deliveries, k.Back}
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(HelpSections(m.c.Keys)) }
