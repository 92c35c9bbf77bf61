// Package config loads, defaults and validates hookd's configuration.
//
// # Sources and precedence
//
// Values come from, lowest precedence first:
//
//  1. the defaults in this package (see [Default]);
//  2. one YAML file: the file given explicitly, otherwise the first of
//     [DefaultFiles] that exists;
//  3. environment variables HOOKD_<SECTION>_<KEY>, for example
//     HOOKD_DATABASE_URL or HOOKD_DELIVERY_RETRY_SCHEDULE=0s,5s,1m (lists
//     are comma-separated; intake.sources takes a JSON array);
//  4. command-line flags listed in [FlagKeys], when the user set them.
//
// # Validation
//
// [Load] rejects unknown keys in the file and every bad value, all at once:
// each problem names the key, the value and what is allowed. Loading only
// reads; nothing on disk or in the database is touched.
package config

import (
	"log/slog"
	"net/netip"
	"time"
)

// Defaults, exported so that callers and documentation agree on them.
const (
	DefaultDataDir      = ".hookd/data"
	DefaultMaxConns     = 20
	DefaultListen       = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB

	DefaultShutdownTimeout        = 10 * time.Second
	DefaultReadHeaderTimeout      = 10 * time.Second
	DefaultReadTimeout            = time.Minute
	DefaultWriteTimeout           = time.Minute
	DefaultIdleTimeout            = 2 * time.Minute
	DefaultMaxConnections         = 1000
	DefaultDeliveryTimeout        = 15 * time.Second
	DefaultMaxPayloadBytes        = 256 << 10 // 262144
	DefaultWorkers                = 512
	DefaultMaxInFlightPerEndpoint = 8
	DefaultClaimBatch             = 100
	DefaultPollInterval           = time.Second
	DefaultMaxResponseBodyBytes   = 16 << 10 // 16384
	DefaultDisableAfter           = 120 * time.Hour
	DefaultJitter                 = 0.2
	DefaultSecretOverlap          = 24 * time.Hour
	DefaultBreakerFailures        = 10
	DefaultBreakerProbeInterval   = 30 * time.Second
	DefaultRetentionPeriod        = 720 * time.Hour
	MinRetentionPeriod            = time.Minute

	DefaultMaxProcessAttempts = 10
	DefaultSourceTolerance    = 5 * time.Minute

	DefaultAlertMinInterval = 15 * time.Minute
	DefaultConsoleRefresh   = time.Second
	MinConsoleRefresh       = 100 * time.Millisecond
	DefaultSSHHostKey       = ".hookd/ssh_host_ed25519_key"

	// leaseSlack is added to twice the delivery timeout when no lease is set.
	leaseSlack = 30 * time.Second
)

// Allowed values of enumerated keys.
const (
	SchemeHookd    = "hookd"
	SchemeStandard = "standard"
	SchemeStripe   = "stripe"
	SchemeGitHub   = "github"

	AlertFormatHookd = "hookd"
	AlertFormatSlack = "slack"

	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"

	LogFormatAuto = "auto"
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// DefaultRetrySchedule returns the default delays before each attempt:
// immediately, then 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h and 24h (about
// three days in all). A new slice is returned on every call.
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{
		0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour,
		20 * time.Hour, 24 * time.Hour,
	}
}

// Config is hookd's whole configuration. The `key` tags name each key as
// written in the YAML file; the environment variable of a key is
// HOOKD_ followed by the key upper-cased with "." replaced by "_".
type Config struct {
	Database  Database  `key:"database"`
	HTTP      HTTP      `key:"http"`
	API       API       `key:"api"`
	Delivery  Delivery  `key:"delivery"`
	Intake    Intake    `key:"intake"`
	Alerts    Alerts    `key:"alerts"`
	Retention Retention `key:"retention"`
	Log       Log       `key:"log"`
	Console   Console   `key:"console"`
	Secrets   Secrets   `key:"secrets"`

	file string // the file the config was read from, "" if none
}

// Database configures the PostgreSQL connection.
type Database struct {
	// URL is a PostgreSQL URL or key=value DSN. Defaults to "", which runs
	// hookd's own local PostgreSQL under DataDir.
	URL string `key:"url"`
	// DataDir holds the local PostgreSQL when URL is "". Defaults to
	// ".hookd/data".
	DataDir string `key:"data_dir"`
	// AutoMigrate applies pending migrations at start. Defaults to true.
	AutoMigrate bool `key:"auto_migrate"`
	// MaxConns caps the connection pool; at least 2. Defaults to 20.
	MaxConns int32 `key:"max_conns"`
}

