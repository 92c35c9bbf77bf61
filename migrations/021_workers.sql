-- Dispatchers that can be told dead without waiting for their leases.
-- Each holds a session-level advisory lock (class 26743, its lock_key) on
-- its process's listening connection, which PostgreSQL releases when the
-- connection ends, however the process ended (kill -9, a crash, a lost
-- host). A registered worker whose lock nobody has held for a while
-- (gone_since, set by the reaper that first found it free and cleared
-- when the worker registers again on a new connection: a listening
-- connection that drops and reconnects is not a dead process) is gone:
-- the lease reaper returns its deliveries then instead of when their
-- leases run out (which held each endpoint it was serving at its cap
-- meanwhile), and removes its row. A worker of an earlier version is not
-- registered and is waited for as before. Written by core/delivery.
CREATE TABLE hookd.workers (
  worker      text PRIMARY KEY,
  lock_key    integer NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  gone_since  timestamptz
);
