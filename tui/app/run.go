package app

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"
)

// Run shows the console on the terminal until the operator quits or ctx
// ends. It returns nil on a normal quit and when ctx ends.
func Run(ctx context.Context, opts Options, programOpts ...tea.ProgramOption) error {
	p := tea.NewProgram(New(opts), append([]tea.ProgramOption{tea.WithContext(ctx)}, programOpts...)...)
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil
	}
	return err
}