// HTTP configures the API server.
type HTTP struct {
	// Listen is the host:port of the API server. Defaults to
	// "127.0.0.1:8080".
	Listen string `key:"listen"`
	// MaxBodyBytes caps API request bodies. Defaults to 1 MiB.
	MaxBodyBytes int64 `key:"max_body_bytes"`
	// ShutdownTimeout bounds a graceful shutdown. Defaults to 10s.
	ShutdownTimeout time.Duration `key:"shutdown_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers. Defaults to 10s.
	ReadHeaderTimeout time.Duration `key:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included, so a
	// client trickling its body cannot hold a connection. Defaults to 1m.
	ReadTimeout time.Duration `key:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response. Defaults to 1m.
	WriteTimeout time.Duration `key:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Defaults
	// to 2m.
	IdleTimeout time.Duration `key:"idle_timeout"`
	// MaxConnections caps the connections open at once on each listener
	// (http.listen, intake.listen); more wait to be accepted. Defaults to
	// 1000.
	MaxConnections int `key:"max_connections"`
	// TrustedProxies are the reverse proxies (CIDRs or bare IPs) whose
	// X-Forwarded-For and X-Real-IP headers name the client in logs; from
	// any other peer those headers are ignored. Defaults to none, which
	// trusts no proxy headers.
	TrustedProxies []netip.Prefix `key:"trusted_proxies"`
}

// API configures access to the HTTP API.
type API struct {
	// Keys are the accepted bearer keys, each at least 16 characters.
	// Defaults to none.
	Keys []string `key:"keys"`
}

// Delivery configures outbound webhook delivery.
type Delivery struct {
	// RetrySchedule is the delay before each attempt; its length is the
	// attempt budget. Defaults to [DefaultRetrySchedule].
	RetrySchedule []time.Duration `key:"retry_schedule"`
	// Timeout bounds one attempt. Defaults to 15s.
	Timeout time.Duration `key:"timeout"`
	// AllowedNetworks are exempt from the SSRF guard (loopback, private,
	// link-local... are refused otherwise). Defaults to none.
	AllowedNetworks []netip.Prefix `key:"allowed_networks"`
	// MaxPayloadBytes caps an event's payload. Defaults to 262144.
	MaxPayloadBytes int64 `key:"max_payload_bytes"`
	// Workers is the number of concurrent attempts. Defaults to 512: a
	// worker is a goroutine only while it sends, and the more attempts a
	// process has in flight, the more results and claims each database
	// cycle carries (see core/dispatch), which is what delivering fast
	// costs least in. Per endpoint, MaxInFlightPerEndpoint still holds.
	Workers int `key:"workers"`
	// MaxInFlightPerEndpoint caps concurrent attempts to one endpoint.
	// Defaults to 8.
	MaxInFlightPerEndpoint int `key:"max_in_flight_per_endpoint"`
	// ClaimBatch is the number of due deliveries claimed at once.
	// Defaults to 100.
	ClaimBatch int `key:"claim_batch"`
	// Lease is how long a claimed delivery belongs to its worker; it must
	// exceed Timeout. Defaults to 0, meaning Timeout*2+30s (see
	// [Config.LeaseDuration]).
	Lease time.Duration `key:"lease"`
	// PollInterval is the fallback poll when no notification arrives.
	// Defaults to 1s.
	PollInterval time.Duration `key:"poll_interval"`
	// MaxResponseBodyBytes caps the stored response body of an attempt.
	// Defaults to 16384.
	MaxResponseBodyBytes int64 `key:"max_response_body_bytes"`
	// DisableAfter disables an endpoint failing for this long; 0 never
	// does. Defaults to 120h.
	DisableAfter time.Duration `key:"disable_after"`
	// Jitter spreads each retry delay by +-Jitter, in [0,1). Defaults to
	// 0.2.
	Jitter float64 `key:"jitter"`
	// SecretOverlap is how long a rotated-out secret still signs.
	// Defaults to 24h.
	SecretOverlap time.Duration `key:"secret_overlap"`
	// ShutdownTimeout bounds waiting for in-flight attempts at stop.
	// Defaults to 10s.
	ShutdownTimeout time.Duration `key:"shutdown_timeout"`
	// BreakerFailures consecutive failures open an endpoint's circuit
	// breaker: its due deliveries wait while one probe goes out per
	// BreakerProbeInterval. 0 never opens it. Defaults to 10.
	BreakerFailures int `key:"breaker_failures"`
	// BreakerProbeInterval is the wait before the first probe of an open
	// breaker; it doubles after each failed probe, up to 16 times itself.
	// Defaults to 30s.
	BreakerProbeInterval time.Duration `key:"breaker_probe_interval"`
}

