package stft

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"
)

func rect(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func TestWindows(t *testing.T) {
	// Periodic Hann, by definition ½(1−cos 2πi/n), compared with the sin² form
	// used, and known exact points. gonum's window.Hann would give 0 at i=n−1.
	for _, n := range []int{4, 7, 256, 512} {
		h, s := PeriodicHann(n), SqrtHann(n)
		for i := range n {
			want := 0.5 * (1 - math.Cos(2*math.Pi*float64(i)/float64(n)))
			if math.Abs(h[i]-want) > 1e-15 {
				t.Fatalf("PeriodicHann(%d)[%d] = %v, want %v", n, i, h[i], want)
			}
			if math.Abs(s[i]*s[i]-h[i]) > 1e-15 || s[i] < 0 {
				t.Fatalf("SqrtHann(%d)[%d]² = %v, want %v", n, i, s[i]*s[i], h[i])
			}
		}
		if h[0] != 0 || s[0] != 0 || h[n-1] == 0 {
			t.Fatalf("n=%d: w[0] = %v/%v, w[n-1] = %v: want exact 0, 0 and non-zero (periodic)", n, h[0], s[0], h[n-1])
		}
		if n%2 == 0 && h[n/2] != 1 {
			t.Fatalf("PeriodicHann(%d)[n/2] = %v, want exactly 1", n, h[n/2])
		}
	}
	if len(PeriodicHann(0)) != 0 {
		t.Fatal("PeriodicHann(0) not empty")
	}
}

// goodConfigs are window pairs that reconstruct, with the Reach each must report.
func goodConfigs() []struct {
	name  string
	c     Config
	reach int
} {
	ld, err := LowDelay(512, 64, 128)
	if err != nil {
		panic(err)
	}
	ld2, _ := LowDelay(512, 32, 128)
	ld3, _ := LowDelay(256, 128, 256) // synth = size: degenerates to √Hann
	return []struct {
		name  string
		c     Config
		reach int
	}{
		{"size=512/hop=128/win=sqrthann", New(512, 128), 511},
		{"size=512/hop=256/win=sqrthann", New(512, 256), 511},
		{"size=256/hop=32/win=sqrthann", New(256, 32), 255},
		{"size=512/hop=256/win=hann+rect", Config{512, 256, PeriodicHann(512), rect(512)}, 512},
		{"size=512/hop=128/win=hann+rect", Config{512, 128, PeriodicHann(512), rect(512)}, 512},
		{"size=256/hop=64/win=rect+hann", Config{256, 64, rect(256), PeriodicHann(256)}, 255},
		{"size=512/hop=128/win=hann+hann", Config{512, 128, PeriodicHann(512), PeriodicHann(512)}, 511},
		{"size=64/hop=64/win=rect+rect", Config{64, 64, rect(64), rect(64)}, 64},
		{"size=6/hop=4/win=rect+taper", Config{6, 4, rect(6), []float64{0.5, 0.5, 1, 1, 0.5, 0.5}}, 6}, // hop does not divide size
		{"size=512/hop=64/win=lowdelay128", ld, 127},
		{"size=512/hop=32/win=lowdelay128", ld2, 127},
		{"size=256/hop=128/win=lowdelay256", ld3, 255},
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, g := range goodConfigs() {
		if err := g.c.Validate(); err != nil {
			t.Errorf("%s: %v", g.name, err)
		}
		if g.c.Reach() != g.reach || g.c.Latency() != g.reach-g.c.Hop {
			t.Errorf("%s: Reach %d Latency %d, want %d and %d", g.name, g.c.Reach(), g.c.Latency(), g.reach, g.reach-g.c.Hop)
		}
	}
	for _, n := range []int{2, 4, 256, 512, 1024, 2048, 4096} {
		for _, h := range []int{n / 2, n / 4, n / 8} {
			if h == 0 {
				continue
			}
			if err := New(n, h).Validate(); err != nil {
				t.Errorf("New(%d, %d): %v", n, h, err)
			}
		}
	}
}

func TestValidateRejects(t *testing.T) {
	nan := New(512, 128)
	nan.Analysis = append([]float64(nil), nan.Analysis...)
	nan.Analysis[7] = math.NaN()
	inf := New(512, 128)
	inf.Synthesis = append([]float64(nil), inf.Synthesis...)
	inf.Synthesis[9] = math.Inf(-1)
	spiky := Config{64, 64, rect(64), rect(64)}
	spiky.Analysis[0], spiky.Synthesis[0] = 1e5, 1e-5 // product still 1: WOLA holds
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"zero size", Config{Size: 0, Hop: 1}, "stft: size 0 must be positive"},
		{"negative size", Config{Size: -4, Hop: 1}, "must be positive"},
		{"odd size", Config{513, 128, SqrtHann(513), SqrtHann(513)}, "stft: size 513 must be even"},
		{"huge size", Config{Size: 2 * MaxSize, Hop: 1}, "exceeds the maximum"},
		{"zero hop", Config{512, 0, SqrtHann(512), SqrtHann(512)}, "stft: hop 0 must be in [1, size 512]"},
		{"hop > size", Config{512, 513, SqrtHann(512), SqrtHann(512)}, "hop 513"},
		{"short analysis", Config{512, 128, SqrtHann(511), SqrtHann(512)}, "analysis window has 511 samples"},
		{"missing synthesis", Config{512, 128, SqrtHann(512), nil}, "synthesis window has 0 samples"},
		{"NaN window", nan, "analysis window sample 7 is NaN"},
		{"Inf window", inf, "synthesis window sample 9 is -Inf"},
		{"zero synthesis", Config{512, 128, SqrtHann(512), make([]float64, 512)}, "overlap-add to 0 at hop 128"},
		{"sqrthann 3N/4", New(512, 384), "stft: windows do not overlap-add to a constant at hop 384"},
		{"sqrthann hop 300", New(512, 300), "stft: windows do not overlap-add to a constant at hop 300 (worst deviation"},
		{"sqrthann hop not dividing", New(512, 100), "at hop 100"},
		{"sqrthann hop N", New(512, 512), "at hop 512"},
		{"hann+hann N/2", Config{512, 256, PeriodicHann(512), PeriodicHann(512)}, "at hop 256"},
		{"symmetric hann", Config{512, 256, symmetricHann(512), rect(512)}, "at hop 256"},
		{"rect+rect 6/4", Config{6, 4, rect(6), rect(6)}, "at hop 4"},
		{"ill-conditioned", spiky, "amplifies rounding error 1e+05 times"},
	} {
		err := tc.c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "stft: ") {
			t.Errorf("%s: error %q, want it to contain %q", tc.name, err, tc.want)
		}
		if _, err := NewAnalyzer(tc.c, 1); err == nil {
			t.Errorf("%s: NewAnalyzer accepted", tc.name)
		}
		if _, err := NewSynthesizer(tc.c, 1); err == nil {
			t.Errorf("%s: NewSynthesizer accepted", tc.name)
		}
	}
	t.Logf("example message: %v", New(512, 300).Validate())
	if _, err := NewAnalyzer(New(512, 128), 0); err == nil || !strings.Contains(err.Error(), "stft: channel count 0") {
		t.Errorf("NewAnalyzer with 0 channels: %v", err)
	}
	if _, err := NewSynthesizer(New(512, 128), -1); err == nil || !strings.Contains(err.Error(), "stft: channel count -1") {
		t.Errorf("NewSynthesizer with -1 channels: %v", err)
	}
	for _, synth := range []int{0, 3, 514} {
		if _, err := LowDelay(512, 64, synth); err == nil {
			t.Errorf("LowDelay(512, 64, %d) accepted", synth)
		}
	}
}

