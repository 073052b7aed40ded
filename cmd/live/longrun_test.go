package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/livesep/livesep/internal/bsseval"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
	"github.com/livesep/livesep/stream/wav"
)

// loopSource plays a mixture over and over (a static scene) without storing
// the long signal.
type loopSource struct {
	x      [][]float32
	pos    int64
	frames int64
	spec   stream.Spec
}

func (s *loopSource) Spec() stream.Spec { return s.spec }
func (s *loopSource) ReadFrames(dst [][]float32) (int, error) {
	n := int(min(int64(len(dst[0])), s.frames-s.pos))
	L := int64(len(s.x[0]))
	for i := 0; i < n; i++ {
		k := (s.pos + int64(i)) % L
		for c := range dst {
			dst[c][i] = s.x[c][k]
		}
	}
	s.pos += int64(n)
	if s.pos == s.frames {
		return n, io.EOF
	}
	return n, nil
}

// windowSink keeps two spans of the output (for scoring) and checks every
// sample is finite. If the heap allocation count moved between its first
// write and its last (total frames), it takes a memory-profile snapshot at
// the last, to trace them (forcing a GC only then: a GC may itself start a
// thread, which allocates).
type windowSink struct {
	spans     [2][2]int64 // [from, to) frames
	kept      [2][][]float32
	pos       int64
	total     int64
	nonFinite int64
	allocs    []metrics.Sample
	first     uint64
	end       allocProfile
}

func (s *windowSink) WriteFrames(src [][]float32) (int, error) {
	n := len(src[0])
	if s.pos == 0 {
		metrics.Read(s.allocs)
		s.first = s.allocs[0].Value.Uint64()
	}
	defer func() {
		if s.pos == s.total {
			if metrics.Read(s.allocs); s.allocs[0].Value.Uint64() != s.first {
				s.end.take()
			}
		}
	}()
	for c := range src {
		for _, v := range src[c] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				s.nonFinite++
			}
		}
	}
	for w, sp := range s.spans {
		for i := 0; i < n; i++ {
			if f := s.pos + int64(i); f >= sp[0] && f < sp[1] {
				for c := range src {
					s.kept[w][c] = append(s.kept[w][c], src[c][i])
				}
			}
		}
	}
	s.pos += int64(n)
	return n, nil
}
func (s *windowSink) Close() error { return nil }

// profiledProcessor takes a memory-profile snapshot at its first Process
// call, just before the steady state the run report measures (it starts
// after the first block).
type profiledProcessor struct {
	stream.Processor
	started bool
	start   *allocProfile
}

func (p *profiledProcessor) Process(dst, src [][]float32) {
	if !p.started {
		p.started = true
		p.start.take()
	}
	p.Processor.Process(dst, src)
}

// allocProfile is a snapshot of the memory profile, taken into records
// allocated beforehand so that taking it allocates nothing.
type allocProfile struct {
	recs []runtime.MemProfileRecord
	n    int // records filled; -1 if recs was too small
}

// take flushes the profile (it lags up to two GC cycles) and copies it.
func (p *allocProfile) take() {
	runtime.GC()
	runtime.GC()
	n, ok := runtime.MemProfile(p.recs, true)
	if !ok {
		n = -1
	}
	p.n = n
}

// allocationsBetween lists the call stacks that allocated between the
// snapshots a and b (memory profile rate 1: every allocation is
// recorded), each with its count, and whether any of them runs through
// livesep's own code. A steady-state allocation reported by the runtime
// metrics may come from the Go runtime itself: over an hour the scheduler
// may start an OS thread (runtime.allocm), which no Go code can prevent.
func allocationsBetween(a, b *allocProfile) (stacks []string, ours bool, err error) {
	if a.n < 0 || b.n < 0 {
		return nil, false, errors.New("memory profile larger than the records set aside")
	}
	key := func(r *runtime.MemProfileRecord) string { return fmt.Sprint(r.Stack()) }
	before := map[string]int64{}
	for i := range a.recs[:a.n] {
		before[key(&a.recs[i])] = a.recs[i].AllocObjects
	}
	for i := range b.recs[:b.n] {
		r := &b.recs[i]
		d := r.AllocObjects - before[key(r)]
		if d <= 0 {
			continue
		}
		var fns []string
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			fns = append(fns, f.Function)
			if strings.HasPrefix(f.Function, "github.com/livesep/livesep/") {
				ours = true
			}
			if !more {
				break
			}
		}
		stacks = append(stacks, fmt.Sprintf("%d × %s", d, strings.Join(fns, " ← ")))
	}
	return stacks, ours, nil
}

