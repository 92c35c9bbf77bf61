package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/styles"
)

// palette is the : prompt: a view's name (with a filter after it, as in
// ":dead endpoint:legacy"), quit, or any id pasted: a delivery (a number),
// an event, an endpoint or a tenant, which opens where it is shown.
type palette struct {
	input   textinput.Model
	editing bool
}

// paletteDone answers a lookup of an id.
type paletteDone struct {
	text  string
	found *common.Target
	err   error
}

func newPalette() palette {
	in := textinput.New()
	in.Prompt = ":"
	in.Placeholder = palettePlaceholders[0]
	in.CharLimit = 300
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return palette{input: in}
}

func (p *palette) active() bool { return p.editing }

// palettePlaceholders say what the palette takes, the longest first (see
// common.Hint).
var palettePlaceholders = []string{
	"a view (dead, endpoints, tenants…), or a delivery, event, endpoint or tenant id",
	"a view, or a delivery, event, endpoint or tenant id",
	"a view or an id",
}

func (p *palette) setWidth(w int) {
	width := max(w-3, 1)
	p.input.SetWidth(width)
	p.input.Placeholder = common.Hint(width, palettePlaceholders...)
}

func (p *palette) start() tea.Cmd {
	p.editing = true
	p.input.SetValue("")
	return p.input.Focus()
}

func (p *palette) view(st *styles.Styles) string { return p.input.View() }

// paletteViews maps what the operator may type to a view.
var paletteViews = map[string]int{
	"overview": common.ViewOverview, "o": common.ViewOverview,
	"endpoints": common.ViewEndpoints, "endpoint": common.ViewEndpoints, "ep": common.ViewEndpoints,
	"deliveries": common.ViewDeliveries, "delivery": common.ViewDeliveries, "dl": common.ViewDeliveries,
	"dead": common.ViewDeadLetters, "deadletters": common.ViewDeadLetters, "dlq": common.ViewDeadLetters,
	"inbox": common.ViewInbox, "audit": common.ViewAudit, "tenants": common.ViewTenants, "tenant": common.ViewTenants,
	"help": common.ViewHelp,
}

func (m *Model) paletteKey(msg tea.KeyPressMsg) tea.Cmd {
	p := &m.palette
	switch msg.String() {
	case "esc":
		p.editing = false
		p.input.Blur()
		return nil
	case "enter":
		p.editing = false
		p.input.Blur()
		return m.runPalette(strings.TrimSpace(p.input.Value()))
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return cmd
}

// runPalette does what was typed: switch views, quit, or look an id up.
func (m *Model) runPalette(text string) tea.Cmd {
	if text == "" {
		return nil
	}
	word, rest, _ := strings.Cut(text, " ")
	word = strings.ToLower(word)
	if word == "dead" && strings.HasPrefix(strings.TrimSpace(rest), "letters") {
		rest = strings.TrimPrefix(strings.TrimSpace(rest), "letters")
	}
	switch word {
	case "q", "quit":
		m.askQuit()
		return nil
	}
	if v, ok := paletteViews[word]; ok {
		return common.Open(v, strings.TrimSpace(rest))
	}
	id := text
	return common.Run(m.c, func(ctx context.Context) paletteDone {
		f, err := m.c.Source.Lookup(ctx, id)
		if err != nil {
			return paletteDone{text: id, err: err}
		}
		return paletteDone{text: id, found: &common.Target{Kind: f.Kind, ID: f.ID}}
	}, func(err error) paletteDone { return paletteDone{text: id, err: err} })
}

func (m *Model) paletteDone(msg paletteDone) tea.Cmd {
	var aged *outbox.AgedOutError
	if msg.err != nil {
		if errors.Is(msg.err, db.ErrNotFound) && !errors.As(msg.err, &aged) {
			return common.Errorf("%q is no view, delivery, event, endpoint or tenant (views: overview, endpoints, deliveries, dead, inbox, audit, tenants, help)", msg.text)
		}
		return common.Errorf("jump to %q: %s", msg.text, common.Describe(msg.err))
	}
	view := common.ViewDeliveries
	switch msg.found.Kind {
	case common.KindEndpoint:
		view = common.ViewEndpoints
	case common.KindTenant:
		return tea.Batch(common.Open(common.ViewTenants, msg.found.ID), common.Status("opened tenant "+msg.found.ID))
	}
	return tea.Batch(common.OpenObject(view, *msg.found), common.Status(fmt.Sprintf("opened %s %s", msg.found.Kind, msg.found.ID)))
}
