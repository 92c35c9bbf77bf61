package delivery

import (
	"time"

	"github.com/jackc/pgx/v5"
)

// A claim leases its deliveries for ClaimParams.Lease, which is sized for
// the default request timeout (delivery.timeout). An endpoint may set a
// longer timeout of its own, up to endpoint.MaxTimeout; its deliveries
// get a lease long enough that the lease never cuts their requests short
// and no other worker retries them while they wait.

// LeaseFor returns the lease for a request of timeout (0 for the
// default): lease, or for a timeout longer than the default, one that
// leaves the longer timeout inside the nine tenths of the lease a worker
// sends within, and the slack lease leaves the default on top.
func LeaseFor(lease, defaultTimeout, timeout time.Duration) time.Duration {
	if timeout <= defaultTimeout || defaultTimeout <= 0 {
		return lease
	}
	// In whole milliseconds, as the database is told it.
	return max(lease, (timeout*10/9 + lease - defaultTimeout).Round(time.Millisecond))
}

// queueExtendLeases sets each job's Lease, and queues into batch the
// statement that lengthens in the database the leases of those whose
// endpoint's timeout is longer than the default, when there are any.
func queueExtendLeases(batch *pgx.Batch, jobs []Job, p ClaimParams) {
	var ids, extra []int64
	for i := range jobs {
		j := &jobs[i]
		j.Lease = LeaseFor(p.Lease, p.Timeout, j.Timeout)
		if more := j.Lease - p.Lease; more > 0 {
			ids = append(ids, j.DeliveryID)
			extra = append(extra, more.Milliseconds())
			j.LeaseExpiresAt = j.LeaseExpiresAt.Add(more)
		}
	}
	if len(ids) == 0 {
		return
	}
	batch.Queue(`
		UPDATE hookd.queue q SET lease_expires_at = q.lease_expires_at + x.ms * interval '1 millisecond'
		FROM unnest($1::bigint[], $2::bigint[]) AS x(id, ms)
		WHERE q.id = x.id`, ids, extra)
}
