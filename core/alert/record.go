package alert

import (
	"context"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// This file records what happened into hookd.alert_state; flush.go turns
// the rows into alerts.

// Dead is one delivery that spent its retry budget.
type Dead struct {
	EndpointID string
	EventID    string
}

// GoneReason is the disabled reason recorded for a 410 answer.
const GoneReason = "the endpoint answered 410 Gone"

// OnOutcomeTx is the dispatcher's in-transaction hook: dead deliveries
// are recorded in the transaction that records them dead, so a crash in
// between cannot lose their alert.
func (a *Alerter) OnOutcomeTx(ctx context.Context, tx db.Executor, applied []delivery.Result) error {
	var dead []Dead
	for _, r := range applied {
		if r.Next == delivery.StateDead && r.EndpointID != EndpointID {
			dead = append(dead, Dead{EndpointID: r.EndpointID, EventID: r.EventID})
		}
	}
	return a.recordDead(ctx, tx, dead)
}

// OnOutcome is the dispatcher's after-commit hook: a 410 disables the
// endpoint (if the dispatcher has not already) and records that. Errors
// are logged, never returned: alerting must not stall delivery. Dead
// letters are recorded by OnOutcomeTx.
func (a *Alerter) OnOutcome(ctx context.Context, applied []delivery.Result) {
	var gone []string
	for _, r := range applied {
		if r.EndpointID != EndpointID && r.ResponseStatus == 410 && !slices.Contains(gone, r.EndpointID) {
			gone = append(gone, r.EndpointID)
		}
	}
	for _, id := range gone {
		if _, err := endpoint.DisableIfEnabled(ctx, a.pool, id, GoneReason); err != nil {
			a.logger.Warn("alert: disable gone endpoint", slog.String("endpoint_id", id), slog.String("error", err.Error()))
			continue
		}
		if err := a.RecordDisabled(ctx, id, GoneReason); err != nil {
			a.logger.Warn("alert: record disabled endpoint", slog.String("endpoint_id", id), slog.String("error", err.Error()))
		}
	}
}

// OnEndpointDisabled matches the dispatcher's hook of the same name: it
// records the disable, logging errors instead of returning them.
func (a *Alerter) OnEndpointDisabled(ctx context.Context, endpointID, reason string) {
	if err := a.RecordDisabled(ctx, endpointID, reason); err != nil {
		a.logger.Warn("alert: record disabled endpoint", slog.String("endpoint_id", endpointID), slog.String("error", err.Error()))
	}
}

// RecordDeadDeliveries is RecordDead for deliveries the lease reaper
// killed.
func (a *Alerter) RecordDeadDeliveries(ctx context.Context, ds []delivery.Delivery) error {
	dead := make([]Dead, 0, len(ds))
	for _, d := range ds {
		dead = append(dead, Dead{EndpointID: d.EndpointID, EventID: d.EventID})
	}
	return a.RecordDead(ctx, dead)
}

// RecordDead adds dead deliveries to their endpoints' pending dead-letter
// alerts: the count grows, the first event id is kept, the last one
// replaced. Order within dead is the order of death.
func (a *Alerter) RecordDead(ctx context.Context, dead []Dead) error {
	return a.recordDead(ctx, a.pool, dead)
}

func (a *Alerter) recordDead(ctx context.Context, ex db.Executor, dead []Dead) error {
	type agg struct {
		n           int32
		first, last string
	}
	by := map[string]*agg{}
	for _, d := range dead {
		if d.EndpointID == EndpointID || d.EndpointID == "" {
			continue
		}
		g := by[d.EndpointID]
		if g == nil {
			g = &agg{first: d.EventID}
			by[d.EndpointID] = g
		}
		g.n++
		g.last = d.EventID
	}
	if len(by) == 0 {
		return nil
	}
	// A fixed order keeps concurrent recorders from deadlocking.
	eps := make([]string, 0, len(by))
	for id := range by {
		eps = append(eps, id)
	}
	slices.Sort(eps)
	counts, firsts, lasts := make([]int32, len(eps)), make([]string, len(eps)), make([]string, len(eps))
	for i, id := range eps {
		counts[i], firsts[i], lasts[i] = by[id].n, by[id].first, by[id].last
	}
	_, err := ex.Exec(ctx, `
		INSERT INTO hookd.alert_state AS s (endpoint_id, kind, pending_count, first_event_id, last_event_id, first_at)
		SELECT ep, 'dead', n, f, l, now() FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS t(ep, n, f, l)
		ON CONFLICT (endpoint_id, kind) DO UPDATE SET
			first_event_id = CASE WHEN s.pending_count = 0 THEN excluded.first_event_id ELSE s.first_event_id END,
			first_at = CASE WHEN s.pending_count = 0 THEN excluded.first_at ELSE s.first_at END,
			pending_count = s.pending_count + excluded.pending_count,
			last_event_id = excluded.last_event_id`,
		eps, counts, firsts, lasts)
	if err != nil {
		return err
	}
	a.logger.Warn("deliveries died", slog.Int("count", len(dead)), slog.Any("endpoints", eps))
	return nil
}

// RecordDisabled queues a hookd.endpoint.disabled alert for the endpoint's
// current disabled episode (its disabled_at). Recording the same episode
// again does nothing, so every process seeing the same 410 may call it.
// reason is logged; the alert carries the endpoint's stored reason. An
// endpoint that is enabled (again) is not recorded.
func (a *Alerter) RecordDisabled(ctx context.Context, endpointID, reason string) error {
	if endpointID == EndpointID {
		return nil
	}
	tag, err := a.pool.Exec(ctx, `
		INSERT INTO hookd.alert_state AS s (endpoint_id, kind, pending_count, first_at)
		SELECT id, 'disabled', 1, disabled_at FROM hookd.endpoints WHERE id = $1 AND NOT enabled AND disabled_at IS NOT NULL
		ON CONFLICT (endpoint_id, kind) DO UPDATE SET pending_count = 1, first_at = excluded.first_at, last_sent_at = NULL
		WHERE s.first_at IS DISTINCT FROM excluded.first_at`, endpointID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		a.logger.Warn("endpoint disabled", slog.String("endpoint_id", endpointID), slog.String("reason", reason))
	}
	return nil
}

// RecordRecovered queues a hookd.endpoint.recovered alert for the endpoint
// and forgets its sent dead-letter and disabled alerts, so a new failure
// alerts again promptly.
func (a *Alerter) RecordRecovered(ctx context.Context, endpointID string) error {
	if endpointID == EndpointID {
		return nil
	}
	_, err := a.pool.Exec(ctx, recoverQuery(`
		SELECT id AS endpoint_id FROM hookd.endpoints WHERE id = $1`), endpointID)
	return err
}

// CheckRecovered finds endpoints that were alerted about and are fine
// again: re-enabled after a disabled alert, or enabled and with a success
// after a dead-letter alert. It queues their recovered alerts and returns
// their ids. Run it on one process at a time (the maintenance leader).
func (a *Alerter) CheckRecovered(ctx context.Context) ([]string, error) {
	rows, err := a.pool.Query(ctx, recoverQuery(`
		SELECT DISTINCT s.endpoint_id FROM hookd.alert_state s
		JOIN hookd.endpoints e ON e.id = s.endpoint_id
		LEFT JOIN hookd.endpoint_health h ON h.endpoint_id = s.endpoint_id
		WHERE s.pending_count = 0 AND s.last_sent_at IS NOT NULL AND e.enabled AND e.id <> $1
		  AND (s.kind = 'disabled' OR (s.kind = 'dead' AND h.last_success_at > s.last_sent_at))`), EndpointID)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		a.logger.Info("endpoint recovered", slog.String("endpoint_id", id))
	}
	return ids, nil
}

// recoverQuery wraps a query selecting endpoint ids: their sent dead and
// disabled rows are deleted and a recovered alert is queued for each.
func recoverQuery(selectIDs string) string {
	return `
	WITH rec AS (` + selectIDs + `), gone AS (
		DELETE FROM hookd.alert_state s USING rec
		WHERE s.endpoint_id = rec.endpoint_id AND s.kind IN ('dead', 'disabled') AND s.pending_count = 0
	)
	INSERT INTO hookd.alert_state AS s (endpoint_id, kind, pending_count, first_at)
	SELECT endpoint_id, 'recovered', 1, now() FROM rec
	ON CONFLICT (endpoint_id, kind) DO UPDATE SET pending_count = 1, first_at = now()
	RETURNING endpoint_id`
}

// ForgetEndpoints deletes what is waiting to be told about the given
// endpoints (their tenant is being erased).
func ForgetEndpoints(ctx context.Context, tx pgx.Tx, endpointIDs []string) error {
	_, err := tx.Exec(ctx, `DELETE FROM hookd.alert_state WHERE endpoint_id = ANY($1)`, endpointIDs)
	return err
}
