// Package audit is hookd's audit trail: every action that changes state
// (replay, disable, enable, rotate a secret, edit, delete, send a test
// event, create, skip, erase a tenant, create or revoke a tenant token),
// taken from the console, the CLI or the HTTP API, recorded with who took
// it, when, what it touched and how many rows it changed.
//
// All SQL on hookd.audit_log lives in this package.
//
// # Recording
//
// Record takes any [db.Executor]: pass the transaction that makes the
// change, and the entry commits or rolls back with it, so the trail never
// claims an action that did not happen nor misses one that did:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		n, err := delivery.ReplayIDs(ctx, tx, ids)
//		if err != nil {
//			return err
//		}
//		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Via: audit.ViaAPI,
//			Action: audit.ActionReplay, Target: "deliveries 4, 7", Rows: n})
//	})
//
// An action refused (a read-only console, a missing permission) or failed
// is recorded on its own, with Outcome set to OutcomeRefused or
// OutcomeFailed.
//
// # Actors
//
// An [Actor] names who acted without holding a secret: an SSH key by its
// SHA-256 fingerprint, an API key by the id [APIKey] derives from its hash,
// a tenant token by its id, a local user by name.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Actor kinds.
const (
	// KindSSH is a console session over SSH; ID is the key's SHA-256
	// fingerprint, Name the SSH login.
	KindSSH = "ssh"
	// KindOS is a console on the local terminal; ID is the OS user.
	KindOS = "os"
	// KindCLI is a hookd command; ID is the OS user who ran it.
	KindCLI = "cli"
	// KindAPI is an HTTP API call with one of api.keys; ID is [APIKey]'s id.
	KindAPI = "api"
	// KindTenant is an HTTP API call with a tenant token; ID is the
	// token's id.
	KindTenant = "tenant"
)

// Where an action came from.
const (
	ViaConsole = "console"
	ViaCLI     = "cli"
	ViaAPI     = "api"
)

// Actions.
const (
	ActionReplay  = "replay"
	ActionDisable = "disable"
	ActionEnable  = "enable"
	ActionRotate  = "rotate_secret"
	ActionEdit    = "edit"
	ActionDelete  = "delete"
	ActionTest    = "test_event"
	ActionCreate  = "create"
	ActionSkip    = "skip"
	// ActionErase is a tenant's erasure with everything of it.
	ActionErase       = "erase"
	ActionCreateToken = "create_token"
	ActionRevokeToken = "revoke_token"
)

// Actions lists every action, for validation and filters.
var Actions = []string{ActionReplay, ActionDisable, ActionEnable, ActionRotate, ActionEdit, ActionDelete, ActionTest,
	ActionCreate, ActionSkip, ActionErase, ActionCreateToken, ActionRevokeToken}

// Outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)

// Limits on an entry's free text; longer text is cut, never refused: the
// trail must not lose an action over the length of its description.
const (
	maxTarget = 500
	maxDetail = 2000
	maxError  = 500
)

// Actor is who took an action.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Name is the SSH login or OS user, when it adds to ID.
	Name string `json:"name,omitempty"`
}

// String renders the actor for people: "ssh SHA256:ab… (alice)".
func (a Actor) String() string {
	s := a.Kind + " " + a.ID
	if a.Name != "" && a.Name != a.ID {
		s += " (" + a.Name + ")"
	}
	return s
}

// IsZero reports whether a names nobody.
func (a Actor) IsZero() bool { return a.Kind == "" && a.ID == "" }

// SSHKey is the actor of a console session over SSH.
func SSHKey(fingerprint, login string) Actor {
	return Actor{Kind: KindSSH, ID: fingerprint, Name: login}
}

// APIKey is the actor of an API call made with key. The id is a prefix of
// the key's SHA-256, so the trail can tell keys apart without holding one.
func APIKey(key string) Actor {
	sum := sha256.Sum256([]byte(key))
	return Actor{Kind: KindAPI, ID: "key_" + hex.EncodeToString(sum[:6])}
}

// TenantToken is the actor of an API call made with a tenant token.
func TenantToken(tokenID, tenant string) Actor {
	return Actor{Kind: KindTenant, ID: tokenID, Name: tenant}
}

// LocalUser is the actor of a console (KindOS) or a command (KindCLI) run
// by the current OS user.
func LocalUser(kind string) Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = fmt.Sprintf("uid %d", os.Getuid())
	}
	return Actor{Kind: kind, ID: name}
}

// Entry is one recorded action.
type Entry struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor Actor     `json:"actor"`
	Via   string    `json:"via"`
	// Action is one of Actions.
	Action string `json:"action"`
	// Target is what was acted on: a delivery or endpoint id, or the
	// filter of a bulk replay.
	Target string `json:"target,omitempty"`
	// Detail says more (the fields an edit changed); never a secret.
	Detail string `json:"detail,omitempty"`
	// Rows is how many rows the action changed (deliveries re-queued, ...).
	Rows int64 `json:"rows"`
	// Outcome defaults to OutcomeOK.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

