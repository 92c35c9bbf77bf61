// Package alert tells a person when deliveries die, when an endpoint is
// disabled (410 Gone or the health rule) and when it recovers.
//
// # Flow
//
// Callers record what happened ([Alerter.RecordDead],
// [Alerter.RecordDisabled], [Alerter.RecordRecovered]; the dispatcher's
// hooks [Alerter.OnOutcomeTx] for dead letters, in the transaction that
// records them, and [Alerter.OnOutcome] for 410s). Records land in
// hookd.alert_state, one row per (endpoint, kind), so that 10,000 dead
// letters to one endpoint become one row with a count and the first and
// last event ids. A flusher loop turns due rows into alerts:
//
//   - dead letters at most once per alerts.min_interval per endpoint;
//   - disabled and recovered at once, one per episode.
//
// Rows are taken FOR UPDATE SKIP LOCKED, so several hookd processes never
// send the same alert twice.
//
// # Sending
//
// With alerts.url set, an alert is a directed event (hookd.delivery.dead,
// hookd.endpoint.disabled, hookd.endpoint.recovered) published through the
// outbox to the internal endpoint [EndpointID] in the same transaction that
// clears the row: it is delivered by hookd's own engine, signed, with its
// retries, attempt log and replay. With alerts.format "slack" the event's
// data is Slack's {"text": ..., "blocks": ...} and the alert endpoint's
// body_format is "data", so the engine sends that body alone, which
// Slack-compatible incoming webhooks accept. alerts.url is the operator's
// own configuration, so the engine dials it without the outbound address
// guard. With alerts.url empty, alerts are only logged at warn level.
// Every alert is logged and counted in hookd_alerts_total either way.
//
// Alerts are never raised about the alert endpoint itself.
package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/service"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// EndpointID is the fixed id of the internal endpoint (kind "alert") that
// receives alerts at alerts.url.
const EndpointID = "ep_hookd_alerts"

// Kinds of alert, as stored in hookd.alert_state and used as the
// hookd_alerts_total label.
const (
	KindDead      = "dead"
	KindDisabled  = "disabled"
	KindRecovered = "recovered"
)

// Event types of alerts.
const (
	TypeDead      = "hookd.delivery.dead"
	TypeDisabled  = "hookd.endpoint.disabled"
	TypeRecovered = "hookd.endpoint.recovered"
)

// DefaultFlushInterval is how often due alerts are sent.
const DefaultFlushInterval = 2 * time.Second

// Options configure an Alerter.
type Options struct {
	// Config is the alerts section. Its Secret, when set, must be a valid
	// whsec_ secret.
	Config config.Alerts
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, count alerts in AlertsSent.
	Metrics *metrics.Metrics
	// Now stamps alert texts. Defaults to time.Now.
	Now func() time.Time
	// FlushInterval is how often due alerts are sent. Defaults to 2s.
	FlushInterval time.Duration
}

// Alerter records and sends operational alerts. It is safe for concurrent
// use. Record* methods work before Start; only sending needs Start.
type Alerter struct {
	pool   *pgxpool.Pool
	pub    *outbox.Publisher
	opts   Options
	logger *slog.Logger

	runner service.Runner
}

// New returns an Alerter. It checks the configuration; the alert endpoint
// is created or updated by Start.
func New(pool *pgxpool.Pool, pub *outbox.Publisher, opts Options) (*Alerter, error) {
	c := opts.Config
	c.Format = cmp.Or(c.Format, config.AlertFormatHookd)
	if c.Format != config.AlertFormatHookd && c.Format != config.AlertFormatSlack {
		return nil, validate.Errorf("alerts.format", "%q is not allowed (allowed: hookd, slack)", c.Format)
	}
	if c.MinInterval < 0 {
		return nil, validate.Errorf("alerts.min_interval", "%s must not be negative", c.MinInterval)
	}
	if c.MinInterval == 0 {
		c.MinInterval = config.DefaultAlertMinInterval
	}
	if c.URL != "" {
		if err := endpoint.ValidateURL(c.URL); err != nil {
			return nil, validate.Errorf("alerts.url", "%v", err)
		}
	}
	if c.Secret != "" {
		if err := signing.ValidateSecret(c.Secret); err != nil {
			return nil, validate.Errorf("alerts.secret", "%v (generate one with: hookd endpoints secret, or leave it empty to have one made)", err)
		}
	}
	opts.Config = c
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.FlushInterval = cmp.Or(opts.FlushInterval, DefaultFlushInterval)
	return &Alerter{pool: pool, pub: pub, opts: opts, logger: opts.Logger.With(slog.String("service", "alert"))}, nil
}

// Start makes the alert endpoint match the configuration and starts the
// flusher, which outlives ctx until Stop. Calling Start on a started
// Alerter is an error; a stopped one can be started again.
func (a *Alerter) Start(ctx context.Context) error {
	setup := func() error {
		if err := a.syncEndpoint(ctx); err != nil {
			return fmt.Errorf("alert: sync alert endpoint: %w", err)
		}
		return nil
	}
	return a.runner.StartWith(context.WithoutCancel(ctx), "alert", setup, a.loop)
}

// Stop ends the flusher and waits for it, up to ctx. Safe to call twice,
// and before Start.
func (a *Alerter) Stop(ctx context.Context) error { return a.runner.StopContext(ctx) }

func (a *Alerter) loop(ctx context.Context) {
	t := time.NewTicker(a.opts.FlushInterval)
	defer t.Stop()
	for {
		if _, err := a.Flush(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("alert: flush failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncEndpoint creates or updates the alert endpoint from the config. With
// alerts.url empty an existing alert endpoint is disabled.
func (a *Alerter) syncEndpoint(ctx context.Context) error {
	c := a.opts.Config
	cur, err := endpoint.Get(ctx, a.pool, EndpointID)
	if errors.Is(err, db.ErrNotFound) {
		if c.URL == "" {
			return nil
		}
		_, err = endpoint.Create(ctx, a.pool, endpoint.CreateParams{
			ID: EndpointID, Kind: endpoint.KindAlert, Trusted: true, URL: c.URL, Secret: c.Secret,
			Description: "hookd operational alerts (alerts.url)", BodyFormat: a.bodyFormat(),
		})
		if !errors.Is(err, db.ErrConflict) {
			return err
		}
		// Another process created it at the same moment: update it below.
		cur, err = endpoint.Get(ctx, a.pool, EndpointID)
	}
	if err != nil {
		return err
	}
	if c.URL == "" {
		if cur.Enabled {
			_, err = endpoint.Disable(ctx, a.pool, EndpointID, "alerts.url is not set")
		}
		return err
	}
	if cur.URL != c.URL || cur.BodyFormat != a.bodyFormat() {
		url, format := c.URL, a.bodyFormat()
		if _, err := endpoint.UpdateOwn(ctx, a.pool, EndpointID, endpoint.UpdateParams{URL: &url, BodyFormat: &format}); err != nil {
			return err
		}
	}
	if c.Secret != "" && cur.Secret != c.Secret {
		if _, err := endpoint.RotateOwnSecret(ctx, a.pool, EndpointID, c.Secret, 0); err != nil {
			return err
		}
	}
	if !cur.Enabled {
		_, err = endpoint.Enable(ctx, a.pool, EndpointID)
	}
	return err
}

// bodyFormat is what the alert endpoint sends: Slack's body alone, or
// hookd's envelope.
func (a *Alerter) bodyFormat() string {
	if a.opts.Config.Format == config.AlertFormatSlack {
		return endpoint.BodyData
	}
	return endpoint.BodyEnvelope
}
