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
)

// MinAPIKeyLen is the shortest accepted API key.
const MinAPIKeyLen = 16

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

	for i, k := range c.API.Keys {
		if len(k) < MinAPIKeyLen {
			p.add(fmt.Sprintf("api.keys[%d]", i), "is %d characters long; keys must have at least %d (generate one with: openssl rand -hex 32)", len(k), MinAPIKeyLen)
		}
	}

	c.validateDelivery(&p)
	c.validateIntake(&p)

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
	return errors.Join(p...)
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
	p.nonNegative("delivery.secret_overlap", d.SecretOverlap)
	p.positiveDuration("delivery.shutdown_timeout", d.ShutdownTimeout)
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
			if secret == "" {
				p.add(skey, "is empty")
			} else if s.Scheme == SchemeStandard && !isStandardSecret(secret) {
				p.add(skey, "is not a Standard Webhooks secret (whsec_ followed by base64; the value is not shown)")
			}
		}
		if s.Tolerance <= 0 && s.Scheme != SchemeGitHub {
			p.add(key+".tolerance", "%s must be positive (default 5m)", s.Tolerance)
		}
		if s.ForwardTo != "" {
			p.httpURL(key+".forward_to", s.ForwardTo)
		}
	}
}

func isStandardSecret(s string) bool {
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
	}
}
