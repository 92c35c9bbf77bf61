-- What an endpoint's request body is: hookd's envelope
-- {"id","type","created","data"}, or the event's data alone for receivers
-- that expect a body of their own shape (Slack-compatible incoming
-- webhooks, which hookd's slack alerts use).
ALTER TABLE hookd.endpoints
  ADD COLUMN body_format text NOT NULL DEFAULT 'envelope'
  CHECK (body_format IN ('envelope', 'data'));
