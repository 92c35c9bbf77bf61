package inspect

import (
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
)

// StateLabel names a delivery's state, telling retrying apart from pending.
func StateLabel(d delivery.Delivery) string {
	if d.Retrying() {
		return "retrying"
	}
	return string(d.State)
}

// StateStyle colours a delivery row by state; nil for the default.
func StateStyle(c *common.Common, d delivery.Delivery) *lipgloss.Style {
	st := c.Styles
	switch {
	case d.State == delivery.StateDead:
		return &st.Bad
	case d.Retrying(), d.State == delivery.StateHeld:
		return &st.Warn
	case d.State == delivery.StateSucceeded:
		return &st.Good
	}
	return nil
}