// symmetricHann is gonum's dsp/window.Hann form (denominator n−1), the wrong
// window for WOLA.
func symmetricHann(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 * (1 - math.Cos(2*math.Pi*float64(i)/float64(n-1)))
	}
	return w
}

// TestPerfectReconstruction: Analyze followed by Synthesize reproduces random
// input delayed by exactly Latency() frames, to 1e-9, for √Hann at N ∈
// {256,…,2048} × H ∈ {N/2, N/4}, and for the other reconstructing pairs.
func TestPerfectReconstruction(t *testing.T) {
	type tc struct {
		name string
		c    Config
	}
	var cases []tc
	for _, n := range []int{256, 512, 1024, 2048} {
		for _, h := range []int{n / 2, n / 4} {
			cases = append(cases, tc{fmt.Sprintf("size=%d/hop=%d/win=sqrthann", n, h), New(n, h)})
		}
	}
	for _, n := range []int{256, 1024} {
		for _, h := range []int{n / 2, n / 4} {
			cases = append(cases, tc{fmt.Sprintf("size=%d/hop=%d/win=hann+rect", n, h), Config{n, h, PeriodicHann(n), rect(n)}})
		}
	}
	for _, g := range goodConfigs() {
		cases = append(cases, tc{g.name, g.c})
	}
	// The real FFT's fallback (FFTPACK) for sizes that are not powers of
	// two, and for powers of two above maxPackedSize.
	cases = append(cases, tc{"size=1000/hop=250/win=sqrthann", New(1000, 250)},
		tc{fmt.Sprintf("size=%d/hop=%d/win=sqrthann", 2*maxPackedSize, maxPackedSize/2), New(2*maxPackedSize, maxPackedSize/2)})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			frames := (tc.c.Size/tc.c.Hop*4 + 8) * tc.c.Hop
			x := noise(rng, 2, frames)
			out := roundTrip(t, tc.c, x)
			err := delayError(out, x, tc.c.Latency())
			t.Logf("%s: latency %d, max abs error %.3g", tc.name, tc.c.Latency(), err)
			if err > 1e-9 {
				t.Fatalf("max abs error %g after a %d-frame shift, want <= 1e-9", err, tc.c.Latency())
			}
			// The shift must be exact: one frame off is a gross error.
			if off := delayError(out, x, tc.c.Latency()+1); off < 0.1 {
				t.Fatalf("output also matches a %d-frame delay (error %g)", tc.c.Latency()+1, off)
			}
		})
	}
}

