// Package faulttest holds fault tests of the whole of hookd, run as part
// of the test suite: PostgreSQL restarting while thousands of events are
// delivered, and receivers that reset connections, hang past the timeout
// or close without answering. They drive `hookd serve`'s wiring (core/app)
// through its public API, on a PostgreSQL server of their own, so that
// they hold whatever the engine inside looks like. The package has no
// code of its own.
package faulttest
