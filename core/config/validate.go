package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/core/netguard"
)

// MinAPIKeyLen is the shortest accepted API key.
const MinAPIKeyLen = 16

// Limits of intake and delivery keys, the same as the API applies to
// sources and rotations made there.
const (
	MinSourceSecretLen = 16
	MaxSourceTolerance = time.Hour
	MaxSecretOverlap   = 30 * 24 * time.Hour
)

var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate checks every value and returns all problems joined, each a
// *KeyError naming its key, the value (secrets are never echoed) and what
// is allowed; nil when the configuration is usable.
func (c *Config) Validate() error {
	var p problems
	c.validateDatabase(&p)

	p.hostPort("http.listen", c.HTTP.Listen, false)
	p.positive("http.max_body_bytes", c.HTTP.MaxBodyBytes)
	p.positiveDuration("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	p.positiveDuration("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	p.positiveDuration("http.read_timeout", c.HTTP.ReadTimeout)
	p.positiveDuration("http.write_timeout", c.HTTP.WriteTimeout)
	p.positiveDuration("http.idle_timeout", c.HTTP.IdleTimeout)
	if c.HTTP.ReadHeaderTimeout > c.HTTP.ReadTimeout && c.HTTP.ReadTimeout > 0 {
		p.add("http.read_header_timeout", "%s exceeds http.read_timeout (%s), which covers the headers too", c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout)
	}
	p.positive("http.max_connections", int64(c.HTTP.MaxConnections))

	for i, k := range c.API.Keys {
		switch {
		case len(k) < MinAPIKeyLen:
			p.add(fmt.Sprintf("api.keys[%d]", i), "is %d characters long; keys must have at least %d (generate one with: openssl rand -hex 32)", len(k), MinAPIKeyLen)
		case strings.HasPrefix(k, "hkt_"):
			// The API reads a bearer starting hkt_ as a tenant token
			// (core/tenant), so such a key could never be used.
			p.add(fmt.Sprintf("api.keys[%d]", i), "starts with hkt_, which marks tenant tokens; an operator key must not (generate one with: openssl rand -hex 32)")
		}
	}

	c.validateDelivery(&p)
	c.validateIntake(&p)
	c.validateRetention(&p)

	if c.Alerts.URL != "" {
		p.httpURL("alerts.url", c.Alerts.URL)
	}
	p.oneOf("alerts.format", c.Alerts.Format, AlertFormatHookd, AlertFormatSlack)
	p.nonNegative("alerts.min_interval", c.Alerts.MinInterval)

	p.oneOf("log.level", c.Log.Level, LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError)
	p.oneOf("log.format", c.Log.Format, LogFormatAuto, LogFormatText, LogFormatJSON)

	if c.Console.Refresh < MinConsoleRefresh {
		p.add("console.refresh", "%s is too short (minimum %s)", c.Console.Refresh, MinConsoleRefresh)
	}
	c.validateConsoleSSH(&p)
	c.validateSecrets(&p)
	return errors.Join(p...)
}

// validateSecrets checks the keys' form; whether one is needed at all is
// decided when a database is opened (a database.url needs one), so that
// commands that use none (verify) do not ask for it. Keys are never echoed.
func (c *Config) validateSecrets(p *problems) {
	s := c.Secrets
	if s.Key != "" && s.KeyFile != "" {
		p.add("secrets.key_file", "is set together with secrets.key; set one of them")
	}
	if s.Key != "" && !isKey(s.Key) {
		p.add("secrets.key", "is not 32 bytes in standard base64 (the value is not shown; generate one with: hookd secrets generate-key)")
	}
	for i, k := range s.PreviousKeys {
		if !isKey(k) {
			p.add(fmt.Sprintf("secrets.previous_keys[%d]", i), "is not 32 bytes in standard base64 (the value is not shown)")
		}
	}
}

func isKey(s string) bool {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	return err == nil && len(b) == 32
}

// validateConsoleSSH checks console.ssh.* only when SSH is on: the files
// themselves are read when the server starts, not while loading.
func (c *Config) validateConsoleSSH(p *problems) {
	s := c.Console.SSH
	if s.Listen == "" {
		return
	}
	p.hostPort("console.ssh.listen", s.Listen, true)
	if s.HostKey == "" {
		p.add("console.ssh.host_key", `must not be empty when console.ssh.listen is set (the path of the host key; example: %s)`, DefaultSSHHostKey)
	}
	if s.AuthorizedKeys == "" && s.ReadOnlyKeys == "" {
		p.add("console.ssh.authorized_keys", `must not be empty when console.ssh.listen is set (the path of an authorized_keys file listing the public keys that may connect; or set console.ssh.read_only_keys for read-only access only)`)
	}
}

func (c *Config) validateDatabase(p *problems) {
	d := c.Database
	switch {
	case d.URL == "":
		if d.DataDir == "" {
			p.add("database.data_dir", `must not be empty when database.url is "" (hookd then runs its own PostgreSQL there)`)
		}
	case strings.HasPrefix(d.URL, "postgres://") || strings.HasPrefix(d.URL, "postgresql://"):
		if _, err := url.Parse(d.URL); err != nil {
			p.add("database.url", "is not a valid URL (the value is not shown: it may hold a password)")
		}
	case !strings.Contains(d.URL, "="):
		p.add("database.url", `is neither a postgres:// URL nor a key=value DSN (example: postgres://hookd:secret@db:5432/hookd; "" runs a local PostgreSQL)`)
	}
	if d.MaxConns < 2 {
		p.add("database.max_conns", "%d is too small (minimum 2)", d.MaxConns)
	}
}

func (c *Config) validateDelivery(p *problems) {
	d := c.Delivery
	if len(d.RetrySchedule) == 0 {
		p.add("delivery.retry_schedule", "must list at least one delay (example: [0s, 5s, 5m])")
	}
	for i, delay := range d.RetrySchedule {
		p.nonNegative(fmt.Sprintf("delivery.retry_schedule[%d]", i), delay)
	}
	p.positiveDuration("delivery.timeout", d.Timeout)
	p.positive("delivery.max_payload_bytes", d.MaxPayloadBytes)
	p.positive("delivery.workers", int64(d.Workers))
	p.positive("delivery.max_in_flight_per_endpoint", int64(d.MaxInFlightPerEndpoint))
	p.positive("delivery.claim_batch", int64(d.ClaimBatch))
	switch {
	case d.Lease < 0:
		p.add("delivery.lease", "%s is negative (0 means delivery.timeout*2+30s)", d.Lease)
	case d.Lease > 0 && d.Lease <= d.Timeout:
		p.add("delivery.lease", "%s must exceed delivery.timeout (%s), or be 0 for delivery.timeout*2+30s", d.Lease, d.Timeout)
	}
	p.positiveDuration("delivery.poll_interval", d.PollInterval)
	p.positive("delivery.max_response_body_bytes", d.MaxResponseBodyBytes)
	p.nonNegative("delivery.disable_after", d.DisableAfter)
	if d.Jitter < 0 || d.Jitter >= 1 {
		p.add("delivery.jitter", "%v is out of range (allowed: 0 <= jitter < 1, e.g. 0.2 for +-20%%)", d.Jitter)
	}
	if d.SecretOverlap < 0 || d.SecretOverlap > MaxSecretOverlap {
		p.add("delivery.secret_overlap", "%s is out of range (allowed: 0 to %s)", d.SecretOverlap, MaxSecretOverlap)
	}
	p.positiveDuration("delivery.shutdown_timeout", d.ShutdownTimeout)
	if d.BreakerFailures < 0 {
		p.add("delivery.breaker_failures", "%d is negative (0 never opens the breaker)", d.BreakerFailures)
	}
	p.positiveDuration("delivery.breaker_probe_interval", d.BreakerProbeInterval)
}

func (c *Config) validateRetention(p *problems) {
	r := c.Retention
	if r.Period < MinRetentionPeriod {
		p.add("retention.period", "%s is too short (at least %s; the default is %s)", r.Period, MinRetentionPeriod, DefaultRetentionPeriod)
	}
	switch {
	case r.AttemptBodies < 0:
		p.add("retention.attempt_bodies", "%s is negative (0 keeps bodies for retention.period)", r.AttemptBodies)
	case r.AttemptBodies > 0 && r.AttemptBodies < MinRetentionPeriod:
		p.add("retention.attempt_bodies", "%s is too short (at least %s, or 0)", r.AttemptBodies, MinRetentionPeriod)
	case r.AttemptBodies > r.Period && r.Period >= MinRetentionPeriod:
		p.add("retention.attempt_bodies", "%s is longer than retention.period (%s); bodies leave with their attempts anyway", r.AttemptBodies, r.Period)
	}
}

func (c *Config) validateIntake(p *problems) {
	in := c.Intake
	if in.Listen != "" {
		p.hostPort("intake.listen", in.Listen, true)
	}
	p.positive("intake.max_body_bytes", in.MaxBodyBytes)
	p.positive("intake.max_process_attempts", int64(in.MaxProcessAttempts))
	seen := map[string]int{}
	for i, s := range in.Sources {
		key := fmt.Sprintf("intake.sources[%d]", i)
		switch j, dup := seen[s.Name]; {
		case !sourceNameRE.MatchString(s.Name):
			p.add(key+".name", "%q is not allowed (letters, digits, - and _; required)", s.Name)
		case dup:
			p.add(key+".name", "%q is already used by intake.sources[%d] (names must be unique)", s.Name, j)
		default:
			seen[s.Name] = i
		}
		p.oneOf(key+".scheme", s.Scheme, SchemeHookd, SchemeStandard, SchemeStripe, SchemeGitHub)
		if len(s.Secrets) == 0 {
			p.add(key+".secrets", "must list at least one secret")
		}
		for k, secret := range s.Secrets {
			skey := fmt.Sprintf("%s.secrets[%d]", key, k)
			switch {
			case secret == "":
				p.add(skey, "is empty")
			case len(secret) < MinSourceSecretLen:
				p.add(skey, "is %d characters; at least %d are required (the value is not shown)", len(secret), MinSourceSecretLen)
			case s.Scheme == SchemeStandard && !isStandardSecret(secret):
				p.add(skey, "is not a Standard Webhooks secret (whsec_ followed by base64; the value is not shown)")
			}
		}
		if (s.Tolerance <= 0 && s.Scheme != SchemeGitHub) || s.Tolerance > MaxSourceTolerance {
			p.add(key+".tolerance", "%s must be positive and at most %s (default 5m)", s.Tolerance, MaxSourceTolerance)
		}
		if s.ForwardTo != "" {
			p.httpURL(key+".forward_to", s.ForwardTo)
		}
	}
}

// isStandardSecret: a whsec_ (or bare base64) secret for v1 signatures,
// or a whpk_ ed25519 public key for v1a.
func isStandardSecret(s string) bool {
	if k, ok := strings.CutPrefix(s, "whpk_"); ok {
		b, err := base64.StdEncoding.DecodeString(k)
		return err == nil && len(b) == 32
	}
	_, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	return err == nil
}

// problems collects KeyErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, keyErr(key, format, args...))
}

