// Package scenario runs `hookd demo`: hookd's whole core on its own
// PostgreSQL, receivers that fail the way real ones do, a steady stream of
// events and a second sender feeding the intake, so that deliveries,
// retries, dead letters, a disabled endpoint and intake rejections all
// show within the first minute.
//
// # Lifetime
//
// [Demo.Start] starts, in order: the receivers; PostgreSQL (pgembed) in
// Options.DataDir, or in a temporary directory with Options.Ephemeral; a
// fresh "hookd" database in it (the previous run's is dropped; when
// another live hookd runs PostgreSQL there, Start fails with an
// InUseError instead); hookd's server (core/app) with the demo's
// configuration; the endpoints; the event stream and the intake sender. [Demo.Stop] stops all of it in
// reverse, PostgreSQL included, and removes the temporary directory, so
// that no process is left behind.
//
// # Configuration
//
// The demo reads no configuration file. It starts from config.Default and
// sets what a demo needs (see [Config]): a short retry schedule and
// timeout, loopback allowed through the address guard, one intake source
// that forwards what it verifies to ForwardReceiver, and a generated API
// key.
package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/pgembed"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/demo/receivers"
)

// Defaults of Options.
const (
	DefaultDataDir         = ".hookd/demo"
	DefaultListen          = "127.0.0.1:0"
	DefaultEventsPerSecond = 5
	// SourceName is the intake source the second sender posts to.
	SourceName = "payments"
	// ForwardReceiver is the receiver SourceName forwards its verified
	// events to: the flaky one, so that forwards retry and some die.
	ForwardReceiver = receivers.Flaky
	// stopTimeout bounds stopping PostgreSQL.
	stopTimeout = 30 * time.Second
)

// RetrySchedule is the demo's: four attempts within about seven seconds,
// so that dead letters appear in the first minute.
var RetrySchedule = []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second}

// Options configure a Demo. Every field is optional.
type Options struct {
	// DataDir holds the demo's PostgreSQL, kept between runs (each run
	// starts with a fresh database). Defaults to ".hookd/demo". Ignored
	// with Ephemeral.
	DataDir string
	// Ephemeral runs PostgreSQL in a new temporary directory, removed by
	// Stop.
	Ephemeral bool
	// Listen is hookd's HTTP address. Defaults to a free loopback port.
	Listen string
	// EventsPerSecond is the rate of the event stream. Defaults to 5.
	EventsPerSecond float64
	// Logger receives hookd's logs. Defaults to LogFile's logger, or to
	// discarding them.
	Logger *slog.Logger
	// LogFile, when Logger is nil, writes hookd's logs as text to
	// LogFileName in the data directory, at LogLevel.
	LogFile  bool
	LogLevel slog.Level
}

// LogFileName is the log file in the data directory (see Options.LogFile).
const LogFileName = "hookd.log"

// Demo is one run of the demo. Create it with New; Start it; Stop it.
type Demo struct {
	opts Options
	log  *slog.Logger

	// Set by Start, read-only afterwards.
	dataDir   string
	cluster   *pgembed.Cluster
	cfg       *config.Config
	db        *app.Database
	server    *app.Server
	apiKey    string
	receivers []*receivers.Receiver
	// healthySecret is shared by the healthy receiver and its endpoint.
	healthySecret string
	sender        *receivers.Sender
	stream        *stream
	started       time.Time
	ran           time.Duration // set when teardown begins

	logFile  *os.File
	infoPath string // InfoFileName, once written

	mu       sync.Mutex
	running  bool
	stopped  bool
	final    Summary
	finalErr error
}

// New returns a Demo with opts; nothing runs until Start.
func New(opts Options) *Demo {
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.EventsPerSecond <= 0 {
		opts.EventsPerSecond = DefaultEventsPerSecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Demo{opts: opts, log: log}
}

// Start brings everything up and returns once events flow. ctx bounds the
// start and the lives of the services. On error, whatever was started is
// stopped again.
func (d *Demo) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running || d.stopped {
		return errors.New("scenario: demo already started")
	}
	d.running = true
	defer func() {
		if err != nil {
			d.teardown()
		}
	}()
	if err := d.startReceivers(ctx); err != nil {
		return err
	}
	if err := d.startDatabase(ctx); err != nil {
		return err
	}
	if err := d.startServer(ctx); err != nil {
		return err
	}
	if err := d.registerEndpoints(ctx); err != nil {
		return err
	}
	d.stream = newStream(d.server.Publisher, d.opts.EventsPerSecond, d.log)
	if err := d.stream.Start(ctx); err != nil {
		return err
	}
	d.sender, err = receivers.NewSender(receivers.SenderOptions{
		URL: "http://" + d.server.Addr() + "/in/" + SourceName, Secret: d.sourceSecret(), Logger: d.log,
	})
	if err != nil {
		return err
	}
	if err := d.sender.Start(ctx); err != nil {
		return err
	}
	d.started = time.Now()
	return d.writeInfo()
}