func (e *Entry) check() error {
	switch e.Actor.Kind {
	case KindSSH, KindOS, KindCLI, KindAPI, KindTenant:
	default:
		return validate.Errorf("actor.kind", "%q is not an actor kind (allowed: ssh, os, cli, api, tenant)", e.Actor.Kind)
	}
	if strings.TrimSpace(e.Actor.ID) == "" {
		return validate.Errorf("actor.id", "is required")
	}
	switch e.Via {
	case ViaConsole, ViaCLI, ViaAPI:
	default:
		return validate.Errorf("via", "%q is not where an action comes from (allowed: console, cli, api)", e.Via)
	}
	if !known(e.Action) {
		return validate.Errorf("action", "%q is not an action (allowed: %s)", e.Action, strings.Join(Actions, ", "))
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeRefused, OutcomeFailed:
	default:
		return validate.Errorf("outcome", "%q is not an outcome (allowed: ok, refused, failed)", e.Outcome)
	}
	if e.Rows < 0 {
		return validate.Errorf("rows", "must not be negative")
	}
	e.Actor.ID, e.Actor.Name = clean(e.Actor.ID, 200), clean(e.Actor.Name, 200)
	e.Target, e.Detail, e.Error = clean(e.Target, maxTarget), clean(e.Detail, maxDetail), clean(e.Error, maxError)
	return nil
}

func known(action string) bool {
	for _, a := range Actions {
		if a == action {
			return true
		}
	}
	return false
}

// clean makes text storable (valid UTF-8, no NUL, which PostgreSQL's text
// refuses) and cuts it to n bytes on a rune boundary.
func clean(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Record writes e on ex; pass the transaction of the action so that both
// commit together. ID and At are set by the database (At is the
// transaction's time). It fails with a *validate.Error for an entry that
// names no actor or an unknown action.
func Record(ctx context.Context, ex db.Executor, e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	_, err := ex.Exec(ctx, `INSERT INTO hookd.audit_log
			(actor_kind, actor_id, actor_name, via, action, target, detail, rows, outcome, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Actor.Kind, e.Actor.ID, e.Actor.Name, e.Via, e.Action, e.Target, e.Detail, e.Rows, e.Outcome, e.Error)
	return err
}

// ListParams select entries, newest first. Zero fields match everything.
type ListParams struct {
	// Actor matches the actor's id or name exactly.
	Actor string
	// Action is one of Actions.
	Action string
	// Target matches the target exactly.
	Target string
	// Outcome is one of the outcomes.
	Outcome string
	// Before continues below this id (the previous page's Next).
	Before int64
	// Limit defaults to 50, at most 1000.
	Limit int
}

// Page is one page of entries; Next is 0 at the end.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    int64   `json:"next,omitempty"`
}

// List returns entries matching p, newest first, by keyset pagination.
func List(ctx context.Context, ex db.Executor, p ListParams) (Page, error) {
	if p.Limit == 0 {
		p.Limit = 50
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return Page{}, validate.Errorf("limit", "must be between 1 and 1000")
	}
	if p.Action != "" && !known(p.Action) {
		return Page{}, validate.Errorf("action", "%q is not an action (allowed: %s)", p.Action, strings.Join(Actions, ", "))
	}
	if p.Outcome != "" && p.Outcome != OutcomeOK && p.Outcome != OutcomeRefused && p.Outcome != OutcomeFailed {
		return Page{}, validate.Errorf("outcome", "%q is not an outcome (allowed: ok, refused, failed)", p.Outcome)
	}
	rows, err := ex.Query(ctx, `SELECT id, at, actor_kind, actor_id, actor_name, via, action, target, detail, rows, outcome, error
		FROM hookd.audit_log
		WHERE ($1 = '' OR actor_id = $1 OR actor_name = $1) AND ($2 = '' OR action = $2)
		  AND ($3 = '' OR target = $3) AND ($4 = '' OR outcome = $4) AND ($5 = 0 OR id < $5)
		ORDER BY id DESC LIMIT $6`,
		clean(p.Actor, 200), p.Action, clean(p.Target, maxTarget), p.Outcome, p.Before, p.Limit+1)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	page := Page{Entries: []Entry{}}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor.Kind, &e.Actor.ID, &e.Actor.Name, &e.Via, &e.Action,
			&e.Target, &e.Detail, &e.Rows, &e.Outcome, &e.Error); err != nil {
			return Page{}, err
		}
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(page.Entries) > p.Limit {
		page.Entries = page.Entries[:p.Limit]
		page.Next = page.Entries[p.Limit-1].ID
	}
	return page, nil
}

type ctxKey struct{}

// NewContext returns ctx carrying the actor, for code that records on
// behalf of whoever the caller serves (a console session, a request).
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the actor NewContext put in ctx.
func FromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(Actor)
	return a, ok && !a.IsZero()
}
