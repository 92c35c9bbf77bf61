package inspect

import (
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
)

// StateStyle colours a delivery row by state; nil for the default.
func StateStyle(c *common.Common, d delivery.Delivery) *lipgloss.Style {
	st := c.Styles
	switch {
	case d.State == delivery.StateDead:
		return &st.Bad
	case d.State == delivery.StateRetrying, d.State == delivery.StateHeld:
		return &st.Warn
	case d.State == delivery.StateSucceeded:
		return &st.Good
	}
	return nil
}