// Issue #7, long runs: a static scene looped for LIVESEP_LONGRUN (default
// 2 minutes; the 1-hour run is LIVESEP_LONGRUN=1h) through the file
// pipeline with the default separator: the heap does not grow, no NaN/Inf
// ever comes out, and the demixing stays converged — SIR over the last span
// within 1 dB of SIR over an early span (minute 2 vs the last minute for
// runs of 4 minutes or more; a quarter of the run otherwise). The steady
// state allocates nothing: with the memory profile recording every
// allocation, any the runtime metrics count are traced to their call
// stacks, and the test fails if one runs through livesep's code. Over an
// hour the Go scheduler sometimes starts an OS thread (runtime.allocm,
// from a goroutine preemption), which no program code can prevent: those
// are logged with their stacks, not failed.
func TestLongRun(t *testing.T) {
	if streamtest.RaceEnabled || testing.Short() {
		t.Skip("minutes of audio through IVA: run without -race and -short")
	}
	dur := 2 * time.Minute
	if v := os.Getenv("LIVESEP_LONGRUN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LIVESEP_LONGRUN=%q: %v", v, err)
		}
		dur = d
	}
	dir := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim030_2x2")
	_, mix, err := wav.ReadFile(filepath.Join(dir, "mix.wav"))
	if err != nil {
		t.Fatal(err)
	}
	var refs [][]float32
	for _, r := range []string{"ref0.wav", "ref1.wav"} {
		_, x, err := wav.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, x[0])
	}
	const rate = 16000
	total := int64(dur.Seconds() * rate)
	span := int64(min(60*rate, total/4))
	span -= span % int64(len(mix[0])) // whole loops, so the references line up
	if span == 0 {
		span = int64(len(mix[0]))
	}
	early := [2]int64{min(60*rate, total/4), min(60*rate, total/4) + span}
	late := [2]int64{total - span, total}

	o := separateOptions{in: "loop", method: "iva", update: "aux", latency: "normal", format: "float32"}
	proc, _, err := o.buildProcessor(2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := o.stftConfig()
	src := &loopSource{x: mix, frames: total, spec: stream.Spec{Rate: rate, Channels: 2, MaxFrames: cfg.Hop}}
	sink := &windowSink{spans: [2][2]int64{early, late}, total: total}
	for w, sp := range sink.spans { // preallocated: the sink must not allocate during the run
		sink.kept[w] = [][]float32{make([]float32, 0, sp[1]-sp[0]), make([]float32, 0, sp[1]-sp[0])}
	}
	// Every allocation goes into the memory profile, so that one in the
	// steady state can be traced to the code that made it.
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	first := &allocProfile{recs: make([]runtime.MemProfileRecord, 1<<14)}
	sink.end.recs = make([]runtime.MemProfileRecord, 1<<14)
	sink.allocs = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(sink.allocs)
	proc = &profiledProcessor{Processor: proc, start: first}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	rep, err := stream.RunFile(context.Background(), src, sink, proc, stream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	// The spans kept for scoring were allocated before the first reading.
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)

	if sink.nonFinite != 0 {
		t.Errorf("%d non-finite output samples", sink.nonFinite)
	}
	sir := func(w int) float64 {
		sp := sink.spans[w]
		r := make([][]float64, 2)
		e := make([][]float64, 2)
		L := int64(len(refs[0]))
		for j := range r {
			r[j] = make([]float64, 0, sp[1]-sp[0])
			for f := sp[0]; f < sp[1]; f++ {
				r[j] = append(r[j], float64(refs[j][f%L]))
			}
			e[j] = f64(sink.kept[w][j])
		}
		res, err := bsseval.Sources(r, e)
		if err != nil {
			t.Fatal(err)
		}
		return (res.SIR[0] + res.SIR[1]) / 2
	}
	sEarly, sLate := sir(0), sir(1)
	forced := ""
	if sink.end.n != 0 {
		forced = " (2 of them forced at the end, to trace the allocations)"
	}
	t.Logf("%v of audio in %v (RTF %.4f): heap %d → %d bytes (growth %+d), %d allocations and %d GC cycles%s in steady state; SIR %.2f dB over [%ds,%ds) vs %.2f dB over the last %ds",
		dur, wall.Round(time.Millisecond), rep.RealTimeFactor, before.HeapAlloc, after.HeapAlloc, growth,
		rep.Runtime.HeapAllocObjects, rep.Runtime.GCCycles, forced, sEarly, early[0]/rate, early[1]/rate, sLate, span/rate)
	if growth > 1<<20 {
		t.Errorf("heap grew by %d bytes over the run", growth)
	}
	if rep.Runtime.HeapAllocObjects != 0 {
		// Who allocated? livesep's real-time path must not; the Go runtime
		// starting a thread is not the pipeline's doing.
		stacks, ours, err := allocationsBetween(first, &sink.end)
		switch {
		case err != nil:
			t.Errorf("%d heap allocations during the steady-state run, not traced (%v)", rep.Runtime.HeapAllocObjects, err)
		case ours || len(stacks) == 0:
			t.Errorf("%d heap allocations during the steady-state run; want 0. Allocating stacks:\n%s",
				rep.Runtime.HeapAllocObjects, strings.Join(stacks, "\n"))
		default:
			t.Logf("%d heap allocation(s) in the steady state, all by the Go runtime itself, none by livesep:\n%s",
				rep.Runtime.HeapAllocObjects, strings.Join(stacks, "\n"))
		}
	}
	if sLate < sEarly-1 {
		t.Errorf("SIR drifted: %.2f dB late vs %.2f dB early", sLate, sEarly)
	}
}