// InfoFileName is the file in the data directory that holds hookd's URL,
// the API key and a curl example while the demo runs (the console covers
// the terminal they were printed on). Stop removes it.
const InfoFileName = "demo.txt"

// writeInfo writes InfoFileName, readable by its owner only: it holds the
// API key.
func (d *Demo) writeInfo() error {
	var b strings.Builder
	fmt.Fprintf(&b, "hookd demo, started %s\n\n", d.started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "URL:      %s\n", d.URL())
	fmt.Fprintf(&b, "API key:  %s\n", d.apiKey)
	fmt.Fprintf(&b, "intake:   %s/in/%s (scheme standard)\n\n", d.URL(), SourceName)
	fmt.Fprintf(&b, "curl -H 'Authorization: Bearer %s' '%s/v1/deliveries?state=dead'\n", d.apiKey, d.URL())
	path := filepath.Join(d.dataDir, InfoFileName)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write the demo's %s: %w", InfoFileName, err)
	}
	d.infoPath = path
	return nil
}

// InfoPath returns the path of InfoFileName; valid after Start.
func (d *Demo) InfoPath() string { return d.infoPath }

func (d *Demo) startDatabase(ctx context.Context) error {
	d.dataDir = d.opts.DataDir
	if d.opts.Ephemeral {
		dir, err := os.MkdirTemp("", "hookd-demo-")
		if err != nil {
			return fmt.Errorf("create a temporary directory for --ephemeral: %w", err)
		}
		d.dataDir = dir
	} else if err := os.MkdirAll(d.dataDir, 0o700); err != nil {
		return fmt.Errorf("create the demo's data directory: %w", err)
	}
	abs, err := filepath.Abs(d.dataDir)
	if err != nil {
		return err
	}
	d.dataDir = abs
	if err := d.openLog(); err != nil {
		return err
	}
	if d.cluster, err = startCluster(ctx, d.dataDir, d.log); err != nil {
		return err
	}
	if err := recreateDatabase(ctx, d.cluster.URL("postgres"), app.EmbeddedDatabase); err != nil {
		return err
	}
	if d.apiKey, err = randomKey(); err != nil {
		return err
	}
	d.cfg = Config(d.cluster.URL(app.EmbeddedDatabase), d.opts.Listen, d.apiKey, mustSecret(), d.receiver(ForwardReceiver).URL())
	// The key that encrypts stored secrets lives next to the cluster, as
	// the embedded database's does.
	if d.cfg.Secrets.Key, err = secrets.EnsureKeyFile(filepath.Join(d.dataDir, config.EmbeddedKeyFile)); err != nil {
		return err
	}
	d.db, err = app.OpenDatabase(ctx, d.cfg, d.log)
	return err
}

// startCluster starts the demo's PostgreSQL in dataDir. A server another
// live hookd runs there (a demo, or serve) is left alone: the demo drops
// its database at start, so it refuses instead. A server whose hookd died
// is taken over by pgembed.Start.
func startCluster(ctx context.Context, dataDir string, log *slog.Logger) (*pgembed.Cluster, error) {
	opts := pgembed.Options{DataDir: dataDir, Logger: log}
	if other, err := pgembed.Attach(opts); err == nil && other.OwnerPID() != 0 {
		return nil, &InUseError{&pgembed.InUseError{Pid: other.OwnerPID(), DataDir: dataDir}}
	}
	c, err := pgembed.Start(ctx, opts)
	var inUse *pgembed.InUseError
	if errors.As(err, &inUse) {
		return nil, &InUseError{inUse}
	}
	if err != nil {
		return nil, fmt.Errorf("start the demo's PostgreSQL in %s: %w", dataDir, err)
	}
	return c, nil
}

// InUseError is returned by Start when another hookd runs PostgreSQL in
// the demo's data directory.
type InUseError struct{ *pgembed.InUseError }

func (e *InUseError) Error() string {
	return fmt.Sprintf("another hookd (pid %d) is running the database in %s; stop it, or run the demo with --ephemeral or another --data-dir", e.Pid, e.DataDir)
}

func (e *InUseError) Unwrap() error { return e.InUseError }

// recreateDatabase drops the previous run's database and creates it anew.
func recreateDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the demo's PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{name}.Sanitize()
	for _, sql := range []string{"DROP DATABASE IF EXISTS " + id + " WITH (FORCE)", "CREATE DATABASE " + id} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("reset the demo database: %s: %w", sql, err)
		}
	}
	return nil
}

