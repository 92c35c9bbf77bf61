package inbox

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// Source is one sender hookd accepts webhooks from, served at /in/<Name>.
type Source struct {
	Name   string         `json:"name"`
	Scheme signing.Scheme `json:"scheme"`
	// Secrets verify signatures; any may match, which is how a sender
	// rotates its secret.
	Secrets []string `json:"secrets,omitempty"`
	// Tolerance is how far a signed timestamp may be from now, in either
	// direction. Ignored by the github scheme, which signs no timestamp.
	Tolerance endpoint.Duration `json:"tolerance"`
	// ForwardTo is the internal URL verified events are forwarded to, or "".
	ForwardTo string `json:"forward_to"`
	// ForwardEndpointID is the "forward" endpoint that carries forwarded
	// events ("" without ForwardTo). Its deliveries, attempts and dead
	// letters are managed like any other endpoint's.
	ForwardEndpointID string `json:"forward_endpoint_id,omitempty"`
	// ForwardSecret is the whsec_ secret forwarded requests are signed with
	// (hookd's own scheme); the internal service verifies with it.
	ForwardSecret string `json:"forward_secret,omitempty"`
	// FromConfig marks a source defined in the config file: it is synced at
	// every start and cannot be changed through the API.
	FromConfig bool      `json:"from_config"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ForwardEndpointID returns the id of the forward endpoint of source name.
// Only the forward endpoints of sources from the configuration file are
// trusted (exempt from the outbound address guard); the flag is stored on
// the endpoint, not read from this id.
func ForwardEndpointID(name string) string { return "ep_fwd_" + name }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Limits on a source; the README lists them.
const (
	// MinSecretLen and MaxSecretLen bound each verification secret, in
	// bytes: a shorter secret is guessable, whatever the scheme.
	MinSecretLen = 16
	MaxSecretLen = 1024
	// MaxSecrets is the most secrets a source may list (a rotation needs two).
	MaxSecrets = 10
	// MaxTolerance is the widest timestamp tolerance: past it, a captured
	// request could be replayed long after it was sent.
	MaxTolerance = time.Hour
)

// checkName refuses a source name that cannot exist (the path of
// /in/<name>), so that nothing unstorable reaches the database.
func checkName(field, name string) error {
	if !namePattern.MatchString(name) {
		return validate.Errorf(field, "%q is not a source name (1 to 64 letters, digits, - and _)", name)
	}
	return nil
}

// CreateParams describe a new source. Name, Scheme and Secrets are required.
type CreateParams struct {
	Name    string   `json:"name"`
	Scheme  string   `json:"scheme"`
	Secrets []string `json:"secrets"`
	// Tolerance defaults to signing.DefaultTolerance (5m).
	Tolerance endpoint.Duration `json:"tolerance"`
	ForwardTo string            `json:"forward_to"`
	// ForwardSecret signs forwarded requests; a new one is generated when
	// empty. Must be a whsec_ secret.
	ForwardSecret string `json:"forward_secret"`
	// Guard, when set, refuses a forward_to whose host it blocks (see
	// endpoint.CheckDestination): the forward target of a source made
	// through the API or the CLI goes through the address guard like any
	// endpoint.
	Guard *netguard.Guard `json:"-"`

	fromConfig bool
}

// UpdateParams change a source; nil fields stay as they are. An empty
// ForwardTo stops forwarding and removes the forward endpoint.
type UpdateParams struct {
	Scheme        *string            `json:"scheme"`
	Secrets       *[]string          `json:"secrets"`
	Tolerance     *endpoint.Duration `json:"tolerance"`
	ForwardTo     *string            `json:"forward_to"`
	ForwardSecret *string            `json:"forward_secret"`
	// Guard checks a new forward_to as CreateParams.Guard does.
	Guard *netguard.Guard `json:"-"`
}

// validateSource checks the stored fields of s and normalises its scheme
// and tolerance. Errors are *validate.Error naming the field.
func validateSource(s *Source) error {
	if err := checkName("name", s.Name); err != nil {
		return err
	}
	scheme, err := signing.ParseScheme(string(s.Scheme))
	if err != nil {
		return validate.Errorf("scheme", "%v", err)
	}
	s.Scheme = scheme
	if len(s.Secrets) == 0 {
		return validate.Errorf("secrets", "must list at least one secret")
	}
	if len(s.Secrets) > MaxSecrets {
		return validate.Errorf("secrets", "lists %d secrets, over the limit of %d", len(s.Secrets), MaxSecrets)
	}
	for i, secret := range s.Secrets {
		if err := checkSecret(scheme, i, secret); err != nil {
			return err
		}
	}
	if s.Tolerance < 0 || time.Duration(s.Tolerance) > MaxTolerance {
		return validate.Errorf("tolerance", "must be between 0 (the default, %s) and %s", signing.DefaultTolerance, MaxTolerance)
	}
	if s.Tolerance == 0 {
		s.Tolerance = endpoint.Duration(signing.DefaultTolerance)
	}
	if s.ForwardTo != "" {
		if err := endpoint.ValidateURL(s.ForwardTo); err != nil {
			var v *validate.Error
			if errors.As(err, &v) {
				v.Field = "forward_to"
			}
			return err
		}
	}
	return nil
}

// checkSecret checks secret i of a source. Errors never show the value.
func checkSecret(scheme signing.Scheme, i int, secret string) error {
	switch {
	case secret == "":
		return validate.Errorf("secrets", "secret %d is empty", i)
	case len(secret) < MinSecretLen:
		return validate.Errorf("secrets", "secret %d is %d bytes; at least %d are required", i, len(secret), MinSecretLen)
	case len(secret) > MaxSecretLen:
		return validate.Errorf("secrets", "secret %d is %d bytes, over the limit of %d", i, len(secret), MaxSecretLen)
	}
	for _, r := range secret {
		if r < 0x20 || r == 0x7f {
			return validate.Errorf("secrets", "secret %d contains a control character (the value is not shown)", i)
		}
	}
	if !utf8.ValidString(secret) {
		return validate.Errorf("secrets", "secret %d is not valid UTF-8 (the value is not shown)", i)
	}
	if scheme == signing.SchemeStandard {
		if err := signing.CheckStandardSecret(secret); err != nil {
			return validate.Errorf("secrets", "secret %d is not a Standard Webhooks secret (whsec_ followed by standard base64, or a whpk_ public key for v1a signatures; the value is not shown)", i)
		}
	}
	return nil
}

const sourceColumns = `s.name, s.scheme, s.secrets, s.tolerance_ms, s.forward_to, s.from_config,
	s.created_at, s.updated_at, coalesce(e.id, ''), coalesce(e.secret, '')`

const sourceFrom = ` FROM hookd.sources s LEFT JOIN hookd.endpoints e
	ON e.id = 'ep_fwd_' || s.name AND e.kind = 'forward'`

func scanSource(row pgx.Row) (*Source, error) {
	var s Source
	var scheme string
	var tolMS int64
	err := row.Scan(&s.Name, &scheme, &s.Secrets, &tolMS, &s.ForwardTo, &s.FromConfig,
		&s.CreatedAt, &s.UpdatedAt, &s.ForwardEndpointID, &s.ForwardSecret)
	if err != nil {
		return nil, db.Interpret(err)
	}
	s.Scheme = signing.Scheme(scheme)
	s.Tolerance = endpoint.Duration(time.Duration(tolMS) * time.Millisecond)
	// Stored sealed (core/secrets), like the forward endpoint's secret.
	for i := range s.Secrets {
		if err := secrets.OpenAll(&s.Secrets[i]); err != nil {
			return nil, fmt.Errorf("source %s: secret %d: %w", s.Name, i, err)
		}
	}
	if err := secrets.OpenAll(&s.ForwardSecret); err != nil {
		return nil, fmt.Errorf("source %s: forward secret: %w", s.Name, err)
	}
	return &s, nil
}

// sealSecrets returns the source secrets as stored: sealed.
func sealSecrets(plain []string) ([]string, error) {
	out := make([]string, len(plain))
	for i, p := range plain {
		var err error
		if out[i], err = secrets.Seal(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetSource returns one source, with its forward endpoint's id and
// secret, or db.ErrNotFound.
func GetSource(ctx context.Context, ex db.Executor, name string) (*Source, error) {
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	return scanSource(ex.QueryRow(ctx, `SELECT `+sourceColumns+sourceFrom+` WHERE s.name = $1`, name))
}

// ListSources returns every source ordered by name.
func ListSources(ctx context.Context, ex db.Executor) ([]*Source, error) {
	rows, err := ex.Query(ctx, `SELECT `+sourceColumns+sourceFrom+` ORDER BY s.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Source{}
	for rows.Next() {
		s, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CreateSource validates p and stores the source with, when it forwards,
// its forward endpoint, atomically when ex can begin a transaction (a pool,
// a connection or a pgx.Tx). A taken name gives db.ErrConflict.
func CreateSource(ctx context.Context, ex db.Executor, p CreateParams) (*Source, error) {
	s := &Source{Name: p.Name, Scheme: signing.Scheme(p.Scheme), Secrets: p.Secrets,
		Tolerance: p.Tolerance, ForwardTo: p.ForwardTo, FromConfig: p.fromConfig}
	if err := validateSource(s); err != nil {
		return nil, err
	}
	if err := checkForwardSecret(p.ForwardSecret); err != nil {
		return nil, err
	}
	if err := checkForwardTo(p.Guard, s.ForwardTo); err != nil {
		return nil, err
	}
	sealed, err := sealSecrets(s.Secrets)
	if err != nil {
		return nil, err
	}
	err = inTx(ctx, ex, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO hookd.sources (name, scheme, secrets, tolerance_ms, forward_to, from_config)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.Name, string(s.Scheme), sealed,
			time.Duration(s.Tolerance).Milliseconds(), s.ForwardTo, s.FromConfig)
		if err != nil {
			return db.Interpret(err)
		}
		return syncForward(ctx, tx, s.Name, s.ForwardTo, p.ForwardSecret, false)
	})
	if err != nil {
		return nil, err
	}
	return GetSource(ctx, ex, s.Name)
}