func (p *problems) oneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		p.add(key, "%q is not allowed (allowed: %s)", val, strings.Join(allowed, ", "))
	}
}

func (p *problems) positive(key string, n int64) {
	if n <= 0 {
		p.add(key, "%d must be at least 1", n)
	}
}

func (p *problems) positiveDuration(key string, d time.Duration) {
	if d <= 0 {
		p.add(key, "%s must be positive (%s)", d, durationExamples)
	}
}

func (p *problems) nonNegative(key string, d time.Duration) {
	if d < 0 {
		p.add(key, "%s must not be negative", d)
	}
}

// hostPort checks a listen address; the host may be empty (all
// interfaces), the port must be a number (0 picks a free one).
func (p *problems) hostPort(key, addr string, optional bool) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr == nil && n >= 0 && n <= 65535 {
			return
		}
	}
	hint := "host:port, e.g. 127.0.0.1:8080 or :8080"
	if optional {
		hint += `, or "" for none`
	}
	p.add(key, "%q is not a listen address (%s)", addr, hint)
}

// httpURL checks an absolute http or https URL.
func (p *problems) httpURL(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "%q is not an absolute http or https URL (example: https://example.com/hooks)", raw)
		return
	}
	// The HTTP client would look such a host up as a name, and fail.
	if ip, ok := netguard.LegacyIPv4(u.Hostname()); ok {
		p.add(key, "%q: the host %q is the IPv4 address %s in a spelling the HTTP client does not read; write %s", raw, u.Hostname(), ip, ip)
	}
}
