package bench

import "time"

// Report holds one run's figures; every field is in the JSON output.
type Report struct {
	Machine Machine `json:"machine"`
	// Ceiling is measured as the baseline measures it; CeilingHookd the
	// same with hookd's full header set.
	Ceiling      Ceiling `json:"ceiling"`
	CeilingHookd Ceiling `json:"ceiling_hookd_headers"`
	// Small is the run with the live endpoints alone; Scale, when asked
	// for, the same with the quiet endpoints added.
	Small     Leg        `json:"small"`
	Scale     *Leg       `json:"scale,omitempty"`
	Sustained *Sustained `json:"sustained,omitempty"`
	Latency   []Steady   `json:"latency,omitempty"`
	Fairness  *Fairness  `json:"fairness,omitempty"`
	Ratios    []Ratio    `json:"ratios"`
	// CPUMethod says how the CPU split was measured.
	CPUMethod string `json:"cpu_method"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs              int    `json:"cpus"`
	GoVersion         string `json:"go"`
	LoadBefore        string `json:"load_before"` // /proc/loadavg, when available
	LoadAfter         string `json:"load_after"`
	PostgreSQL        string `json:"postgresql"`
	OwnServer         bool   `json:"own_server"`
	SynchronousCommit string `json:"synchronous_commit"`
	Fsync             string `json:"fsync"`
	Statements        bool   `json:"pg_stat_statements"`
	WALIOTiming       string `json:"track_wal_io_timing"`
	// History is Options.History; Partitions the events table's partitions
	// the phases ran with (each history table has as many).
	History    Duration `json:"history"`
	Partitions int      `json:"partitions"`
	// WALReady is how many WAL segments ahead of the current one the
	// bench's own server had ready for reuse before the phases (see
	// Options.WALSegments); 0 on a configured database.
	WALReady int       `json:"wal_segments_ready"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	// Noise is the share of the machine (all CPUs) that other processes
	// used during the measured phases, in %.
	Noise float64 `json:"noise_pct"`
}

// Ceiling is signed POSTs to the receiver with no database at all.
type Ceiling struct {
	Headers     string  `json:"headers"`
	Requests    int     `json:"requests"`
	Concurrency int     `json:"concurrency"`
	IdleConns   int     `json:"idle_conns_per_host"`
	Received    int64   `json:"received"`
	Errors      int64   `json:"errors"`
	PerSec      float64 `json:"req_per_s"`
	RTT         Dist    `json:"rtt"`
	CPU         CPU     `json:"cpu"`
}

// Leg is one set of endpoints and the phases run on it.
type Leg struct {
	LiveEndpoints  int `json:"live_endpoints"`
	QuietEndpoints int `json:"quiet_endpoints"`
	Tenants        int `json:"tenants"`
	// Setup says how the endpoints were made and how long it took.
	Setup     string    `json:"setup"`
	SetupTime Duration  `json:"setup_time"`
	IdleClaim IdleClaim `json:"idle_claim"`
	Burndown  Burndown  `json:"burndown"`
	HTTPBatch HTTPBatch `json:"http_batch"`
	Single    Publish   `json:"single_publish"`
}