// TestLatencyImpulse measures the delay of a unit impulse through the pair and
// checks that it is Latency() exactly, and that nothing else comes out.
func TestLatencyImpulse(t *testing.T) {
	for _, g := range goodConfigs() {
		c := g.c
		frames := (c.Size/c.Hop*3 + 6) * c.Hop
		for _, k0 := range []int{0, 3*c.Hop + 5, frames/2 - 1} {
			x := [][]float64{make([]float64, frames)}
			x[0][k0] = 1
			out := roundTrip(t, c, x)[0]
			peak := 0
			for k, v := range out {
				if math.Abs(v) > math.Abs(out[peak]) {
					peak = k
				}
			}
			if peak-k0 != c.Latency() || math.Abs(out[peak]-1) > 1e-12 {
				t.Errorf("%s: impulse at %d came out at %d (delay %d, value %v), Latency() = %d",
					g.name, k0, peak, peak-k0, out[peak], c.Latency())
			}
			for k, v := range out {
				if k != peak && math.Abs(v) > 1e-12 {
					t.Errorf("%s: impulse at %d: leakage %g at %d", g.name, k0, v, k)
					break
				}
			}
		}
	}
}

// TestAnalyzeMatchesNaiveDFT: each streamed spectrum equals the naive DFT of
// the Analysis-windowed last Size frames of a fixed chirp (zeros before the
// start), to 1e-9.
func TestAnalyzeMatchesNaiveDFT(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	// New(96, 24) is not a power of two: it checks the FFTPACK fallback.
	for _, c := range []Config{New(256, 64), New(512, 256), Config{256, 128, PeriodicHann(256), rect(256)}, ld, New(96, 24)} {
		t.Run(fmt.Sprintf("size=%d/hop=%d", c.Size, c.Hop), func(t *testing.T) {
			hops := c.Size/c.Hop + 6
			x := chirp(hops * c.Hop)
			y := make([]float64, len(x)) // second channel: reversed chirp, to catch channel mix-ups
			for i := range x {
				y[i] = x[len(x)-1-i]
			}
			a, err := NewAnalyzer(c, 2)
			if err != nil {
				t.Fatal(err)
			}
			dst := [][]complex128{make([]complex128, c.Bins()), make([]complex128, c.Bins())}
			var worst float64
			for tt := range hops {
				a.Analyze(dst, [][]float64{x[tt*c.Hop : (tt+1)*c.Hop], y[tt*c.Hop : (tt+1)*c.Hop]})
				for ch, sig := range [][]float64{x, y} {
					frame := make([]float64, c.Size)
					for n := range frame {
						if s := (tt+1)*c.Hop - c.Size + n; s >= 0 {
							frame[n] = c.Analysis[n] * sig[s]
						}
					}
					want := naiveDFT(frame)
					for k := range want {
						worst = max(worst, cmplx.Abs(dst[ch][k]-want[k]))
					}
				}
			}
			t.Logf("max |FFT − naive DFT| = %.3g", worst)
			if worst > 1e-9 {
				t.Fatalf("streamed spectrum differs from the naive DFT by %g, want <= 1e-9", worst)
			}
		})
	}
}

