// Package inbox is hookd's receiving side: it verifies inbound webhooks,
// stores each event once, acknowledges only what is stored, and hands
// events on, either forwarded through the delivery engine or to the
// application's own function, exactly once.
//
// # Sources
//
// A [Source] names a sender, its signature scheme (hookd, standard, stripe,
// github), its secrets and timestamp tolerance, and optionally an internal
// URL to forward to. Sources come from the config file ([SyncConfig] at
// start) or from the API ([CreateSource] and friends). All SQL on
// hookd.sources, hookd.inbox, hookd.inbox_ids and hookd.intake_minutes lives
// in this package.
//
// # Receiving
//
// [Handler] serves POST /in/{source}. A request is answered
//
//	413 when its body is over intake.max_body_bytes (nothing stored)
//	404 for an unknown source
//	401 with a short reason when verification fails (nothing stored)
//	200 {"status":"accepted"|"duplicate","id":...} once the event committed
//	503 when the database failed: the sender must retry
//
// The inbox is unique on (source, event id), so a sender's retry is
// answered 200 "duplicate" and only counted. A request without the
// scheme's signature headers, or for an unknown source, is answered
// before its body is read, and its connection closed.
//
// # Forwarding
//
// A source with forward_to has an endpoint of kind "forward", id
// "ep_fwd_<source>", with a whsec_ secret of its own. Each new event is
// published to that endpoint in the transaction that stores it, with the
// stable id ForwardEventID(source, event id), its type from the body (or
// X-GitHub-Event; "intake.<source>" when that is no valid event type, an
// overlong one included) and the body as data, so the delivery engine signs it
// with hookd's scheme and retries, dead-letters and replays it like any
// delivery. An inbound event is never marked forwarded unless that
// delivery exists: while the forward's id is taken by an event hookd did
// not make, the sender is answered 503 and nothing is stored. The internal service verifies with Source.ForwardSecret (shown
// by GetSource, `hookd sources show` and the API with show_secrets=true;
// an API-made source may set it as forward_secret).
//
// # Processing in-process
//
// Without forward_to, events wait in the inbox for a [Consumer]:
//
//	c, _ := inbox.NewConsumer(pool, inbox.ConsumerOptions{
//		Source: "stripe",
//		Handle: func(ctx context.Context, tx pgx.Tx, ev *inbox.Event) error {
//			_, err := tx.Exec(ctx, `INSERT INTO payments ...`, ev.Body)
//			return err
//		},
//	})
//	c.Start(ctx)
//	defer c.Stop()
//
// Handle's writes commit in the transaction that marks the event
// processed, so they happen once even with several consumers and crashes.
package inbox
