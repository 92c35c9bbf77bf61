package delivery

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// GenericPlans makes the rest of tx run the generic plans of prepared
// statements (plan_cache_mode, local to tx). A dispatcher's cycle calls it
// first: left to choose, PostgreSQL planned the claim afresh on every call
// (the unnest inputs make each call look different), and planning cost as
// much as running it. Every statement of the cycle looks rows up by key,
// so the generic plan is the one a custom plan would pick.
func GenericPlans(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	return err
}
