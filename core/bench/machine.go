package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the machine's cumulative busy and total jiffies.
type cpuSample struct{ busy, total uint64 }

// sampleCPU reads /proc/stat; ok is false where it does not exist.
func sampleCPU() (cpuSample, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuSample{}, false
	}
	var s cpuSample
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i != 3 && i != 4 { // idle and iowait
			s.busy += n
		}
	}
	return s, true
}

// busySince returns the machine's busy share since s, in percent.
func busySince(s cpuSample) float64 {
	now, ok := sampleCPU()
	if !ok || now.total <= s.total {
		return -1
	}
	return 100 * float64(now.busy-s.busy) / float64(now.total-s.total)
}

// waitQuiet waits up to limit for a second in which the machine is less
// than 20% busy, so phases start on a machine as quiet as it gets; it
// returns how long it waited.
func waitQuiet(ctx context.Context, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit && ctx.Err() == nil {
		s, ok := sampleCPU()
		if !ok {
			break
		}
		time.Sleep(time.Second)
		if b := busySince(s); b >= 0 && b < 20 {
			break
		}
	}
	return time.Since(start).Round(time.Second)
}
