-- Asymmetric signatures (Standard Webhooks v1a, ed25519), opt-in per
-- endpoint. signatures says what webhook-signature carries: v1 (HMAC with
-- the secret), v1,v1a (both, while receivers move to the public key) or
-- v1a. signing_key is the whsk_ key, sealed like the secrets; public_key
-- is its whpk_ public key, given to receivers.
ALTER TABLE hookd.endpoints
  ADD COLUMN signatures text NOT NULL DEFAULT 'v1' CHECK (signatures IN ('v1', 'v1,v1a', 'v1a')),
  ADD COLUMN signing_key text,
  ADD COLUMN public_key text;
