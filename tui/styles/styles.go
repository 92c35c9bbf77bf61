// Package styles is the console's one style set. Colours adapt to light
// and dark terminals; without colour (NO_COLOR, or a test's ascii profile)
// emphasis falls back to bold and reverse video so the cursor, marks and
// warnings stay visible.
package styles

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles used by every view.
type Styles struct {
	NoColor bool

	Title     lipgloss.Style // a view's heading
	Tab       lipgloss.Style // an inactive view in the tab bar
	ActiveTab lipgloss.Style
	Header    lipgloss.Style // table column headings
	Row       lipgloss.Style
	Cursor    lipgloss.Style // the row under the cursor
	Marked    lipgloss.Style // a marked row
	Muted     lipgloss.Style // secondary text
	Good      lipgloss.Style // success, enabled
	Warn      lipgloss.Style // retrying, degraded
	Bad       lipgloss.Style // dead, failing, disabled
	Banner    lipgloss.Style // lost database connection
	Status    lipgloss.Style // the message line
	Error     lipgloss.Style // an error on the message line
	Dialog    lipgloss.Style // the confirmation box
	Key       lipgloss.Style // a label in a detail view
	Spark     lipgloss.Style
	ReadOnly  lipgloss.Style
}

// New returns the style set for a dark or light background; with noColor
// it uses no colour at all.
func New(dark, noColor bool) Styles {
	ld := lipgloss.LightDark(dark)
	c := func(light, darkC string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(darkC))
	}
	accent := c("#005fd7", "#5fafff")
	muted := c("#6c6c6c", "#8a8a8a")
	good := c("#007a1f", "#5fd75f")
	warn := c("#9a6700", "#ffd75f")
	bad := c("#c00000", "#ff5f5f")
	bannerBg := c("#c00000", "#870000")
	white := c("#ffffff", "#ffffff")
	s := Styles{
		NoColor:   noColor,
		Title:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Tab:       lipgloss.NewStyle().Foreground(muted).PaddingRight(1),
		ActiveTab: lipgloss.NewStyle().Bold(true).Reverse(true).PaddingRight(1),
		Header:    lipgloss.NewStyle().Bold(true).Foreground(accent),
		Row:       lipgloss.NewStyle(),
		Cursor:    lipgloss.NewStyle().Reverse(true),
		Marked:    lipgloss.NewStyle().Bold(true).Foreground(warn),
		Muted:     lipgloss.NewStyle().Foreground(muted),
		Good:      lipgloss.NewStyle().Foreground(good),
		Warn:      lipgloss.NewStyle().Foreground(warn),
		Bad:       lipgloss.NewStyle().Foreground(bad).Bold(true),
		Banner:    lipgloss.NewStyle().Bold(true).Foreground(white).Background(bannerBg),
		Status:    lipgloss.NewStyle().Foreground(muted),
		Error:     lipgloss.NewStyle().Foreground(bad).Bold(true),
		Dialog:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(warn).Padding(0, 1),
		Key:       lipgloss.NewStyle().Bold(true),
		Spark:     lipgloss.NewStyle().Foreground(accent),
		ReadOnly:  lipgloss.NewStyle().Bold(true).Foreground(warn),
	}
	if noColor {
		// Without colour, the banner must still stand out.
		s.Banner = lipgloss.NewStyle().Bold(true).Reverse(true)
	}
	return s
}