// Retention configures how long history is kept.
type Retention struct {
	// Period is how long an event and everything about it (deliveries,
	// attempts) is kept after it was stored; at least 1m. Unfinished
	// deliveries are kept until they finish. Defaults to 720h (30 days).
	Period time.Duration `key:"period"`
	// AttemptBodies, when set and shorter than Period, is how long the
	// response bodies of attempts are kept; 0 keeps them for Period.
	// Defaults to 0.
	AttemptBodies time.Duration `key:"attempt_bodies"`
}

// Intake configures inbound webhook reception.
type Intake struct {
	// Listen is a separate host:port for /in/. Defaults to "", which
	// serves /in/ on http.listen.
	Listen string `key:"listen"`
	// MaxBodyBytes caps inbound request bodies. Defaults to 1 MiB.
	MaxBodyBytes int64 `key:"max_body_bytes"`
	// MaxProcessAttempts bounds processing (forwarding) tries of one
	// inbound event. Defaults to 10.
	MaxProcessAttempts int `key:"max_process_attempts"`
	// Sources are the senders hookd accepts webhooks from. Defaults to
	// none.
	Sources []Source `key:"sources"`
}

// Source is one sender of inbound webhooks, served at /in/<Name>.
type Source struct {
	// Name is letters, digits, "-" and "_"; unique. Required.
	Name string `key:"name"`
	// Scheme is the signature scheme: hookd, standard, stripe or github.
	// Required.
	Scheme string `key:"scheme"`
	// Secrets verify signatures; several allow rotation. At least one.
	Secrets []string `key:"secrets"`
	// Tolerance is the accepted age of a signed timestamp (github ignores
	// it). Defaults to 5m.
	Tolerance time.Duration `key:"tolerance"`
	// ForwardTo is an absolute http/https URL verified events are
	// forwarded to. Defaults to "", no forwarding.
	ForwardTo string `key:"forward_to"`
}

// Alerts configures operational alerts (dead letters, disabled endpoints).
type Alerts struct {
	// URL receives alerts as webhooks. Defaults to "", no alerts.
	URL string `key:"url"`
	// Secret signs alerts like any delivery. Defaults to "".
	Secret string `key:"secret"`
	// Format is "hookd" (JSON event) or "slack". Defaults to "hookd".
	Format string `key:"format"`
	// MinInterval coalesces alerts per endpoint. Defaults to 15m.
	MinInterval time.Duration `key:"min_interval"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Defaults to "info".
	Level string `key:"level"`
	// Format is auto (text on a terminal, JSON otherwise), text or json.
	// Defaults to "auto".
	Format string `key:"format"`
}

// Console configures the terminal console.
type Console struct {
	// Refresh is the live refresh interval, at least 100ms. Defaults to
	// 1s.
	Refresh time.Duration `key:"refresh"`
	// ReadOnly hides actions that change state (replay, disable).
	// Defaults to false.
	ReadOnly bool `key:"read_only"`
	// SSH serves the console over SSH (keys console.ssh.*).
	SSH ConsoleSSH `key:"ssh"`
}

// ConsoleSSH configures the console served over SSH. Only the public keys
// listed in AuthorizedKeys may connect; passwords are never accepted.
type ConsoleSSH struct {
	// Listen is the host:port the SSH server listens on. Defaults to "",
	// which serves no SSH.
	Listen string `key:"listen"`
	// HostKey is the path of the server's private host key, generated
	// (ed25519, mode 0600) on first start when missing. Defaults to
	// ".hookd/ssh_host_ed25519_key".
	HostKey string `key:"host_key"`
	// AuthorizedKeys is the path of an authorized_keys file listing the
	// public keys that may connect. Required when Listen is set. Defaults
	// to "".
	AuthorizedKeys string `key:"authorized_keys"`
	// ReadOnlyKeys is the path of an authorized_keys file listing public
	// keys that may connect to a read-only console: they see everything
	// and change nothing (a key in both files is read-only). Defaults to
	// "".
	ReadOnlyKeys string `key:"read_only_keys"`
}

// Secrets configures the key that encrypts the secrets hookd stores
// (endpoint signing secrets and keys, custom header values, intake source
// secrets) with AES-256-GCM, so that a database dump reveals none.
type Secrets struct {
	// Key is the current key: 32 random bytes in standard base64
	// (`hookd secrets generate-key`). Defaults to "": with database.url
	// empty, a key file is generated in database.data_dir; with a
	// database.url, Key or KeyFile is required.
	Key string `key:"key"`
	// KeyFile is a file holding the key instead, such as a systemd
	// credential ($CREDENTIALS_DIRECTORY/...). Defaults to "".
	KeyFile string `key:"key_file"`
	// PreviousKeys still open values sealed before a rotation; `hookd
	// secrets rotate` re-seals those under Key. Defaults to none.
	PreviousKeys []string `key:"previous_keys"`
}

