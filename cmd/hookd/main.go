// Command hookd is a self-hosted webhook system on PostgreSQL: it delivers
// signed webhooks with retries, receives and verifies them, and is
// operated from a terminal. Run `hookd --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// Delivering allocates much short-lived garbage on a small live heap, so
// collecting a quarter as often saves a sixth of hookd's CPU per delivery
// for some tens of megabytes.
const gcPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.LookupEnv)
	stop()
	os.Exit(code)
}
