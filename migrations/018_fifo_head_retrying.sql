-- A fifo line's head waiting out a backoff is stored retrying, as every
-- retry is: the claim holds the line behind it meanwhile (the oldest of
-- an endpoint's pending and retrying deliveries is its head). Before, it
-- stayed pending with a later next_attempt_at, and every count and list
-- had to tell it apart from the pending ones.
UPDATE hookd.queue q SET state = 'retrying', updated_at = now()
FROM hookd.endpoints e
WHERE e.id = q.endpoint_id AND e.ordering = 'fifo'
  AND q.state = 'pending' AND q.attempts > 0 AND q.next_attempt_at > now();
