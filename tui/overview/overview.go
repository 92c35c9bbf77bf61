// Package overview is the console's dashboard: events in and deliveries
// out per second, success rate, the queue by state with the oldest due
// delivery's age, open breakers, intake counters, what history takes on
// disk and when it is dropped next, sparklines of the last minutes and the
// endpoints in trouble first.
//
// The figures are read on every refresh, each at a cost that does not
// grow with the number of endpoints or with history (see tui/data); the
// storage figures (retention.ReadStats) only every StorageEvery.
package overview

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
)

// StorageEvery is how often the storage figures are read again.
const StorageEvery = time.Minute

// Model is the overview.
type Model struct {
	c       *common.Common
	o       *data.Overview
	err     error
	loading bool
	w, h    int
	// offset is the first line shown when the overview is taller than
	// the screen; lines is how many it had when last drawn.
	offset, lines int

	storage        *retention.Stats
	storageErr     error
	storageAt      time.Time // when the last read was asked for
	storageLoading bool
}

// Loaded answers a load; tests send it with fixed data.
type Loaded struct {
	Overview *data.Overview
	Err      error
}

// StorageLoaded answers a read of the storage figures.
type StorageLoaded struct {
	Stats *retention.Stats
	Err   error
}

// New returns the view.
func New(c *common.Common) *Model { return &Model{c: c} }

func (m *Model) Title() string    { return "overview" }
func (m *Model) Init() tea.Cmd    { return m.Refresh() }
func (m *Model) Capturing() bool  { return false }
func (m *Model) Nested() bool     { return false }
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

func (m *Model) ShortHelp() []key.Binding { return []key.Binding{openEndpoints(m.c.Keys.Enter)} }

func openEndpoints(b key.Binding) key.Binding {
	b.SetHelp("enter", "endpoints, trouble first")
	return b
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// HelpSections lists the view's keys.
func (m *Model) HelpSections() []common.HelpSection {
	return []common.HelpSection{{Title: "overview", Keys: append(m.c.Keys.Movement(), m.ShortHelp()...)}}
}

// Data returns the figures shown, nil before the first load.
func (m *Model) Data() *data.Overview { return m.o }

// Storage returns the storage figures shown, nil before the first read.
func (m *Model) Storage() *retention.Stats { return m.storage }

// Refresh reloads the figures, and the storage figures when they are
// older than StorageEvery.
func (m *Model) Refresh() tea.Cmd { return tea.Batch(m.load(), m.loadStorage(false)) }

func (m *Model) load() tea.Cmd {
	if m.loading {
		return nil
	}
	m.loading = true
	return common.Run(m.c, func(ctx context.Context) Loaded {
		o, err := m.c.Source.Overview(ctx, m.c.Now())
		return Loaded{Overview: o, Err: err}
	}, func(err error) Loaded { return Loaded{Err: err} })
}

func (m *Model) loadStorage(now bool) tea.Cmd {
	at := m.c.Now()
	if m.storageLoading || !now && !m.storageAt.IsZero() && at.Sub(m.storageAt) < StorageEvery {
		return nil
	}
	m.storageLoading, m.storageAt = true, at
	return common.Run(m.c, func(ctx context.Context) StorageLoaded {
		st, err := m.c.Source.Storage(ctx, at)
		return StorageLoaded{Stats: st, Err: err}
	}, func(err error) StorageLoaded { return StorageLoaded{Err: err} })
}

// RefreshNow reloads everything, the storage figures too: the overview is
// never paused.
func (m *Model) RefreshNow() tea.Cmd { return tea.Batch(m.load(), m.loadStorage(true)) }

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case Loaded:
		m.loading = false
		m.err = msg.Err
		if msg.Err == nil {
			m.o = msg.Overview
		}
	case StorageLoaded:
		m.storageLoading = false
		m.storageErr = msg.Err
		if msg.Err == nil {
			m.storage = msg.Stats
		}
	case tea.KeyPressMsg:
		if key.Matches(msg, m.c.Keys.Enter) {
			// The endpoints view starts sorted by trouble: the same list, in full.
			return m, common.Open(common.ViewEndpoints, "")
		}
		m.scroll(msg)
	}
	return m, nil
}

// scroll moves the overview's lines on a short terminal (the last line
// shown is then the scroll note).
func (m *Model) scroll(msg tea.KeyPressMsg) {
	k, page := m.c.Keys, max(m.h-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		m.offset--
	case key.Matches(msg, k.Down):
		m.offset++
	case key.Matches(msg, k.Top):
		m.offset = 0
	case key.Matches(msg, k.Bottom):
		m.offset = m.lines
	case key.Matches(msg, k.PageUp):
		m.offset -= page
	case key.Matches(msg, k.PageDown):
		m.offset += page
	}
	m.clamp()
}

