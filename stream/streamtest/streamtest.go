// Package streamtest checks that a stream.Processor keeps the real-time
// contract, the way testing/fstest checks an fs.FS: every processor's tests
// call CheckProcessor.
//
// # What is checked
//
//   - blocks of random length, 0 and MaxFrames included, give the same output
//     as blocks of MaxFrames (the block partition must not matter);
//   - no retention: src and dst are overwritten with NaN after every call and
//     the output must not change;
//   - Reset forgets everything, and twice is the same as once;
//   - Latency() is exact: perturbing input frame k first changes output frame
//     k+Latency(), never earlier — with any block sizes, and again with
//     Spec.FixedBlock (exactly MaxFrames per call, as the Engine drives it).
//     For signal-dependent spectral masks (Options.MaskReach) the first
//     change may come up to MaskReach frames earlier, but the largest change
//     must be at exactly k+Latency();
//   - NaN/Inf input never reaches the output, and is reported by Err until
//     Reset;
//   - Process allocates nothing (skipped under -race).
//
// # Real-time contract, concurrency, latency
//
// Not applicable: this is test code, run on the test goroutine.
package streamtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/livesep/livesep/stream"
)

// Options loosen or extend CheckProcessor where a processor's nature needs it.
type Options struct {
	// Frames is the length of the test signal; 0 means max(16000, 40 blocks).
	Frames int
	// Tolerance is the largest difference allowed between two runs that
	// must agree (block partition, retention, Reset). 0 means exact.
	Tolerance float64
	// Signal, if set, makes the test input (channels × frames); by default
	// seeded Laplacian noise at about −20 dBFS.
	Signal func(channels, frames int) [][]float32
	// MaskReach is for processors that multiply each STFT spectrum by a mask
	// computed from that same spectrum (dictionary or Wiener-style
	// post-filters): 0, the default, keeps the exact latency check. Such a
	// mask is not a fixed linear filter: when input frame k changes, the mask
	// of every spectrum whose window holds frame k changes too, and it scales
	// that spectrum's whole synthesis window, so output frames up to N−1
	// before k+Latency() (N the synthesis window length) change as well. They
	// are not yet played, so the processor stays causal and its latency
	// stays Latency(); only the impulse response reaches further back than a
	// per-bin linear filter's. With MaskReach = N−1 the latency checks accept
	// a first change from k+Latency()−MaskReach on, and require instead that
	// the largest change is at exactly k+Latency() (where the perturbed
	// sample itself arrives). Linear processors must leave it 0.
	MaskReach int
}

