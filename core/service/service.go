// Package service holds the start/stop plumbing shared by hookd's
// background services.
//
// # Runner
//
// A service embeds a [Runner] and writes only its loop:
//
//	type Cleaner struct {
//		runner service.Runner
//		...
//	}
//
//	func (c *Cleaner) Start(ctx context.Context) error {
//		return c.runner.Start(ctx, "cleaner", c.loop)
//	}
//
//	func (c *Cleaner) Stop() { c.runner.Stop() }
//
//	func (c *Cleaner) loop(ctx context.Context) {
//		for {
//			select {
//			case <-ctx.Done():
//				return
//			case <-ticker.C:
//				...
//			}
//		}
//	}
//
// The loop's context is derived from the one given to Start, so it also
// ends when that one does. A service whose loop must outlive the Start
// context (a request's, say) passes context.WithoutCancel(ctx).
package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrAlreadyStarted is wrapped by the error of Start on a running Runner.
var ErrAlreadyStarted = errors.New("already started")

// Runner runs one goroutine between Start and Stop. The zero value is
// ready to use; a Runner must not be copied after first use.
//
// Stop is safe to call twice, concurrently, and before Start, and a
// stopped Runner can be started again.
type Runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc // nil when not running (or being stopped)
	done   chan struct{}      // closed when the last run returned; nil before the first Start
}

// Start runs run(ctx') in a new goroutine, where ctx' is ctx with a cancel
// that Stop calls. It returns an error wrapping [ErrAlreadyStarted], and
// prefixed with name, when the Runner is running.
//
// run must return soon after its context ends, and must not call the
// Runner's methods (Start and Stop wait for it while holding its lock).
func (r *Runner) Start(ctx context.Context, name string, run func(context.Context)) error {
	return r.StartWith(ctx, name, nil, run)
}

// StartWith is [Runner.Start] that first calls setup, when not nil, once
// the Runner is known not to be running. Starts are serialised, so two
// setups never overlap. An error from setup is returned as it is and
// nothing is started.
func (r *Runner) StartWith(ctx context.Context, name string, setup func() error, run func(context.Context)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return fmt.Errorf("%s: %w", name, ErrAlreadyStarted)
	}
	if r.done != nil {
		// A Stop may still be waiting: never let two runs overlap.
		<-r.done
	}
	if setup != nil {
		if err := setup(); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() {
		defer close(done)
		run(runCtx)
	}()
	return nil
}

// Stop cancels the run's context and waits for run to return. It reports
// whether this call is the one that stopped a running Runner, so that a
// service does its own after-stop work once; every call, including those
// returning false, returns only once the run has ended.
func (r *Runner) Stop() bool {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		<-done
	}
	return cancel != nil
}

// StopContext is Stop that waits for the run to end only until ctx ends,
// so a caller bounds shutdown. It returns ctx's error when the run had not
// ended by then (it ends later, on its own). Safe to call twice.
func (r *Runner) StopContext(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Running reports whether the Runner is started and no Stop has begun.
func (r *Runner) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancel != nil
}
