package inspect

import (
	"charm.land/bubbles/v2/key"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/keys"
)

// HelpSections lists the keys of the drill-down screens, for the help of
// the views that open them.
func HelpSections(k *keys.KeyMap) []common.HelpSection {
	return []common.HelpSection{
		{Title: "event (payload and deliveries)", Keys: []key.Binding{k.Enter, k.PageUp, k.PageDown, k.Replay, k.Copy, k.Back}},
		{Title: "delivery (attempts)", Keys: []key.Binding{k.Enter, k.Replay, k.Payload, k.Copy, k.Sort, k.SortReverse, k.Back}},
		{Title: "attempt (request and response)", Keys: []key.Binding{k.Copy, k.CopyResponse, k.Curl, k.Replay, k.Payload, k.Back}},
	}
}