func (m *Model) clamp() {
	m.offset = min(max(m.offset, 0), max(m.lines-max(m.h-1, 1), 0))
}

// window shows the lines that fit from the offset, and on a short
// terminal a last line saying where they are and how to scroll.
func (m *Model) window(lines []string) string {
	m.lines = len(lines)
	if m.h <= 0 || len(lines) <= m.h {
		m.offset = 0
		return strings.Join(lines, "\n")
	}
	m.clamp()
	room := max(m.h-1, 1)
	end := min(m.offset+room, len(lines))
	note := fmt.Sprintf("lines %d–%d of %d · j/k, pgup/pgdn scroll", m.offset+1, end, len(lines))
	return strings.Join(append(slices.Clone(lines[m.offset:end]), m.c.Styles.Muted.Render(note)), "\n")
}

func (m *Model) View() string {
	st := m.c.Styles
	if m.o == nil {
		if m.err != nil {
			return st.Error.Render("cannot load the overview: " + common.Describe(m.err))
		}
		return st.Muted.Render("loading…")
	}
	o := m.o
	label := func(s string) string { return st.Key.Render(fmt.Sprintf("%-15s", s)) }
	// The rates are averages: they say over what.
	over := ""
	if o.RateWindow > 0 {
		over = st.Muted.Render(" over " + windowText(o.RateWindow))
	}
	rate := fmt.Sprintf("%s %.1f/s%s\n%s %.1f/s%s\n%s ",
		label("events in"), o.EventsPerSec, over,
		label("deliveries out"), o.AttemptsPerSec, over,
		label("success (5m)"))
	success := common.Percent(o.SuccessRate)
	switch {
	case o.Attempts5m == 0:
		success = st.Muted.Render("no attempts")
	case o.SuccessRate < 0.9:
		success = st.Bad.Render(success)
	case o.SuccessRate < 0.99:
		success = st.Warn.Render(success)
	default:
		success = st.Good.Render(success)
	}
	endpoints := fmt.Sprintf(" %s · %d disabled", common.Count(o.EndpointsTotal), o.EndpointsDisabled)
	if o.EndpointsCapped {
		endpoints = " " + common.Count(data.TotalCap) + "+"
	}
	breakers := st.Good.Render("none open")
	if o.BreakersOpen > 0 {
		breakers = st.Bad.Render(common.Count(o.BreakersOpen) + " open")
	}
	rate += success + "\n" + label("endpoints") + endpoints + "\n" + label("breakers") + " " + breakers
	oldest := "nothing due"
	if o.OldestDue > 0 {
		oldest = common.Waited(o.OldestDue)
	}
	num := func(n int, bad bool) string {
		s := fmt.Sprintf("%9s", common.CountUpTo(n, data.TotalCap))
		if bad && n > 0 {
			return st.Bad.Render(s)
		}
		return s
	}
	behind := num(o.BreakerHeld, false)
	if o.BreakerHeld > 0 {
		behind = st.Warn.Render(behind)
	}
	// The buckets are disjoint: due now, held by an open breaker, waiting
	// out a backoff, being attempted, held while the endpoint is disabled,
	// dead. The oldest due is reckoned as the endpoint page's.
	queue := fmt.Sprintf("%s%s\n%s%s\n%s%s\n%s%s\n%s%s\n%s%s\n%s %s",
		label("due now"), num(o.Pending, false), label("behind breakers"), behind,
		label("retrying later"), num(o.Retrying, false),
		label("in flight"), num(o.InFlight, false), label("held"), num(o.Held, false),
		label("dead"), num(o.Dead, true), label("oldest due"), oldest)
	// The halves sit side by side, a gap apart, whatever the width.
	colW := 40
	top := lipgloss.JoinHorizontal(lipgloss.Top,
		lipgloss.NewStyle().Width(colW).Render(st.Title.Render("Rates")+"\n"+rate),
		st.Title.Render("Queue")+"\n"+queue)
	if m.w > 0 && m.w < colW+26 {
		top = st.Title.Render("Rates") + "\n" + rate + "\n" + st.Title.Render("Queue") + "\n" + queue
	}

	intake := st.Title.Render("Intake (1h)") + fmt.Sprintf("  accepted %s · duplicates %s · rejected %s",
		common.Count(o.Accepted), common.Count(o.Duplicates), common.Count(o.Rejected))

	sparkW := max(min(m.w-30, len(o.EventsPerMinute)), 5)
	sparks := st.Title.Render(fmt.Sprintf("Last %d minutes", data.SparkMinutes)) + "\n" +
		m.spark("events in", o.EventsPerMinute, sparkW) + "\n" +
		m.spark("attempts", o.AttemptsPerMinute, sparkW) + "\n" +
		m.spark("failures", o.FailuresPerMinute, sparkW)

	parts := []string{top, "", intake}
	if line := m.storageLine(); line != "" {
		parts = append(parts, line)
	}
	parts = append(parts, "", sparks, "")
	// The error before the endpoints in trouble, all of them: a short
	// terminal scrolls.
	if m.err != nil {
		parts = append(parts, st.Error.Render("refresh failed: "+common.Describe(m.err)), "")
	}
	parts = append(parts, m.trouble())
	return m.window(strings.Split(strings.Join(parts, "\n"), "\n"))
}