// TestSynthesizeMatchesNaiveOLA feeds arbitrary (not STFT-consistent) random
// spectra to the Synthesizer and compares its stream with a whole-signal
// overlap-add built from the naive inverse DFT: frame t's samples placed at
// positions (t+1)H−N+n, weighted by w_s and divided by C. Emitted frame k
// must equal position k−Latency() of that sum, which also proves that every
// emitted sample was already final (no later frame changes it).
func TestSynthesizeMatchesNaiveOLA(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	for _, c := range []Config{New(256, 64), Config{256, 128, PeriodicHann(256), rect(256)}, ld, New(96, 24)} {
		t.Run(fmt.Sprintf("size=%d/hop=%d/reach=%d", c.Size, c.Hop, c.Reach()), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			n, h := c.Size, c.Hop
			// C from its definition, independently of Validate's code.
			var cst float64
			for p := 0; p < n; p += h {
				cst += c.Analysis[p] * c.Synthesis[p]
			}
			hops := n/h + 6
			sum := make([]float64, hops*h+n) // index s+n for stream position s ≥ −n
			s, err := NewSynthesizer(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			spec := make([]complex128, c.Bins())
			got := make([]float64, hops*h)
			for tt := range hops {
				for k := range spec {
					spec[k] = complex(rng.NormFloat64(), rng.NormFloat64())
				}
				spec[0], spec[n/2] = complex(real(spec[0]), 0), complex(real(spec[n/2]), 0)
				s.Synthesize([][]float64{got[tt*h : (tt+1)*h]}, [][]complex128{spec})
				y := naiveIDFT(spec, n)
				for i, v := range y {
					sum[(tt+1)*h-n+i+n] += c.Synthesis[i] * v / cst
				}
			}
			var worst float64
			d := c.Latency()
			for k, v := range got {
				worst = max(worst, math.Abs(v-sum[k-d+n]))
			}
			t.Logf("max |streamed − naive OLA| = %.3g", worst)
			if worst > 1e-9 {
				t.Fatalf("streamed synthesis differs from the naive overlap-add by %g", worst)
			}
		})
	}
}