// Config returns the demo's configuration: the defaults, with the database
// at dbURL, HTTP on listen with apiKey, a short retry schedule, loopback
// allowed through the address guard (the receivers live there), and the
// intake source SourceName (scheme standard) verified with sourceSecret
// and forwarding to forwardTo.
func Config(dbURL, listen, apiKey, sourceSecret, forwardTo string) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.HTTP.Listen = listen
	cfg.HTTP.ShutdownTimeout = 2 * time.Second
	cfg.API.Keys = []string{apiKey}
	cfg.Delivery.RetrySchedule = RetrySchedule
	cfg.Delivery.Timeout = 3 * time.Second
	cfg.Delivery.ShutdownTimeout = 2 * time.Second
	cfg.Delivery.AllowedNetworks = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	}
	cfg.Intake.Sources = []config.Source{{
		Name: SourceName, Scheme: config.SchemeStandard, Secrets: []string{sourceSecret},
		Tolerance: config.DefaultSourceTolerance, ForwardTo: forwardTo,
	}}
	return cfg
}

func (d *Demo) startServer(ctx context.Context) error {
	var err error
	if d.server, err = app.NewServer(d.cfg, d.db, d.log); err != nil {
		return err
	}
	return d.server.Start(ctx)
}

func (d *Demo) sourceSecret() string { return d.cfg.Intake.Sources[0].Secrets[0] }

// Stop stops everything Start started, in reverse order, PostgreSQL
// included, records the final summary (see Final) and removes an
// ephemeral data directory. Safe to call twice and before Start.
func (d *Demo) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.stopped = true
	if d.running {
		d.teardown()
	}
}

// teardown stops what is running; d.mu is held.
func (d *Demo) teardown() {
	if !d.started.IsZero() {
		d.ran = time.Since(d.started)
	}
	// Producers first, then hookd (which flushes its counters), then read
	// the summary while the database still runs.
	if d.sender != nil {
		d.sender.Stop()
	}
	if d.stream != nil {
		d.stream.Stop()
	}
	if d.server != nil {
		d.server.Stop()
	}
	if d.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d.final, d.finalErr = d.summary(ctx)
		cancel()
		d.db.Close()
	}
	for _, r := range d.receivers {
		r.Stop()
	}
	if d.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		if err := d.cluster.Stop(ctx); err != nil {
			d.log.Error("demo: stop PostgreSQL", slog.String("error", err.Error()))
		}
		cancel()
	}
	if d.logFile != nil {
		_ = d.logFile.Close()
	}
	if d.infoPath != "" {
		_ = os.Remove(d.infoPath) // its key and URL are gone with the demo
	}
	if d.opts.Ephemeral && d.dataDir != "" {
		if err := os.RemoveAll(d.dataDir); err != nil {
			d.log.Error("demo: remove the temporary directory", slog.String("error", err.Error()))
		}
	}
}

// Config returns the configuration hookd runs with; valid after Start.
func (d *Demo) Config() *config.Config { return d.cfg }

// Logger returns the logger hookd runs with.
func (d *Demo) Logger() *slog.Logger { return d.log }

// Database returns hookd's database; valid after Start.
func (d *Demo) Database() *app.Database { return d.db }

// Server returns the running hookd; valid after Start.
func (d *Demo) Server() *app.Server { return d.server }

// URL returns hookd's base URL, http://127.0.0.1:port; valid after Start.
func (d *Demo) URL() string { return "http://" + d.server.Addr() }

// APIKey returns the bearer key the demo's API accepts.
func (d *Demo) APIKey() string { return d.apiKey }

// DataDir returns the absolute directory of the demo's PostgreSQL.
func (d *Demo) DataDir() string { return d.dataDir }

// Receivers returns the demo's receivers.
func (d *Demo) Receivers() []*receivers.Receiver { return d.receivers }

// Elapsed returns how long the demo has run since Start returned.
func (d *Demo) Elapsed() time.Duration { return time.Since(d.started) }

// Final returns the summary recorded by Stop.
func (d *Demo) Final() (Summary, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		return Summary{}, errors.New("scenario: Final is only available after Stop")
	}
	return d.final, d.finalErr
}

// openLog points d.log at LogFileName in the data directory when asked to.
func (d *Demo) openLog() error {
	if d.opts.Logger != nil || !d.opts.LogFile {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(d.dataDir, LogFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the demo's log file: %w", err)
	}
	d.logFile = f
	d.log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: d.opts.LogLevel}))
	return nil
}

// LogPath returns the log file's path, or "" when hookd does not log to
// a file.
func (d *Demo) LogPath() string {
	if d.logFile == nil {
		return ""
	}
	return d.logFile.Name()
}

func randomKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "demo_" + hex.EncodeToString(b), nil
}

func mustSecret() string {
	s, err := signing.GenerateSecret()
	if err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return s
}