// EmbeddedKeyFile is the key file of the embedded database, generated in
// database.data_dir on first use when no key is configured.
const EmbeddedKeyFile = "secrets.key"

// Default returns a configuration holding every default; it passes
// [Config.Validate].
func Default() *Config {
	return &Config{
		Database: Database{
			DataDir:     DefaultDataDir,
			AutoMigrate: true,
			MaxConns:    DefaultMaxConns,
		},
		HTTP: HTTP{
			Listen:            DefaultListen,
			MaxBodyBytes:      DefaultMaxBodyBytes,
			ShutdownTimeout:   DefaultShutdownTimeout,
			ReadHeaderTimeout: DefaultReadHeaderTimeout,
			ReadTimeout:       DefaultReadTimeout,
			WriteTimeout:      DefaultWriteTimeout,
			IdleTimeout:       DefaultIdleTimeout,
			MaxConnections:    DefaultMaxConnections,
			TrustedProxies:    []netip.Prefix{},
		},
		API: API{Keys: []string{}},
		Delivery: Delivery{
			RetrySchedule:          DefaultRetrySchedule(),
			Timeout:                DefaultDeliveryTimeout,
			AllowedNetworks:        []netip.Prefix{},
			MaxPayloadBytes:        DefaultMaxPayloadBytes,
			Workers:                DefaultWorkers,
			MaxInFlightPerEndpoint: DefaultMaxInFlightPerEndpoint,
			ClaimBatch:             DefaultClaimBatch,
			PollInterval:           DefaultPollInterval,
			MaxResponseBodyBytes:   DefaultMaxResponseBodyBytes,
			DisableAfter:           DefaultDisableAfter,
			Jitter:                 DefaultJitter,
			SecretOverlap:          DefaultSecretOverlap,
			ShutdownTimeout:        DefaultShutdownTimeout,
			BreakerFailures:        DefaultBreakerFailures,
			BreakerProbeInterval:   DefaultBreakerProbeInterval,
		},
		Retention: Retention{Period: DefaultRetentionPeriod},
		Intake: Intake{
			MaxBodyBytes:       DefaultMaxBodyBytes,
			MaxProcessAttempts: DefaultMaxProcessAttempts,
			Sources:            []Source{},
		},
		Alerts:  Alerts{Format: AlertFormatHookd, MinInterval: DefaultAlertMinInterval},
		Log:     Log{Level: LogLevelInfo, Format: LogFormatAuto},
		Console: Console{Refresh: DefaultConsoleRefresh, SSH: ConsoleSSH{HostKey: DefaultSSHHostKey}},
		Secrets: Secrets{PreviousKeys: []string{}},
	}
}

// File returns the path of the file the configuration was read from, or
// "" when no file was read.
func (c *Config) File() string { return c.file }

// LeaseDuration returns delivery.lease, or Timeout*2+30s when it is 0.
func (c *Config) LeaseDuration() time.Duration {
	if c.Delivery.Lease > 0 {
		return c.Delivery.Lease
	}
	return 2*c.Delivery.Timeout + leaseSlack
}

// SlogLevel returns the slog level of Level; an unknown level (rejected by
// Validate) maps to info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case LogLevelDebug:
		return slog.LevelDebug
	case LogLevelWarn:
		return slog.LevelWarn
	case LogLevelError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