// CheckProcessor runs the contract checks on p with spec.
func CheckProcessor(t *testing.T, p stream.Processor, spec stream.Spec, opt Options) {
	t.Helper()
	out, err := p.Prepare(spec)
	if err != nil {
		t.Fatalf("Prepare(%+v): %v", spec, err)
	}
	if out <= 0 {
		t.Fatalf("Prepare returned %d output channels", out)
	}
	if opt.MaskReach < 0 {
		t.Fatalf("Options.MaskReach = %d is negative", opt.MaskReach)
	}
	frames := opt.Frames
	if frames == 0 {
		frames = max(16000, 40*spec.MaxFrames)
	}
	var x [][]float32
	if opt.Signal != nil {
		x = opt.Signal(spec.Channels, frames)
	} else {
		x = Noise(spec.Channels, frames, 1)
	}
	h := &harness{p: p, spec: spec, out: out}

	p.Reset()
	ref := h.run(x, fixedBlocks(spec.MaxFrames), false)
	assertFinite(t, "reference run", ref)

	t.Run("partition", func(t *testing.T) {
		p.Reset()
		rng := rand.New(rand.NewPCG(2, 3))
		got := h.run(x, randomBlocks(rng, spec.MaxFrames), true)
		compare(t, "random block sizes (with poisoned buffers)", ref, got, opt.Tolerance)
	})
	t.Run("reset", func(t *testing.T) {
		p.Reset()
		p.Reset()
		got := h.run(x, fixedBlocks(spec.MaxFrames), false)
		compare(t, "after Reset twice", ref, got, opt.Tolerance)
		if err := p.Err(); err != nil {
			t.Errorf("Err() = %v after Reset and a clean run; want nil", err)
		}
	})
	// poke adds an impulse to x mid-signal on every channel, runs it in
	// blocks of MaxFrames and checks that the output differs from base
	// from exactly Latency() frames after the impulse.
	poke := func(t *testing.T, what string, base [][]float32) {
		lat := p.Latency()
		if lat < 0 {
			t.Fatalf("Latency() = %d", lat)
		}
		k := frames/2 + 7
		if k+lat >= frames {
			t.Fatalf("test signal of %d frames too short for latency %d", frames, lat)
		}
		y := clone(x)
		for c := range y {
			y[c][k] += 0.5
		}
		p.Reset()
		got := h.run(y, fixedBlocks(spec.MaxFrames), false)
		checkDelay(t, what, base, got, k, lat, opt)
	}
	t.Run("latency", func(t *testing.T) { poke(t, "", ref) })
	t.Run("fixed-block-latency", func(t *testing.T) {
		// Driven the way the Engine drives it (exactly MaxFrames per call),
		// a processor may need less delay; Latency() must still be exact.
		fixed := spec
		fixed.FixedBlock = true
		if _, err := p.Prepare(fixed); err != nil {
			t.Fatalf("Prepare(%+v): %v", fixed, err)
		}
		defer func() {
			if _, err := p.Prepare(spec); err != nil {
				t.Fatalf("Prepare(%+v) again: %v", spec, err)
			}
		}()
		p.Reset()
		base := h.run(x, fixedBlocks(spec.MaxFrames), false)
		poke(t, "fixed blocks: ", base)
	})
	t.Run("nonfinite", func(t *testing.T) {
		y := clone(x)
		bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		for i := frames / 3; i < frames/3+spec.MaxFrames+5; i++ {
			for c := range y {
				y[c][i] = bad[(i+c)%3]
			}
		}
		p.Reset()
		got := h.run(y, fixedBlocks(spec.MaxFrames), false)
		assertFinite(t, "output with NaN/Inf input", got)
		if p.Err() == nil {
			t.Errorf("Err() = nil after NaN/Inf input; want the sticky error")
		}
		p.Reset()
		if err := p.Err(); err != nil {
			t.Errorf("Err() = %v after Reset; want nil", err)
		}
	})
	t.Run("allocs", func(t *testing.T) {
		if RaceEnabled {
			t.Skip("allocation counts are not meaningful under -race")
		}
		p.Reset()
		src, dst := alloc(spec.Channels, spec.MaxFrames), alloc(out, spec.MaxFrames)
		for c := range src {
			copy(src[c], x[c])
		}
		if n := testing.AllocsPerRun(200, func() { p.Process(dst, src) }); n != 0 {
			t.Errorf("Process allocated %v times per call; want 0", n)
		}
	})
}

// checkDelay reports delayError as a test error, or logs the measured delay.
func checkDelay(t *testing.T, what string, base, got [][]float32, k, lat int, opt Options) {
	t.Helper()
	msg, ok := delayError(base, got, k, lat, opt)
	if !ok {
		t.Errorf("%s%s", what, msg)
		return
	}
	t.Logf("%s%s", what, msg)
}

// delayError checks that perturbing input frame k changed the output got
// (against base) as Latency() = lat says: first at exactly k+lat, or, with
// opt.MaskReach, first no earlier than k+lat−MaskReach and most at k+lat.
// It returns what it found and whether that keeps the contract.
func delayError(base, got [][]float32, k, lat int, opt Options) (string, bool) {
	first := firstDiff(base, got, opt.Tolerance)
	if opt.MaskReach == 0 {
		if first != k+lat {
			return fmt.Sprintf("perturbing input frame %d first changed output frame %d; Latency() = %d says %d", k, first, lat, k+lat), false
		}
		return fmt.Sprintf("measured delay %d frames = Latency()", first-k), true
	}
	peak := peakDiff(base, got)
	if first < 0 || first < k+lat-opt.MaskReach {
		return fmt.Sprintf("perturbing input frame %d first changed output frame %d; Latency() = %d and MaskReach = %d allow %d at the earliest", k, first, lat, opt.MaskReach, k+lat-opt.MaskReach), false
	}
	if peak != k+lat {
		return fmt.Sprintf("perturbing input frame %d changed output frame %d most; Latency() = %d says %d", k, peak, lat, k+lat), false
	}
	return fmt.Sprintf("first change at k%+d, largest at k%+d = Latency() (MaskReach %d)", first-k, peak-k, opt.MaskReach), true
}