// UpdateSource applies p. Sources from the config file are refused with a
// *validate.Error: they are changed in the file.
func UpdateSource(ctx context.Context, ex db.Executor, name string, p UpdateParams) (*Source, error) {
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	err := inTx(ctx, ex, func(tx pgx.Tx) error {
		cur, err := scanSource(tx.QueryRow(ctx, `SELECT `+sourceColumns+sourceFrom+` WHERE s.name = $1 FOR UPDATE OF s`, name))
		if err != nil {
			return err
		}
		if cur.FromConfig {
			return fromConfigError(name)
		}
		return update(ctx, tx, cur, p)
	})
	if err != nil {
		return nil, err
	}
	return GetSource(ctx, ex, name)
}

func update(ctx context.Context, tx pgx.Tx, cur *Source, p UpdateParams) error {
	if p.Scheme != nil {
		cur.Scheme = signing.Scheme(*p.Scheme)
	}
	if p.Secrets != nil {
		cur.Secrets = *p.Secrets
	}
	if p.Tolerance != nil {
		cur.Tolerance = *p.Tolerance
	}
	if p.ForwardTo != nil {
		cur.ForwardTo = *p.ForwardTo
	}
	if err := validateSource(cur); err != nil {
		return err
	}
	if p.ForwardTo != nil {
		if err := checkForwardTo(p.Guard, cur.ForwardTo); err != nil {
			return err
		}
	}
	secret := ""
	if p.ForwardSecret != nil {
		if err := checkForwardSecret(*p.ForwardSecret); err != nil {
			return err
		}
		secret = *p.ForwardSecret
	}
	sealed, err := sealSecrets(cur.Secrets)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE hookd.sources SET scheme = $2, secrets = $3, tolerance_ms = $4,
		forward_to = $5, updated_at = now() WHERE name = $1`, cur.Name, string(cur.Scheme), sealed,
		time.Duration(cur.Tolerance).Milliseconds(), cur.ForwardTo); err != nil {
		return db.Interpret(err)
	}
	return syncForward(ctx, tx, cur.Name, cur.ForwardTo, secret, false)
}

// DeleteSource removes a source and its forward endpoint (with that
// endpoint's deliveries). Its inbox events stay. Sources from the config
// file are refused with a *validate.Error.
func DeleteSource(ctx context.Context, ex db.Executor, name string) error {
	if err := checkName("name", name); err != nil {
		return err
	}
	return inTx(ctx, ex, func(tx pgx.Tx) error {
		var fromConfig bool
		err := tx.QueryRow(ctx, `DELETE FROM hookd.sources WHERE name = $1 RETURNING from_config`, name).Scan(&fromConfig)
		if err != nil {
			return db.Interpret(err)
		}
		if fromConfig {
			return fromConfigError(name)
		}
		return syncForward(ctx, tx, name, "", "", false)
	})
}

// checkForwardTo applies the address guard to a forward target.
func checkForwardTo(g *netguard.Guard, forwardTo string) error {
	if forwardTo == "" {
		return nil
	}
	err := endpoint.CheckDestination(g, forwardTo)
	var v *validate.Error
	if errors.As(err, &v) {
		v.Field = "forward_to"
	}
	return err
}

func fromConfigError(name string) error {
	return validate.Errorf("name", "source %q is defined in the config file (intake.sources); change it there and restart", name)
}

func checkForwardSecret(secret string) error {
	if secret == "" {
		return nil
	}
	if err := signing.ValidateSecret(secret); err != nil {
		return validate.Errorf("forward_secret", "%v", err)
	}
	return nil
}

// syncForward makes the forward endpoint of source name match forwardTo:
// created with secret (or a generated one) when missing, its URL updated,
// its secret replaced when secret is given, deleted when forwardTo is "".
// trusted exempts it from the outbound address guard: only for sources
// from the configuration file.
func syncForward(ctx context.Context, tx pgx.Tx, name, forwardTo, secret string, trusted bool) error {
	id := ForwardEndpointID(name)
	if forwardTo == "" {
		return endpoint.DeleteOwn(ctx, tx, id)
	}
	ep, err := endpoint.Get(ctx, tx, id)
	if errors.Is(err, db.ErrNotFound) {
		_, err = endpoint.Create(ctx, tx, endpoint.CreateParams{ID: id, Kind: endpoint.KindForward, URL: forwardTo,
			Secret: secret, Trusted: trusted, Description: "intake forwarding for source " + name})
		return err
	}
	if err != nil {
		return err
	}
	if ep.URL != forwardTo || ep.Trusted != trusted {
		if _, err := endpoint.UpdateOwn(ctx, tx, id, endpoint.UpdateParams{URL: &forwardTo, Trusted: &trusted}); err != nil {
			return err
		}
	}
	if secret != "" && secret != ep.Secret {
		// No overlap: the internal service is configured with the new
		// secret at the same time.
		return endpoint.SetOwnSecret(ctx, tx, id, secret)
	}
	return nil
}

// beginner is what *pgxpool.Pool, *pgx.Conn and pgx.Tx (as a savepoint) share.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inTx runs fn in a transaction on ex (a savepoint when ex is a pgx.Tx).
func inTx(ctx context.Context, ex db.Executor, fn func(pgx.Tx) error) error {
	b, ok := ex.(beginner)
	if !ok {
		return errors.New("inbox: executor cannot begin a transaction; pass a pool, connection or pgx.Tx")
	}
	return pgx.BeginFunc(ctx, b, fn)
}

// ResealSources re-seals under the current key of the process keyring
// (see core/secrets) the secrets of up to batch sources holding one sealed
// under another key, or stored before encryption at rest, and returns how
// many sources it changed: call it until it returns 0. (Forward secrets
// are their endpoints' secrets: endpoint.Reseal covers them.)
func ResealSources(ctx context.Context, ex db.Executor, batch int) (int, error) {
	kr := secrets.Default()
	n := 0
	err := inTx(ctx, ex, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT name, secrets FROM hookd.sources
			WHERE EXISTS (SELECT 1 FROM unnest(secrets) s WHERE s <> '' AND s NOT LIKE $1)
			ORDER BY name LIMIT $2 FOR UPDATE SKIP LOCKED`, kr.CurrentPrefix()+"%", batch)
		if err != nil {
			return err
		}
		type row struct {
			name    string
			secrets []string
		}
		stale, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.name, &x.secrets)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range stale {
			for i, v := range x.secrets {
				if x.secrets[i], err = kr.Reseal(v); err != nil {
					return fmt.Errorf("source %s: secret %d: %w", x.name, i, err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE hookd.sources SET secrets = $2 WHERE name = $1`, x.name, x.secrets); err != nil {
				return err
			}
		}
		n = len(stale)
		return nil
	})
	return n, err
}
