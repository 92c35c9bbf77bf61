package bench

import (
	"math"
	"slices"
	"time"
)

// Dist summarises latencies.
type Dist struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// distOf summarises ds by nearest rank; zero entries (samples that never
// came) are left out.
func distOf(ds []time.Duration) Dist {
	s := make([]time.Duration, 0, len(ds))
	for _, d := range ds {
		if d > 0 {
			s = append(s, d)
		}
	}
	if len(s) == 0 {
		return Dist{}
	}
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Dist{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
