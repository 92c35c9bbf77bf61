package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

// Parts of the bench process, as goroutine labels: every goroutine the
// dispatcher, the API or the receiver starts inherits its part's label, so
// a CPU profile tells their work apart.
const (
	partLabel    = "bench_part"
	partHookd    = "hookd"
	partReceiver = "receiver"
	partLoad     = "load"    // publishers, ceiling senders, the bench itself
	partRuntime  = "runtime" // unlabelled samples: GC, scheduler
)

// cpuMethod is how the report's CPU split is made.
const cpuMethod = "PostgreSQL: /proc stat of the postmaster and its children; " +
	"bench process: getrusage, split by the share of CPU profile samples carrying " +
	"each part's goroutine label: hookd (dispatcher, API, their HTTP client), " +
	"receiver (its HTTP server), load (the bench's publishers and ceiling senders), " +
	"runtime (GC and scheduler work no label covers); " +
	"other processes: the machine's busy time (/proc/stat) less both"

// withPart runs fn with ctx and the goroutine labelled part; goroutines
// fn starts inherit the label.
func withPart(ctx context.Context, part string, fn func(ctx context.Context)) {
	pprof.Do(ctx, pprof.Labels(partLabel, part), fn)
}

// machineCPU reads /proc/stat's aggregate line: busy and total jiffies.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

// selfCPU is this process's user and system time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procStat returns the fields of /proc/pid/stat after the command name:
// [1] is the parent pid, [11] utime, [12] stime, [13] cutime, [14] cstime.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func field(f []string, i int) int64 {
	if i >= len(f) {
		return 0
	}
	n, _ := strconv.ParseInt(f[i], 10, 64)
	return n
}

// serverCPU is the CPU time in seconds of postmaster and every process it
// started: the live children's own time plus what exited children left in
// the postmaster's cutime and cstime. It is -1 without a postmaster here.
func serverCPU(postmaster int) float64 {
	if postmaster <= 0 {
		return -1
	}
	f := procStat(postmaster)
	if f == nil {
		return -1
	}
	ticks := field(f, 11) + field(f, 12) + field(f, 13) + field(f, 14)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		if c := procStat(pid); field(c, 1) == int64(postmaster) {
			ticks += field(c, 11) + field(c, 12)
		}
	}
	return float64(ticks) / 100 // USER_HZ
}

// cpuMeter measures CPU use over one phase; the profile splits the bench
// process among its parts. Only one meter may profile at a time.
type cpuMeter struct {
	postmaster    int
	busy0, total0 int64
	self0, pg0    float64
	wall0         time.Time
	prof          bytes.Buffer
	profiling     bool
}

func startCPU(postmaster int, profileIt bool) *cpuMeter {
	m := &cpuMeter{postmaster: postmaster, wall0: time.Now()}
	m.busy0, m.total0 = machineCPU()
	m.self0 = selfCPU()
	m.pg0 = serverCPU(postmaster)
	if profileIt {
		m.profiling = pprof.StartCPUProfile(&m.prof) == nil
	}
	return m
}

// stop ends the measurement; the raw profile, if one was taken, is
// returned too.
func (m *cpuMeter) stop() (CPU, []byte) {
	if m.profiling {
		pprof.StopCPUProfile()
	}
	busy, total := machineCPU()
	u := CPU{Wall: time.Since(m.wall0).Seconds(), Bench: selfCPU() - m.self0, PostgreSQL: -1}
	if pg := serverCPU(m.postmaster); pg >= 0 && m.pg0 >= 0 {
		u.PostgreSQL = pg - m.pg0
	}
	if dt := total - m.total0; dt > 0 {
		u.MachineBusy = 100 * float64(busy-m.busy0) / float64(dt)
		u.Other = max(0, float64(busy-m.busy0)/100-u.Bench-max(u.PostgreSQL, 0))
	}
	if m.profiling {
		u.Split = splitByPart(m.prof.Bytes(), u.Bench)
	}
	return u, m.prof.Bytes()
}

// splitByPart divides total seconds among the parts in proportion to the
// CPU time of the profile's samples carrying each part's label.
func splitByPart(raw []byte, total float64) map[string]float64 {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil || len(p.SampleType) == 0 {
		return nil
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	byPart := map[string]int64{}
	var sum int64
	for _, s := range p.Sample {
		part := partRuntime
		if v := s.Label[partLabel]; len(v) > 0 {
			part = v[0]
		}
		byPart[part] += s.Value[vi]
		sum += s.Value[vi]
	}
	if sum == 0 {
		return nil
	}
	out := map[string]float64{}
	for k, v := range byPart {
		out[k] = total * float64(v) / float64(sum)
	}
	return out
}

// waitQuiet waits up to limit for a second in which the machine is less
// than 15% busy, so that a phase does not start on top of other load; it
// returns how long it waited and the last second's busy share.
func waitQuiet(ctx context.Context, limit time.Duration) (time.Duration, float64) {
	start := time.Now()
	var busy float64
	for time.Since(start) < limit && ctx.Err() == nil {
		b0, t0 := machineCPU()
		sleepCtx(ctx, time.Second)
		b1, t1 := machineCPU()
		if t1 <= t0 {
			break
		}
		if busy = 100 * float64(b1-b0) / float64(t1-t0); busy < 15 {
			break
		}
	}
	return time.Since(start), busy
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
