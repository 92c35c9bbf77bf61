package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"
)

// killGrace bounds the wait for a killed server to vanish.
const killGrace = 10 * time.Second

func (c *Cluster) stop(ctx context.Context) error {
	if err := c.stopServer(ctx); err != nil {
		return err
	}
	if c.exited == nil && !c.adopted {
		return nil // attached: owner.pid is its starter's
	}
	if err := removeOwner(c.dataDir, c.owner); err != nil {
		c.log.Warn("pgembed: remove "+ownerFileName, slog.String("error", err.Error()))
	}
	return nil
}

func (c *Cluster) stopServer(ctx context.Context) error {
	// Once the server is gone its pid may be reused: signal nothing then.
	if c.exited != nil && isClosed(c.exited) {
		return nil
	}
	if c.exited == nil && (!alive(c.pid) || classify(c.pid, c.pgdata) == notPostgres) {
		return nil
	}
	if err := stopPid(ctx, c.pid, c.exited); err != nil {
		return err
	}
	c.log.Info("pgembed: server stopped", slog.Int("pid", c.pid))
	return nil
}

// kill ends the server and its children at once, without a shutdown.
func (c *Cluster) kill() error {
	return killGroup(c.pid, c.exited)
}

// stopPid asks the postmaster pid for a fast shutdown (SIGINT) and waits
// until it has exited. exited, when not nil, is closed once the process is
// reaped; otherwise the pid is polled. When ctx ends first the server's
// whole process group is killed.
func stopPid(ctx context.Context, pid int, exited <-chan struct{}) error {
	if err := syscall.Kill(pid, syscall.SIGINT); errors.Is(err, syscall.ESRCH) {
		return nil
	} else if err != nil {
		return fmt.Errorf("signal postgres (pid %d): %w", pid, err)
	}
	if err := waitGone(ctx, pid, exited); err != nil {
		_ = killGroup(pid, exited)
		return fmt.Errorf("postgres (pid %d) did not shut down; killed it: %w", pid, err)
	}
	return nil
}

// killGroup sends SIGKILL to the postmaster's process group, which holds
// its backends too (it leads a session of its own).
func killGroup(pid int, exited <-chan struct{}) error {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), killGrace)
	defer cancel()
	return waitGone(ctx, pid, exited)
}

func waitGone(ctx context.Context, pid int, exited <-chan struct{}) error {
	if exited != nil {
		select {
		case <-exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// logTail returns the end of the log file, for error messages.
func logTail(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return logSince(path, max(0, fi.Size()-2048))
}

// logSince returns what the log gained after offset (at most its last 2 KiB).
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > 2048 {
		offset = fi.Size() - 2048
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
