package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/outbox"
)

// Alert is what one alert says; it is the data of the alert event (format
// hookd) and the source of the Slack text.
type Alert struct {
	// Kind is dead, disabled or recovered.
	Kind        string `json:"kind"`
	EndpointID  string `json:"endpoint_id"`
	EndpointURL string `json:"endpoint_url,omitempty"`
	// Count, FirstEventID and LastEventID describe coalesced dead letters.
	Count        int    `json:"count,omitempty"`
	FirstEventID string `json:"first_event_id,omitempty"`
	LastEventID  string `json:"last_event_id,omitempty"`
	// Since is when the first coalesced dead letter died, or when the
	// endpoint was disabled.
	Since *time.Time `json:"since,omitempty"`
	// Reason is why the endpoint was disabled.
	Reason string `json:"reason,omitempty"`
	// Text says it all in one sentence for a person.
	Text string `json:"text"`
}

// Type returns the event type of the alert.
func (al *Alert) Type() string {
	switch al.Kind {
	case KindDead:
		return TypeDead
	case KindDisabled:
		return TypeDisabled
	default:
		return TypeRecovered
	}
}

// Flush sends every due alert and returns how many it sent. The flusher
// loop calls it; tests and callers that want alerts out now may too.
func (a *Alerter) Flush(ctx context.Context) (int, error) {
	var sent []*Alert
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		sent = sent[:0]
		due, err := dueAlerts(ctx, tx, a.opts.Config.MinInterval)
		if err != nil {
			return err
		}
		for _, al := range due {
			if err := a.send(ctx, tx, al); err != nil {
				return err
			}
			if err := markSent(ctx, tx, al); err != nil {
				return err
			}
			sent = append(sent, al)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Logged and counted after the commit: a rolled-back flush told no one.
	for _, al := range sent {
		a.logger.Warn("alert", slog.String("kind", al.Kind), slog.String("endpoint_id", al.EndpointID),
			slog.Int("count", al.Count), slog.String("text", al.Text))
		if a.opts.Metrics != nil {
			a.opts.Metrics.AlertsSent.WithLabelValues(al.Kind).Inc()
		}
	}
	return len(sent), nil
}

// dueAlerts locks and reads pending rows that may be sent now: dead
// letters once per minInterval, the other kinds at once.
func dueAlerts(ctx context.Context, tx pgx.Tx, minInterval time.Duration) ([]*Alert, error) {
	rows, err := tx.Query(ctx, `
		SELECT s.endpoint_id, s.kind, s.pending_count, s.first_event_id, s.last_event_id, s.first_at,
			coalesce(e.url, ''), coalesce(e.enabled, false), coalesce(e.disabled_reason, '')
		FROM hookd.alert_state s LEFT JOIN hookd.endpoints e ON e.id = s.endpoint_id
		WHERE s.pending_count > 0
		  AND (s.kind <> 'dead' OR s.last_sent_at IS NULL OR s.last_sent_at <= now() - $1 * interval '1 millisecond')
		ORDER BY s.first_at NULLS FIRST, s.endpoint_id
		LIMIT 100
		FOR UPDATE OF s SKIP LOCKED`, minInterval.Milliseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Alert
	for rows.Next() {
		var al Alert
		var enabled bool
		if err := rows.Scan(&al.EndpointID, &al.Kind, &al.Count, &al.FirstEventID, &al.LastEventID, &al.Since,
			&al.EndpointURL, &enabled, &al.Reason); err != nil {
			return nil, err
		}
		if al.Kind != KindDead {
			al.Count, al.FirstEventID, al.LastEventID = 0, "", ""
		}
		if al.Kind != KindDisabled {
			al.Reason = ""
		}
		if al.Since != nil {
			t := al.Since.UTC()
			al.Since = &t
		}
		al.Text = text(&al)
		out = append(out, &al)
	}
	return out, rows.Err()
}

// markSent clears a sent row; a recovered row is removed, the others keep
// last_sent_at for coalescing and recovery detection.
func markSent(ctx context.Context, tx pgx.Tx, al *Alert) error {
	var err error
	if al.Kind == KindRecovered {
		_, err = tx.Exec(ctx, `DELETE FROM hookd.alert_state WHERE endpoint_id = $1 AND kind = $2`, al.EndpointID, al.Kind)
	} else {
		_, err = tx.Exec(ctx, `UPDATE hookd.alert_state SET pending_count = 0, first_event_id = '', last_event_id = '',
			last_sent_at = now() WHERE endpoint_id = $1 AND kind = $2`, al.EndpointID, al.Kind)
	}
	return err
}

// send publishes one alert to the alert endpoint in tx, in the shape the
// endpoint's body_format sends: hookd's alert data, or Slack's body. With
// no alerts.url it is only logged.
func (a *Alerter) send(ctx context.Context, tx pgx.Tx, al *Alert) error {
	if a.opts.Config.URL == "" {
		return nil
	}
	data, err := json.Marshal(al)
	if a.opts.Config.Format == config.AlertFormatSlack {
		data, err = SlackBody(al), nil
	}
	if err != nil {
		return err
	}
	_, err = a.pub.PublishTx(ctx, tx, outbox.Event{Type: al.Type(), Data: data, EndpointID: EndpointID})
	return err
}

// SlackBody is the body Slack-compatible incoming webhooks accept:
// {"text": ...} with one mrkdwn section block saying the same.
func SlackBody(al *Alert) []byte {
	t := slackEscape(al.Text)
	body := map[string]any{
		"text": t,
		"blocks": []any{map[string]any{
			"type": "section",
			"text": map[string]string{"type": "mrkdwn", "text": t},
		}},
	}
	b, _ := json.Marshal(body) // plain maps of strings always marshal
	return b
}

// slackEscape escapes the three characters Slack's text formatting
// reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func text(al *Alert) string {
	ep := al.EndpointID
	if al.EndpointURL != "" {
		ep += " (" + al.EndpointURL + ")"
	}
	switch al.Kind {
	case KindDead:
		noun := "deliveries"
		if al.Count == 1 {
			noun = "delivery"
		}
		return fmt.Sprintf("hookd: %d %s to endpoint %s died after spending their retry budget (first event %s, last event %s). "+
			"Replay them once the receiver is fixed.", al.Count, noun, ep, al.FirstEventID, al.LastEventID)
	case KindDisabled:
		return fmt.Sprintf("hookd: endpoint %s was disabled: %s. Its deliveries are held until it is enabled again.", ep, al.Reason)
	default:
		return fmt.Sprintf("hookd: endpoint %s recovered: it is enabled and delivering again.", ep)
	}
}