// peakDiff is the output frame where a and b differ most (any channel), or
// −1 if they are equal.
func peakDiff(a, b [][]float32) int {
	peak, peakV := -1, 0.0
	for c := range a {
		for i := range a[c] {
			if d := math.Abs(float64(a[c][i]) - float64(b[c][i])); d > peakV {
				peak, peakV = i, d
			}
		}
	}
	return peak
}

type harness struct {
	p    stream.Processor
	spec stream.Spec
	out  int
}

// run feeds x in blocks whose lengths next() returns and collects the output.
func (h *harness) run(x [][]float32, next func() int, poison bool) [][]float32 {
	frames := len(x[0])
	y := alloc(h.out, frames)
	srcBuf, dstBuf := alloc(h.spec.Channels, h.spec.MaxFrames), alloc(h.out, h.spec.MaxFrames)
	src, dst := make([][]float32, len(srcBuf)), make([][]float32, len(dstBuf))
	nan := float32(math.NaN())
	for pos := 0; pos < frames; {
		n := min(next(), frames-pos)
		for c := range src {
			src[c] = srcBuf[c][:n]
			copy(src[c], x[c][pos:pos+n])
		}
		for c := range dst {
			dst[c] = dstBuf[c][:n]
		}
		h.p.Process(dst, src)
		for c := range dst {
			copy(y[c][pos:pos+n], dst[c])
		}
		if poison {
			for _, b := range [2][][]float32{srcBuf, dstBuf} {
				for c := range b {
					for i := range b[c] {
						b[c][i] = nan
					}
				}
			}
		}
		pos += n
	}
	return y
}

func fixedBlocks(n int) func() int { return func() int { return n } }

func randomBlocks(rng *rand.Rand, max int) func() int {
	i := 0
	return func() int {
		i++
		switch i % 7 {
		case 0:
			return 0
		case 3:
			return max
		case 5:
			return 1
		}
		return rng.IntN(max + 1)
	}
}

// Noise is seeded Laplacian noise, channels × frames, scaled to about −20 dBFS
// and clipped to ±1; channels are independent.
func Noise(channels, frames int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	x := alloc(channels, frames)
	for c := range x {
		for i := range x[c] {
			v := rng.ExpFloat64() * 0.07
			if rng.IntN(2) == 0 {
				v = -v
			}
			x[c][i] = float32(max(-1, min(1, v)))
		}
	}
	return x
}

func alloc(ch, n int) [][]float32 {
	x := make([][]float32, ch)
	for c := range x {
		x[c] = make([]float32, n)
	}
	return x
}

func clone(x [][]float32) [][]float32 {
	y := make([][]float32, len(x))
	for c := range x {
		y[c] = append([]float32(nil), x[c]...)
	}
	return y
}

func firstDiff(a, b [][]float32, tol float64) int {
	first := -1
	for c := range a {
		for i := range a[c] {
			if math.Abs(float64(a[c][i])-float64(b[c][i])) > tol || math.IsNaN(float64(b[c][i])) != math.IsNaN(float64(a[c][i])) {
				if first < 0 || i < first {
					first = i
				}
				break
			}
		}
	}
	return first
}

func compare(t *testing.T, what string, want, got [][]float32, tol float64) {
	t.Helper()
	if i := firstDiff(want, got, tol); i >= 0 {
		for c := range want {
			if math.Abs(float64(want[c][i])-float64(got[c][i])) > tol {
				t.Errorf("%s: output channel %d frame %d = %g, want %g (tolerance %g)", what, c, i, got[c][i], want[c][i], tol)
				return
			}
		}
		t.Errorf("%s: output differs at frame %d", what, i)
	}
}

func assertFinite(t *testing.T, what string, y [][]float32) {
	t.Helper()
	for c := range y {
		for i, v := range y[c] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: channel %d frame %d is %v", what, c, i, v)
			}
		}
	}
}