var bars = []rune(" ▁▂▃▄▅▆▇█")

// spark renders the last width values of series as a sparkline.
func (m *Model) spark(name string, series []int, width int) string {
	st := m.c.Styles
	if len(series) > width {
		series = series[len(series)-width:]
	}
	peak := 0
	if len(series) > 0 {
		peak = slices.Max(series)
	}
	var b strings.Builder
	for _, v := range series {
		i := 0
		if peak > 0 {
			i = (v*(len(bars)-1) + peak - 1) / peak
		}
		b.WriteRune(bars[i])
	}
	return fmt.Sprintf("  %-10s %s %s", name, st.Spark.Render(b.String()), st.Muted.Render(fmt.Sprintf("max %s/min", common.Count(peak))))
}

// trouble lists the endpoints in trouble (at most data.MaxTrouble).
func (m *Model) trouble() string {
	st := m.c.Styles
	o := m.o
	title := st.Title.Render("Endpoints in trouble")
	if len(o.Trouble) == 0 {
		return title + "\n  " + st.Good.Render("none: every endpoint is enabled and delivering")
	}
	lines := []string{title + st.Muted.Render("  (enter: all endpoints)")}
	for _, r := range o.Trouble {
		style := st.Warn
		if !r.Endpoint.Enabled || r.Health.Blocked != nil || r.Health.Breaker.State == delivery.BreakerOpen {
			style = st.Bad
		}
		name := common.Sanitize(r.Name())
		if t := r.Endpoint.Tenant; t != "" {
			name += " [" + common.Sanitize(t) + "]"
		}
		nameW := min(max(m.w/3, 20), 40)
		lines = append(lines, "  "+style.Render(fmt.Sprintf("%-*s", nameW, trunc(name, nameW)))+" "+
			trunc(common.Problem(r, o.At), max(m.w-nameW-4, 10)))
	}
	return strings.Join(lines, "\n")
}

// storageLine says what history takes on disk, since when it is kept and
// when the oldest partition is dropped (retention.period); "" before the
// first read.
func (m *Model) storageLine() string {
	st := m.c.Styles
	s := m.storage
	title := st.Title.Render("Storage")
	switch {
	case s == nil && m.storageErr != nil:
		return title + "  " + st.Error.Render("cannot read: "+common.Describe(m.storageErr))
	case s == nil:
		return ""
	}
	now := m.c.Now()
	parts := []string{common.Bytes(s.TotalBytes) + " kept"}
	if s.OldestKept != nil {
		parts = append(parts, "oldest "+s.OldestKept.UTC().Format("01-02 15:04")+" UTC")
	}
	if s.NextDrop != nil {
		parts = append(parts, "next drop "+common.Until(now, *s.NextDrop))
	}
	parts = append(parts, "retention "+retentionText(s.Period))
	if m.w >= 120 {
		parts = append(parts, common.Plural(len(s.Partitions), "partition"))
		if s.BytesPerDelivery > 0 {
			parts = append(parts, common.Bytes(int64(s.BytesPerDelivery))+" per delivery")
		}
	}
	return title + "  " + strings.Join(parts, " · ")
}

// windowText renders the rates' window to the second: 45s, 1m27s.
func windowText(d time.Duration) string {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 60 {
		return fmt.Sprintf("%ds", secs)
	}
	return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
}

// retentionText renders retention.period as people say it: 30d, 12h, 5m.
func retentionText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func trunc(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
