package replay

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
)

// Head asks to unblock a fifo endpoint's line: retry its blocked head now
// (a replay: at once, with a fresh retry budget) or, with skip, give up on
// it (delivery.Skip) so that the line behind it moves on. Each is
// confirmed with y.
func (m *Model) Head(r data.EndpointRow, skip bool) tea.Cmd {
	id, name := r.Endpoint.ID, r.Name()
	who := name
	if name != id {
		who = fmt.Sprintf("%s (%s)", name, id)
	}
	b := r.Health.Blocked
	if b == nil {
		if r.Endpoint.Ordering != endpoint.OrderingFIFO {
			return common.Status(who + " is not a fifo endpoint: it has no line to unblock")
		}
		return common.Status("the line of " + who + " is not blocked")
	}
	target := fmt.Sprintf("delivery %d", b.DeliveryID)
	if m.c.ReadOnly {
		if skip {
			return common.RefusedReadOnly(m.c, "skipping deliveries", audit.ActionSkip, target)
		}
		return common.RefusedReadOnly(m.c, "replay", audit.ActionReplay, target)
	}
	head, now := b.DeliveryID, m.c.Now()
	failed := fmt.Sprintf("Delivery %d (%s) has failed %s over %s: %s", head, b.EventID, common.Plural(b.Attempts, "time"),
		common.Dur(now.Sub(b.Since)), b.LastError)
	if b.Attempts == 0 {
		// A replay gave it a fresh budget: none of it spent yet.
		failed = fmt.Sprintf("Delivery %d (%s) has not been tried since its replay; it had failed with: %s", head, b.EventID, b.LastError)
	}
	if skip {
		m.Dialog.Open(common.Sanitize(fmt.Sprintf("Skip the head blocking %s?\n%s\nIt will not be delivered (it stays in the history as "+
			"skipped and can be replayed); the line behind it moves on.", who, failed)),
			m.run(func(ctx context.Context) Done {
				return Done{N: 1, One: head, Skipped: true, Err: m.c.Source.Skip(ctx, head)}
			}))
		return nil
	}
	m.Dialog.Open(common.Sanitize(fmt.Sprintf("Retry the head blocking %s now?\n%s\nIt is attempted at once with a fresh retry "+
		"budget; the line waits for its result.", who, failed)),
		m.run(func(ctx context.Context) Done {
			return Done{N: 1, One: head, Err: m.c.Source.Replay(ctx, head)}
		}))
	return nil
}