// IdleClaim is what claiming costs the database with nothing due.
type IdleClaim struct {
	Window Duration `json:"window"`
	// Calls and MeanMS are pg_stat_statements' figures for the claim's
	// lane statement during the window; -1 when unavailable.
	Calls  int64   `json:"claim_calls"`
	MeanMS float64 `json:"claim_mean_ms"`
	// ExplainMS is the execution time EXPLAIN ANALYZE gives for the same
	// statement; -1 when unavailable.
	ExplainMS float64 `json:"explain_analyze_ms"`
	// DBMSPerSec is all statements' execution time per second of the
	// window: what an idle hookd costs the database.
	DBMSPerSec float64 `json:"db_ms_per_s"`
	Query      string  `json:"query,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// Publish is a publishing figure.
type Publish struct {
	Events      int     `json:"events"`
	PerCall     int     `json:"events_per_call"`
	Concurrency int     `json:"concurrency"`
	PerSec      float64 `json:"events_per_s"`
	Cost        *Cost   `json:"cost,omitempty"`
}

// HTTPBatch is publishing through POST /v1/events/batch.
type HTTPBatch struct {
	Publish
	// Available is false when the API has no such route; Note says why
	// nothing was measured.
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
}

// Burndown is the end-to-end throughput of pre-published events.
type Burndown struct {
	Workers int `json:"workers"`
	// Publish is the publishing step (PublishBatch).
	Publish Publish `json:"publish"`
	Events  int     `json:"events"`
	// PerSec counts receipts from dispatcher start to the last receipt.
	PerSec float64 `json:"deliveries_per_s"`
	// RecordedPerSec counts until every delivery was recorded succeeded.
	RecordedPerSec float64 `json:"recorded_per_s"`
	Received       int64   `json:"received"`
	Duplicates     int64   `json:"duplicates"`
	Rejected       int64   `json:"rejected"`
	// CPUBound is the machine's CPUs over the CPU time (hookd, PostgreSQL,
	// receiver) the delivering step spent per delivery: the rate it could
	// reach on a machine of its own if CPU were all that bounds it; 0 when
	// PostgreSQL's CPU is unknown. Unlike PerSec it discounts what other
	// processes took.
	CPUBound float64 `json:"cpu_bound_deliveries_per_s"`
	// Cost is the delivering step's; Total adds the publishing step, as
	// the baseline's burn-down includes inserting its jobs.
	Cost  Cost `json:"cost"`
	Total Cost `json:"cost_with_publish"`
}

// Steady is a fixed offered rate with publish-to-receipt latency.
type Steady struct {
	OfferedPerSec float64  `json:"offered_per_s"`
	Duration      Duration `json:"duration"`
	// Warmup was offered at the same rate first and is not counted;
	// WarmupLatency is its publish-to-receipt latency.
	Warmup        Duration `json:"warmup,omitempty"`
	WarmupLatency *Dist    `json:"warmup_publish_to_receipt,omitempty"`
	Published     int      `json:"published"`
	// Dropped counts offered events the publishers could not take in time.
	Dropped  int     `json:"dropped"`
	Received int64   `json:"received"`
	Missing  int     `json:"missing"`
	PerSec   float64 `json:"delivered_per_s"`
	Latency  Dist    `json:"publish_to_receipt"`
	Commit   Dist    `json:"publish_call"`
	// AfterCommit is from the PublishBatch call's return to receipt:
	// hookd's part of the latency, without the producer's commit.
	AfterCommit Dist `json:"commit_to_receipt"`
	// AfterCommit's parts, for deliveries whose attempt the dispatcher
	// reported: until the claim that took the delivery returned (noticing
	// the work, claiming, committing), from there to the request's start
	// (handing the job to a worker, signing), and the request until the
	// receiver had it.
	ToClaim        Dist `json:"commit_to_claim"`
	ClaimToRequest Dist `json:"claim_to_request"`
	Request        Dist `json:"request_to_receipt"`
	// LongestStall is the longest time nothing was received while a
	// committed event waited (see longestStall): near the poll interval, a
	// missed wake-up; a few milliseconds, a dispatcher delivering all along.
	LongestStall time.Duration `json:"longest_stall_ns"`
	Cost         Cost          `json:"cost"`
}

// Sustained is the highest rate held with the backlog flat.
type Sustained struct {
	ProbeLength Duration `json:"probe_length"`
	Probes      []Probe  `json:"probes"`
	// FailedHolds are holds at rates the probes found that did not last
	// the whole hold; each next one was tried at holdStep of the last.
	FailedHolds []Probe `json:"failed_holds,omitempty"`
	Hold        Steady  `json:"hold"`
	// Backlog is published less received, at the hold's start and end and
	// its largest; Slope is its least-squares growth in deliveries/s.
	BacklogStart int64   `json:"backlog_start"`
	BacklogEnd   int64   `json:"backlog_end"`
	BacklogMax   int64   `json:"backlog_max"`
	Slope        float64 `json:"backlog_slope_per_s"`
	Held         bool    `json:"held"`
}

// Probe is one step of the search for the sustained rate.
type Probe struct {
	Offered float64 `json:"offered_per_s"`
	Slope   float64 `json:"backlog_slope_per_s"`
	Dropped int     `json:"dropped"`
	End     int64   `json:"backlog_end"`
	Held    bool    `json:"held"`
}

// Fairness is one slow endpoint's backlog next to steady traffic to others.
type Fairness struct {
	SlowDelay     Duration `json:"slow_delay"`
	SlowBacklog   int      `json:"slow_backlog"`
	SlowCap       int      `json:"slow_max_in_flight"`
	SlowDelivered int64    `json:"slow_delivered"`
	SlowLeft      int64    `json:"slow_left"`
	Others        int      `json:"others"`
	OthersOffered float64  `json:"others_offered_per_s"`
	Duration      Duration `json:"duration"`
	OthersSent    int      `json:"others_published"`
	OthersMissing int      `json:"others_missing"`
	OthersLatency Dist     `json:"others_publish_to_receipt"`
}

// Ratio is one figure over another, with what each is.
type Ratio struct {
	Name  string  `json:"name"`
	Of    string  `json:"of"`
	Over  string  `json:"over"`
	Value float64 `json:"value"`
}

// Cost is what one phase cost, measured around it.
type Cost struct {
	// Per is what the per-unit figures divide by: deliveries or events.
	Per   string `json:"per"`
	Units int64  `json:"units"`
	DB    DBUse  `json:"db"`
	CPU   CPU    `json:"cpu"`
}

// DBUse is PostgreSQL's own account of its work during a phase.
type DBUse struct {
	// WriteXacts is how many transaction ids were assigned.
	WriteXacts int64   `json:"write_xacts"`
	WALBytes   int64   `json:"wal_bytes"`
	WALSyncs   int64   `json:"wal_syncs"`
	WALSyncMS  float64 `json:"wal_sync_ms"`
	WALWrites  int64   `json:"wal_writes"`
	// Tables are row counts per hookd table (partitions summed).
	Tables      map[string]TableUse `json:"tables"`
	Statements  []Statement         `json:"top_statements,omitempty"`
	Waits       map[string]float64  `json:"active_backend_waits,omitempty"` // share of samples
	AvgActive   float64             `json:"avg_active_backends"`
	WaitSamples int                 `json:"wait_samples"`
}

// TableUse is a table's row changes and reads (pg_stat_user_tables).
type TableUse struct {
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	HOT      int64 `json:"hot_updated"`
	Deleted  int64 `json:"deleted"`
	// Read counts the rows fetched from the table, by index or by scan
	// (idx_tup_fetch + seq_tup_read): a statement that reads more rows
	// than it takes shows here first.
	Read int64 `json:"read"`
}

// Statement is one pg_stat_statements entry.
type Statement struct {
	Calls   int64   `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	Rows    int64   `json:"rows"`
	// Does names the hookd tables it writes (or reads), for short.
	Does  string `json:"does,omitempty"`
	Query string `json:"query"`
}

// CPU is the CPU time used during a phase, in seconds.
type CPU struct {
	Wall        float64 `json:"wall_s"`
	MachineBusy float64 `json:"machine_busy_pct"`
	Bench       float64 `json:"bench_process_s"`
	PostgreSQL  float64 `json:"postgresql_s"` // -1 when the server is not on this machine
	Other       float64 `json:"other_processes_s"`
	// Split divides Bench among hookd, the receiver, the load generator
	// and the Go runtime, by CPU profile samples.
	Split map[string]float64 `json:"bench_split_s,omitempty"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }
