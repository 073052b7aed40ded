package stream

import (
	"math"
	"time"
)

// Histogram records durations in log-spaced buckets (1 % wide, from 100 ns
// to 100 s) so that percentiles of per-block processing time can be kept on
// the real-time path without allocating or sorting.
//
// Record is allocation-free; a Histogram is used by one goroutine, and read
// (Quantile, Max) after the run or from the same goroutine.
type Histogram struct {
	counts []uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
	min    time.Duration
}

const (
	histMin    = 100 * time.Nanosecond
	histGrowth = 1.01
)

var histLogGrowth = math.Log(histGrowth)

// NewHistogram allocates an empty histogram.
func NewHistogram() *Histogram {
	// buckets up to 100 s: log(1e9)/log(1.01) ≈ 2083
	n := int(math.Ceil(math.Log(float64(100*time.Second)/float64(histMin))/histLogGrowth)) + 2
	return &Histogram{counts: make([]uint64, n)}
}

func (h *Histogram) bucket(d time.Duration) int {
	if d <= histMin {
		return 0
	}
	b := int(math.Log(float64(d)/float64(histMin))/histLogGrowth) + 1
	if b >= len(h.counts) {
		b = len(h.counts) - 1
	}
	return b
}

// upper is the upper edge of bucket b.
func (h *Histogram) upper(b int) time.Duration {
	return time.Duration(float64(histMin) * math.Pow(histGrowth, float64(b)))
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	h.counts[h.bucket(d)]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

// Reset forgets all observations.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.n, h.sum, h.max, h.min = 0, 0, 0, 0
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest observation (exact).
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the mean observation (exact).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) within 1 %: the upper edge of
// the bucket holding the ⌈q·n⌉-th observation, clamped to [Min, Max].
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			v := h.upper(b)
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return v
		}
	}
	return h.max
}

// Each calls fn for every non-empty bucket, in increasing order, with the
// bucket's upper edge and its count (for plotting).
func (h *Histogram) Each(fn func(upper time.Duration, count uint64)) {
	for b, c := range h.counts {
		if c > 0 {
			fn(h.upper(b), c)
		}
	}
}
