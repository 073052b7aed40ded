package dict

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// checkContract is streamtest.CheckProcessor with one check adapted to
// signal-dependent spectral masks. streamtest's latency check demands that
// perturbing input frame k changes no output frame before k+Latency(). A
// mask computed from spectrum t and applied to spectrum t changes every
// output frame of that spectrum's window when the spectrum changes — frames
// up to Size−1 before k, all still unplayed (causality and the stated
// latency are kept; the output at time j still depends only on input up to
// time j). So here the perturbation must change nothing before
// k+Latency()−(Size−1), and its effect must peak exactly at k+Latency()
// (where the perturbed sample itself arrives, scaled by its mask). The other
// checks (block partition with poisoned buffers, Reset, NaN/Inf, zero
// allocations) are streamtest's, unchanged and exact.
func checkContract(t *testing.T, p stream.Processor, spec stream.Spec, size int) {
	t.Helper()
	out, err := p.Prepare(spec)
	if err != nil {
		t.Fatalf("Prepare(%+v): %v", spec, err)
	}
	frames := max(16000, 40*spec.MaxFrames)
	x := streamtest.Noise(spec.Channels, frames, 1)
	run := func(x [][]float32, next func() int, poison bool) [][]float32 {
		y := make([][]float32, out)
		for c := range y {
			y[c] = make([]float32, frames)
		}
		srcBuf, dstBuf := alloc32(spec.Channels, spec.MaxFrames), alloc32(out, spec.MaxFrames)
		src, dst := make([][]float32, spec.Channels), make([][]float32, out)
		for pos := 0; pos < frames; {
			n := min(next(), frames-pos)
			for c := range src {
				src[c] = srcBuf[c][:n]
				copy(src[c], x[c][pos:pos+n])
			}
			for c := range dst {
				dst[c] = dstBuf[c][:n]
			}
			p.Process(dst, src)
			for c := range dst {
				copy(y[c][pos:pos+n], dst[c])
			}
			if poison {
				for _, b := range [2][][]float32{srcBuf, dstBuf} {
					for c := range b {
						for i := range b[c] {
							b[c][i] = float32(math.NaN())
						}
					}
				}
			}
			pos += n
		}
		return y
	}
	fixed := func() int { return spec.MaxFrames }
	p.Reset()
	ref := run(x, fixed, false)
	for c := range ref {
		for i, v := range ref[c] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("reference run: output %d frame %d is %v", c, i, v)
			}
		}
	}
	same := func(what string, got [][]float32) {
		t.Helper()
		for c := range ref {
			for i := range ref[c] {
				if got[c][i] != ref[c][i] {
					t.Errorf("%s: output %d differs first at frame %d (%g vs %g)", what, c, i, got[c][i], ref[c][i])
					break
				}
			}
		}
	}
	t.Run("partition", func(t *testing.T) {
		p.Reset()
		rng := rand.New(rand.NewPCG(2, 3))
		i := 0
		random := func() int {
			i++
			switch i % 7 {
			case 0:
				return 0
			case 3:
				return spec.MaxFrames
			case 5:
				return 1
			}
			return rng.IntN(spec.MaxFrames + 1)
		}
		same("random block sizes (with poisoned buffers)", run(x, random, true))
	})
	t.Run("reset", func(t *testing.T) {
		p.Reset()
		p.Reset()
		same("after Reset twice", run(x, fixed, false))
		if err := p.Err(); err != nil {
			t.Errorf("Err() = %v after a clean run", err)
		}
	})
	t.Run("latency", func(t *testing.T) {
		lat := p.Latency()
		k := frames/2 + 7
		y := make([][]float32, len(x))
		for c := range x {
			y[c] = append([]float32(nil), x[c]...)
			y[c][k] += 0.5
		}
		p.Reset()
		got := run(y, fixed, false)
		first, peak, peakV := -1, -1, 0.0
		for c := range got {
			for i := range got[c] {
				d := math.Abs(float64(got[c][i] - ref[c][i]))
				if d > 0 && (first < 0 || i < first) {
					first = i
				}
				if d > peakV {
					peak, peakV = i, d
				}
			}
		}
		if first < k+lat-(size-1) {
			t.Errorf("perturbing input frame %d changed output frame %d, before %d = k+Latency()−(Size−1)", k, first, k+lat-(size-1))
		}
		if peak != k+lat {
			t.Errorf("perturbing input frame %d changed output frame %d most; Latency() = %d says %d", k, peak, lat, k+lat)
		}
		t.Logf("first change at k%+d, peak at k%+d (Latency %d)", first-k, peak-k, lat)
	})
	t.Run("nonfinite", func(t *testing.T) {
		y := make([][]float32, len(x))
		bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		for c := range x {
			y[c] = append([]float32(nil), x[c]...)
			for i := frames / 3; i < frames/3+spec.MaxFrames+5; i++ {
				y[c][i] = bad[(i+c)%3]
			}
		}
		p.Reset()
		got := run(y, fixed, false)
		for c := range got {
			for i, v := range got[c] {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("output %d frame %d is %v after NaN/Inf input", c, i, v)
				}
			}
		}
		if p.Err() == nil {
			t.Error("Err() = nil after NaN/Inf input")
		}
		p.Reset()
		if err := p.Err(); err != nil {
			t.Errorf("Err() = %v after Reset", err)
		}
	})
	t.Run("allocs", func(t *testing.T) {
		if raceEnabled {
			t.Skip("allocation counts are not meaningful under -race")
		}
		p.Reset()
		src, dst := alloc32(spec.Channels, spec.MaxFrames), alloc32(out, spec.MaxFrames)
		for c := range src {
			copy(src[c], x[c])
		}
		if n := testing.AllocsPerRun(200, func() { p.Process(dst, src) }); n != 0 {
			t.Errorf("Process allocated %v times per call; want 0", n)
		}
	})
}

func alloc32(ch, n int) [][]float32 {
	x := make([][]float32, ch)
	for c := range x {
		x[c] = make([]float32, n)
	}
	return x
}
