package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counting returns a run that counts its starts and ends and blocks until
// its context is cancelled.
func counting(started, ended *atomic.Int32) func(context.Context) {
	return func(ctx context.Context) {
		started.Add(1)
		<-ctx.Done()
		ended.Add(1)
	}
}

func TestStopBeforeStart(t *testing.T) {
	t.Parallel()
	var r Runner
	if r.Stop() {
		t.Error("Stop before Start reported it stopped something")
	}
	if r.Stop() {
		t.Error("second Stop before Start reported it stopped something")
	}
	if r.Running() {
		t.Error("Running before Start")
	}
}

func TestStartTwiceStopTwice(t *testing.T) {
	t.Parallel()
	var r Runner
	var started, ended atomic.Int32
	if err := r.Start(context.Background(), "svc", counting(&started, &ended)); err != nil {
		t.Fatal(err)
	}
	err := r.Start(context.Background(), "svc", counting(&started, &ended))
	if !errors.Is(err, ErrAlreadyStarted) || !strings.HasPrefix(err.Error(), "svc: ") {
		t.Fatalf("second Start: err = %v, want svc: %v", err, ErrAlreadyStarted)
	}
	if !r.Running() {
		t.Error("not Running after Start")
	}
	if !r.Stop() {
		t.Error("first Stop reported nothing stopped")
	}
	if ended.Load() != 1 {
		t.Errorf("run ended %d times when Stop returned, want 1", ended.Load())
	}
	if r.Stop() {
		t.Error("second Stop reported it stopped something")
	}
	if r.Running() || started.Load() != 1 {
		t.Errorf("Running = %v, runs started = %d; want false, 1", r.Running(), started.Load())
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	var r Runner
	var started, ended atomic.Int32
	for i := range 3 {
		if err := r.Start(context.Background(), "svc", counting(&started, &ended)); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		r.Stop()
	}
	if started.Load() != 3 || ended.Load() != 3 {
		t.Errorf("started %d, ended %d; want 3, 3", started.Load(), ended.Load())
	}
}

func TestRunSeesParentCancellation(t *testing.T) {
	t.Parallel()
	var r Runner
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	if err := r.Start(ctx, "svc", func(ctx context.Context) {
		<-ctx.Done()
		close(ended)
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-ended // the run ends without Stop
	r.Stop()
}

func TestDetachedRunOutlivesStartContext(t *testing.T) {
	t.Parallel()
	var r Runner
	ctx, cancel := context.WithCancel(context.Background())
	var runCtx context.Context
	got := make(chan struct{})
	if err := r.Start(context.WithoutCancel(ctx), "svc", func(ctx context.Context) {
		runCtx = ctx
		close(got)
		<-ctx.Done()
	}); err != nil {
		t.Fatal(err)
	}
	<-got
	cancel()
	if runCtx.Err() != nil {
		t.Error("a detached run was cancelled with its Start context")
	}
	r.Stop()
	if runCtx.Err() == nil {
		t.Error("Stop did not cancel the run's context")
	}
}

func TestStartWithSetup(t *testing.T) {
	t.Parallel()
	var r Runner
	var started, ended atomic.Int32
	boom := errors.New("boom")
	err := r.StartWith(context.Background(), "svc", func() error { return boom }, counting(&started, &ended))
	if !errors.Is(err, boom) || r.Running() {
		t.Fatalf("failing setup: err = %v, Running = %v; want boom, false", err, r.Running())
	}
	var setups int
	setup := func() error { setups++; return nil }
	if err := r.StartWith(context.Background(), "svc", setup, counting(&started, &ended)); err != nil {
		t.Fatal(err)
	}
	if err := r.StartWith(context.Background(), "svc", setup, counting(&started, &ended)); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second StartWith: err = %v", err)
	}
	r.Stop()
	if setups != 1 || started.Load() != 1 {
		t.Errorf("setups %d, runs %d; want 1, 1 (setup must not run when already started)", setups, started.Load())
	}
}

// TestConcurrentStartStop is the stress test: every Stop returns only
// after the run it saw has ended, runs never overlap, and exactly one Stop
// per run reports that it stopped it.
func TestConcurrentStartStop(t *testing.T) {
	t.Parallel()
	var r Runner
	var live, overlaps, runs, stops atomic.Int32
	run := func(ctx context.Context) {
		if live.Add(1) != 1 {
			overlaps.Add(1)
		}
		runs.Add(1)
		<-ctx.Done()
		live.Add(-1)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				_ = r.Start(context.Background(), "svc", run)
				if r.Stop() {
					stops.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r.Stop()
	if overlaps.Load() != 0 {
		t.Errorf("%d runs overlapped another", overlaps.Load())
	}
	if live.Load() != 0 {
		t.Errorf("%d runs still live after Stop", live.Load())
	}
	if runs.Load() == 0 || stops.Load() != runs.Load() {
		t.Errorf("runs %d, successful Stops %d; want equal and > 0", runs.Load(), stops.Load())
	}
}

func TestConcurrentStopsBothWait(t *testing.T) {
	t.Parallel()
	var r Runner
	var ended atomic.Bool
	cancelled, release := make(chan struct{}), make(chan struct{})
	if err := r.Start(context.Background(), "svc", func(ctx context.Context) {
		<-ctx.Done()
		close(cancelled)
		<-release // still finishing after cancellation
		ended.Store(true)
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var early, stopped atomic.Int32
	for range 2 {
		wg.Go(func() {
			if r.Stop() {
				stopped.Add(1)
			}
			if !ended.Load() {
				early.Add(1)
			}
		})
	}
	<-cancelled
	close(release)
	wg.Wait()
	if early.Load() != 0 || stopped.Load() != 1 {
		t.Errorf("%d Stops returned before the run ended, %d reported stopping it; want 0, 1", early.Load(), stopped.Load())
	}
}
