package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/signing"
)

// SyncConfig makes the stored sources agree with the config file, in one
// transaction: every configured source is inserted or overwritten and
// marked from_config (a source of the same name made through the API is
// taken over), and from_config sources no longer configured are deleted
// with their forward endpoints. Sources made through the API are left
// alone. A forward endpoint keeps its secret across restarts; read it with
// GetSource (ForwardSecret) to configure the internal service.
//
// Call it at start, before serving intake; several processes may call it
// at once.
func SyncConfig(ctx context.Context, ex db.Executor, sources []config.Source) error {
	checked := make([]*Source, len(sources))
	names := make([]string, len(sources))
	for i, cs := range sources {
		s := &Source{Name: cs.Name, Scheme: signing.Scheme(cs.Scheme), Secrets: cs.Secrets,
			Tolerance: endpoint.Duration(cs.Tolerance), ForwardTo: cs.ForwardTo, FromConfig: true}
		if err := validateSource(s); err != nil {
			return fmt.Errorf("intake.sources[%d]: %w", i, err)
		}
		checked[i], names[i] = s, s.Name
	}
	return inTx(ctx, ex, func(tx pgx.Tx) error {
		// Serialise concurrent syncs (several processes starting together).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('hookd.sources.sync'))`); err != nil {
			return err
		}
		for _, s := range checked {
			sealed, err := sealSecrets(s.Secrets)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO hookd.sources (name, scheme, secrets, tolerance_ms, forward_to, from_config)
				VALUES ($1, $2, $3, $4, $5, true)
				ON CONFLICT (name) DO UPDATE SET scheme = $2, secrets = $3, tolerance_ms = $4,
					forward_to = $5, from_config = true, updated_at = now()`,
				s.Name, string(s.Scheme), sealed, time.Duration(s.Tolerance).Milliseconds(), s.ForwardTo); err != nil {
				return fmt.Errorf("sync source %s: %w", s.Name, err)
			}
			if err := syncForward(ctx, tx, s.Name, s.ForwardTo, "", true); err != nil {
				return fmt.Errorf("sync source %s: forward endpoint: %w", s.Name, err)
			}
		}
		rows, err := tx.Query(ctx, `DELETE FROM hookd.sources WHERE from_config AND NOT (name = ANY($1)) RETURNING name`, names)
		if err != nil {
			return err
		}
		removed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range removed {
			if err := syncForward(ctx, tx, name, "", "", false); err != nil {
				return err
			}
		}
		return nil
	})
}
