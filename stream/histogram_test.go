package stream

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The histogram's quantiles agree with exact order statistics within its
// 1 % bucket width.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	h := NewHistogram()
	var all []time.Duration
	for range 100000 {
		d := time.Duration(math.Exp(rng.NormFloat64()*1.5+10)) * time.Nanosecond // ~22 µs log-normal
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.011 {
			t.Errorf("q=%v: got %v, exact %v (%.2f%% off)", q, got, exact, 100*rel)
		}
	}
	if h.Max() != all[len(all)-1] {
		t.Errorf("Max = %v, want %v", h.Max(), all[len(all)-1])
	}
	if h.Count() != uint64(len(all)) {
		t.Errorf("Count = %d", h.Count())
	}
}

func TestHistogramEdges(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram should report 0")
	}
	h.Record(0)
	h.Record(time.Hour) // beyond the last bucket: clamped, Max exact
	if h.Max() != time.Hour {
		t.Errorf("Max = %v", h.Max())
	}
	if q := h.Quantile(0); q != 0 {
		t.Errorf("Quantile(0) = %v, want 0", q)
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := NewHistogram()
	if n := testing.AllocsPerRun(1000, func() { h.Record(1234 * time.Nanosecond) }); n != 0 {
		t.Fatalf("Record allocated %v times", n)
	}
}

func TestRate(t *testing.T) {
	r := Rate(16000)
	if d := r.D(256); d != 16*time.Millisecond {
		t.Errorf("D(256) = %v", d)
	}
	if n := r.N(time.Second); n != 16000 {
		t.Errorf("N(1s) = %d", n)
	}
}
