package endpoints

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/endpointpage"
	"github.com/hookd/hookd/tui/keys"
)

func (m *Model) action(msg tea.KeyPressMsg, row data.EndpointRow) tea.Cmd {
	k, id, name := m.c.Keys, row.Endpoint.ID, row.Name()
	who := fmt.Sprintf("%s (%s)", name, id)
	if name == id {
		who = id
	}
	switch {
	case keys.Pressed(msg.String(), k.Disable):
		if m.c.ReadOnly {
			return common.RefusedReadOnly(m.c, "disabling endpoints", audit.ActionDisable, id)
		}
		if !row.Endpoint.Enabled {
			return common.Status(who + " is already disabled")
		}
		m.dialog.Open(common.Sanitize(fmt.Sprintf("Disable %s? Its pending deliveries are held until it is enabled.", who)),
			m.act(func(ctx context.Context) acted {
				return acted{text: "disabled " + who, err: m.c.Source.DisableEndpoint(ctx, id, DisableReason)}
			}))
	case keys.Pressed(msg.String(), k.Enable):
		if m.c.ReadOnly {
			return common.RefusedReadOnly(m.c, "enabling endpoints", audit.ActionEnable, id)
		}
		if row.Endpoint.Enabled {
			return common.Status(who + " is already enabled")
		}
		held := 0
		if row.Health != nil {
			held = row.Health.Held
		}
		done := endpointpage.EnabledText(name, held, m.w)
		m.dialog.Open(endpointpage.EnablePrompt(who, held), m.act(func(ctx context.Context) acted {
			return acted{text: done, err: m.c.Source.EnableEndpoint(ctx, id)}
		}))
	case keys.Pressed(msg.String(), k.TestEvent):
		if m.c.ReadOnly {
			return common.RefusedReadOnly(m.c, "sending test events", audit.ActionTest, id)
		}
		m.dialog.Open(common.Sanitize(fmt.Sprintf("Send a test event (%s) to %s?", data.TestEventType, who)),
			m.act(func(ctx context.Context) acted {
				ev, err := m.c.Source.SendTestEvent(ctx, id)
				return acted{text: fmt.Sprintf("sent test event %s to %s (enter opens its page)", ev, who), err: err}
			}))
	}
	return nil
}

func (m *Model) act(fn func(context.Context) acted) tea.Cmd {
	return common.Run(m.c, fn, func(err error) acted { return acted{err: err} })
}
