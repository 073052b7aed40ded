package stft

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveDFT is the O(N²) oracle for the forward real transform: the first
// N/2+1 coefficients of X[k] = Σ_n x[n] e^{−2πikn/N}. The phase index k·n is
// reduced mod N in integers so every twiddle is computed from an angle in
// [0, 2π) and is accurate to an ulp.
func naiveDFT(x []float64) []complex128 {
	n := len(x)
	out := make([]complex128, n/2+1)
	for k := range out {
		var re, im float64
		for i, v := range x {
			ang := 2 * math.Pi * float64((k*i)%n) / float64(n)
			re += v * math.Cos(ang)
			im -= v * math.Sin(ang)
		}
		out[k] = complex(re, im)
	}
	return out
}

// naiveIDFT is the O(N²) oracle for the inverse real transform of a
// half spectrum (Hermitian extension, imaginary parts of bins 0 and N/2
// ignored), normalised: x[n] = (1/N) Σ_k X[k] e^{2πikn/N}.
func naiveIDFT(spec []complex128, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		s := real(spec[0]) + real(spec[n/2])*math.Cos(math.Pi*float64(i)) // (−1)^i
		for k := 1; k < n/2; k++ {
			ang := 2 * math.Pi * float64((k*i)%n) / float64(n)
			s += 2 * (real(spec[k])*math.Cos(ang) - imag(spec[k])*math.Sin(ang))
		}
		out[i] = s / float64(n)
	}
	return out
}

func TestNaiveOraclesRoundTrip(t *testing.T) {
	// The two oracles invert each other and agree with Parseval; this keeps
	// the oracles themselves honest before they judge the FFT path.
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{2, 8, 30, 64} {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.Float64()*2 - 1
		}
		y := naiveIDFT(naiveDFT(x), n)
		for i := range x {
			if d := math.Abs(y[i] - x[i]); d > 1e-13 {
				t.Fatalf("n=%d: idft(dft(x))[%d] off by %g", n, i, d)
			}
		}
		// The DC bin is the sum, the Nyquist bin the alternating sum.
		var sum, alt float64
		for i, v := range x {
			sum += v
			alt += v * float64(1-2*(i%2))
		}
		X := naiveDFT(x)
		if math.Abs(real(X[0])-sum) > 1e-12 || math.Abs(real(X[n/2])-alt) > 1e-12 {
			t.Fatalf("n=%d: DC %v / Nyquist %v, want %v / %v", n, X[0], X[n/2], sum, alt)
		}
	}
}

// chirp returns a linear chirp from 100 Hz to 6 kHz over n samples at 16 kHz,
// amplitude 0.9: a fixed, deterministic test signal touching many bins.
func chirp(n int) []float64 {
	const fs, f0, f1 = 16000.0, 100.0, 6000.0
	x := make([]float64, n)
	dur := float64(n) / fs
	for i := range x {
		tt := float64(i) / fs
		x[i] = 0.9 * math.Sin(2*math.Pi*(f0*tt+0.5*(f1-f0)/dur*tt*tt))
	}
	return x
}

// noise returns channels×n uniform samples in [-1, 1) from rng.
func noise(rng *rand.Rand, channels, n int) [][]float64 {
	x := make([][]float64, channels)
	for ch := range x {
		x[ch] = make([]float64, n)
		for i := range x[ch] {
			x[ch][i] = rng.Float64()*2 - 1
		}
	}
	return x
}

// roundTrip streams x (channels × frames, frames a multiple of c.Hop) through
// an Analyzer and a Synthesizer hop by hop and returns the output stream.
func roundTrip(t testing.TB, c Config, x [][]float64) [][]float64 {
	t.Helper()
	channels := len(x)
	a, err := NewAnalyzer(c, channels)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSynthesizer(c, channels)
	if err != nil {
		t.Fatal(err)
	}
	return runPair(a, s, c, x)
}

func runPair(a *Analyzer, s *Synthesizer, c Config, x [][]float64) [][]float64 {
	channels := len(x)
	spec := make([][]complex128, channels)
	hop := make([][]float64, channels)
	dst := make([][]float64, channels)
	out := make([][]float64, channels)
	for ch := range spec {
		spec[ch] = make([]complex128, c.Bins())
		out[ch] = make([]float64, len(x[ch]))
	}
	for off := 0; off+c.Hop <= len(x[0]); off += c.Hop {
		for ch := range x {
			hop[ch] = x[ch][off : off+c.Hop]
			dst[ch] = out[ch][off : off+c.Hop]
		}
		a.Analyze(spec, hop)
		s.Synthesize(dst, spec)
	}
	return out
}

// delayError returns max_k |out[k] − x[k−d]| over all channels and frames,
// with x = 0 before the start.
func delayError(out, x [][]float64, d int) float64 {
	var worst float64
	for ch := range out {
		for k, v := range out[ch] {
			want := 0.0
			if k >= d {
				want = x[ch][k-d]
			}
			worst = max(worst, math.Abs(v-want))
		}
	}
	return worst
}