// TestResetReplay: after processing other input, Reset and a replay give
// bit-identical output to a fresh pair.
func TestResetReplay(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	for _, c := range []Config{New(512, 128), ld} {
		rng := rand.New(rand.NewPCG(1, 1))
		x := noise(rng, 3, (c.Size/c.Hop+10)*c.Hop)
		junk := noise(rng, 3, 7*c.Hop)
		junk[1][5] = math.NaN()
		a, _ := NewAnalyzer(c, 3)
		s, _ := NewSynthesizer(c, 3)
		first := runPair(a, s, c, x)
		runPair(a, s, c, junk)
		a.Reset()
		s.Reset()
		second := runPair(a, s, c, x)
		for ch := range first {
			for k := range first[ch] {
				if math.Float64bits(first[ch][k]) != math.Float64bits(second[ch][k]) {
					t.Fatalf("size=%d/hop=%d: replay differs at ch %d frame %d: %v vs %v", c.Size, c.Hop, ch, k, first[ch][k], second[ch][k])
				}
			}
		}
	}
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func finiteC(v []complex128) bool {
	for _, x := range v {
		if cmplx.IsNaN(x) || cmplx.IsInf(x) {
			return false
		}
	}
	return true
}

// TestNaNFlushes: NaN input poisons only a bounded number of hops and only
// its own channel. Bounds (N a multiple of H): the Analyzer's spectra are
// finite again N/H hops after the NaN hop; the Synthesizer's output
// ⌈Reach/H⌉ hops after a NaN spectrum; the chain's output N/H−1+⌈Reach/H⌉
// hops after the NaN hop. Each bound is checked to be tight as well.
func TestNaNFlushes(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	for _, c := range []Config{New(512, 128), ld} {
		n, h := c.Size, c.Hop
		reachHops := (c.Reach() + h - 1) / h
		const t0 = 10 // hop carrying the NaN
		hops := t0 + 2*n/h + reachHops + 4
		rng := rand.New(rand.NewPCG(1, 1))
		x := noise(rng, 2, hops*h)
		x[0][t0*h+h/2] = math.NaN()

		a, _ := NewAnalyzer(c, 2)
		s, _ := NewSynthesizer(c, 2)
		spec := [][]complex128{make([]complex128, c.Bins()), make([]complex128, c.Bins())}
		out := [][]float64{make([]float64, h), make([]float64, h)}
		alone, _ := NewSynthesizer(c, 1)
		aloneOut := [][]float64{make([]float64, h)}
		bad := make([]complex128, c.Bins())
		for k := range bad {
			bad[k] = complex(rng.NormFloat64(), 0)
		}
		for tt := range hops {
			a.Analyze(spec, [][]float64{x[0][tt*h : (tt+1)*h], x[1][tt*h : (tt+1)*h]})
			s.Synthesize(out, spec)
			wantSpec := tt < t0 || tt >= t0+n/h
			wantOut := tt < t0 || tt >= t0+n/h-1+reachHops
			if finiteC(spec[0]) != wantSpec || finite(out[0]) != wantOut {
				t.Fatalf("size=%d/hop=%d hop %d: spectrum finite %v (want %v), output finite %v (want %v)",
					n, h, tt, finiteC(spec[0]), wantSpec, finite(out[0]), wantOut)
			}
			if !finiteC(spec[1]) || !finite(out[1]) {
				t.Fatalf("size=%d/hop=%d hop %d: NaN leaked into channel 1", n, h, tt)
			}
			// The Synthesizer alone, fed one NaN spectrum at t0.
			bad[3] = complex(0, 0)
			if tt == t0 {
				bad[3] = complex(math.NaN(), 0)
			}
			alone.Synthesize(aloneOut, [][]complex128{bad})
			if want := tt < t0 || tt >= t0+reachHops; finite(aloneOut[0]) != want {
				t.Fatalf("size=%d/hop=%d hop %d: lone Synthesizer output finite %v, want %v", n, h, tt, finite(aloneOut[0]), want)
			}
		}
		t.Logf("size=%d/hop=%d/reach=%d: chain output finite again %d hops after the NaN hop", n, h, c.Reach(), n/h-1+reachHops)
	}
}

func TestPanics(t *testing.T) {
	c := New(64, 16)
	a, _ := NewAnalyzer(c, 2)
	s, _ := NewSynthesizer(c, 2)
	spec := func(ch, bins int) [][]complex128 {
		v := make([][]complex128, ch)
		for i := range v {
			v[i] = make([]complex128, bins)
		}
		return v
	}
	reals := func(ch, n int) [][]float64 {
		v := make([][]float64, ch)
		for i := range v {
			v[i] = make([]float64, n)
		}
		return v
	}
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"Analyze dst count", "stft: Analyze: got 1 and 2 channel slices, want 2", func() { a.Analyze(spec(1, 33), reals(2, 16)) }},
		{"Analyze hop count", "stft: Analyze: got 2 and 3 channel slices, want 2", func() { a.Analyze(spec(2, 33), reals(3, 16)) }},
		{"Analyze hop length", "stft: Analyze: hop[0] has length 15, want 16", func() { a.Analyze(spec(2, 33), reals(2, 15)) }},
		{"Analyze dst length", "stft: Analyze: dst[0] has length 32, want 33", func() { a.Analyze(spec(2, 32), reals(2, 16)) }},
		{"Synthesize count", "stft: Synthesize: got 2 and 1 channel slices, want 2", func() { s.Synthesize(reals(2, 16), spec(1, 33)) }},
		{"Synthesize spec length", "stft: Synthesize: spec[0] has length 34, want 33", func() { s.Synthesize(reals(2, 16), spec(2, 34)) }},
		{"Synthesize dst length", "stft: Synthesize: dst[0] has length 17, want 16", func() { s.Synthesize(reals(2, 17), spec(2, 33)) }},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil || fmt.Sprint(r) != tc.want {
					t.Errorf("%s: panic %v, want %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

// TestWindowsCopied: changing the Config's slices after construction must
// not change the Analyzer or Synthesizer.
func TestWindowsCopied(t *testing.T) {
	c := New(64, 16)
	rng := rand.New(rand.NewPCG(1, 1))
	x := noise(rng, 1, 20*16)
	want := roundTrip(t, c, x)
	a, _ := NewAnalyzer(c, 1)
	s, _ := NewSynthesizer(c, 1)
	for i := range c.Analysis {
		c.Analysis[i], c.Synthesis[i] = 7, 7
	}
	got := runPair(a, s, New(64, 16), x)
	if delayError(got, want, 0) != 0 {
		t.Fatal("output changed after the Config's windows were modified")
	}
}
