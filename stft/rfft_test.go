package stft

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

// rfftTol is the largest accepted relative error of the real FFT against a
// reference: max|got − want| / max|want|. FFTPACK and the packed radix-2
// path both reach about 1e-15 at n = 1024 (TestRealFFTAccuracy logs the
// values); 1e-12 leaves room for the growth with n up to maxPackedSize.
const rfftTol = 1e-12

func relErrC(got, want []complex128) float64 {
	var num, den float64
	for k := range want {
		num = max(num, cmplx.Abs(got[k]-want[k]))
		den = max(den, cmplx.Abs(want[k]))
	}
	return num / den
}

func relErr(got, want []float64) float64 {
	var num, den float64
	for k := range want {
		num = max(num, math.Abs(got[k]-want[k]))
		den = max(den, math.Abs(want[k]))
	}
	return num / den
}

func randReal(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.Float64()*2 - 1
	}
	return x
}

// randHalfSpectrum returns n/2+1 random coefficients, including non-zero
// imaginary parts at DC and Nyquist, which the inverse must ignore.
func randHalfSpectrum(rng *rand.Rand, n int) []complex128 {
	s := make([]complex128, n/2+1)
	for k := range s {
		s[k] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	return s
}

// fftSizes are the lengths checked: every power of two up to maxPackedSize
// (packed path), the first one above it and a few non-powers of two
// (fallback path).
func fftSizes() []int {
	var ns []int
	for n := 2; n <= 2*maxPackedSize; n *= 2 {
		ns = append(ns, n)
	}
	return append(ns, 6, 10, 30, 96, 1000, 1536)
}

// TestRealFFTAccuracy compares both directions with gonum's FFTPACK-based
// fourier.FFT, the implementation the STFT used before, at every size.
func TestRealFFTAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range fftSizes() {
		f := newRealFFT(n)
		if want := packable(n); f.packed() != want {
			t.Fatalf("n=%d: packed path %v, want %v", n, f.packed(), want)
		}
		ref := fourier.NewFFT(n)

		x := randReal(rng, n)
		want := ref.Coefficients(nil, x)
		got := make([]complex128, n/2+1)
		for k := range got {
			got[k] = cmplx.NaN() // every bin must be written
		}
		f.forward(got, x)
		fe := relErrC(got, want)

		spec := randHalfSpectrum(rng, n)
		keep := append([]complex128(nil), spec...)
		wantX := ref.Sequence(nil, spec)
		gotX := make([]float64, n)
		f.inverse(gotX, spec)
		ie := relErr(gotX, wantX)
		for k := range spec {
			if spec[k] != keep[k] {
				t.Fatalf("n=%d: inverse modified its input at bin %d", n, k)
			}
		}
		t.Logf("n=%5d packed=%-5v forward %.2g inverse %.2g", n, f.packed(), fe, ie)
		if fe > rfftTol || math.IsNaN(fe) || ie > rfftTol || math.IsNaN(ie) {
			t.Fatalf("n=%d: relative error forward %g, inverse %g; want <= %g", n, fe, ie, rfftTol)
		}
	}
}

// TestRealFFTMatchesNaive checks both directions against the O(n²) oracles
// (independent of gonum), for the sizes where those are quick.
func TestRealFFTMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range fftSizes() {
		if n > 2048 {
			continue
		}
		f := newRealFFT(n)
		x := randReal(rng, n)
		got := make([]complex128, n/2+1)
		f.forward(got, x)
		fe := relErrC(got, naiveDFT(x))

		spec := randHalfSpectrum(rng, n)
		want := naiveIDFT(spec, n) // normalised by 1/n; the FFT is not
		for i := range want {
			want[i] *= float64(n)
		}
		gotX := make([]float64, n)
		f.inverse(gotX, spec)
		ie := relErr(gotX, want)
		if fe > rfftTol || math.IsNaN(fe) || ie > rfftTol || math.IsNaN(ie) {
			t.Fatalf("n=%d (packed %v): relative error vs naive DFT forward %g, inverse %g; want <= %g",
				n, f.packed(), fe, ie, rfftTol)
		}
	}
}

// TestRealFFTKnownValues: an impulse at sample 1 has X[k] = e^{−2πik/n};
// a cosine at bin 3 has X[3] = n/2 and nothing else; the inverse of a lone
// Nyquist bin alternates in sign. Exact up to rounding (a few ulp of the
// peak), independent of any other code.
func TestRealFFTKnownValues(t *testing.T) {
	for _, n := range []int{8, 16, 256, 1024, 30} {
		f := newRealFFT(n)
		x := make([]float64, n)
		x[1] = 1
		got := make([]complex128, n/2+1)
		f.forward(got, x)
		for k, v := range got {
			s, c := math.Sincos(2 * math.Pi * float64(k) / float64(n))
			if cmplx.Abs(v-complex(c, -s)) > 1e-14 {
				t.Fatalf("n=%d impulse: X[%d] = %v, want %v", n, k, v, complex(c, -s))
			}
		}
		for i := range x {
			x[i] = math.Cos(2 * math.Pi * 3 * float64(i) / float64(n))
		}
		f.forward(got, x)
		for k, v := range got {
			want := 0.0
			if k == 3 {
				want = float64(n) / 2
			}
			if cmplx.Abs(v-complex(want, 0)) > 1e-14*float64(n) { // 2e-14 of the peak
				t.Fatalf("n=%d cosine: X[%d] = %v, want %v", n, k, v, want)
			}
		}
		spec := make([]complex128, n/2+1)
		spec[n/2] = complex(1, 5) // the imaginary part is ignored
		y := make([]float64, n)
		f.inverse(y, spec)
		for i, v := range y {
			if want := float64(1 - 2*(i%2)); math.Abs(v-want) > 1e-14 {
				t.Fatalf("n=%d Nyquist: x[%d] = %v, want %v", n, i, v, want)
			}
		}
	}
}

func TestRealFFTAllocs(t *testing.T) {
	for _, n := range []int{1024, 1000} {
		f := newRealFFT(n)
		x := randReal(rand.New(rand.NewPCG(1, 1)), n)
		spec := make([]complex128, n/2+1)
		if a := testing.AllocsPerRun(100, func() { f.forward(spec, x) }); a != 0 {
			t.Fatalf("n=%d: forward allocated %v times per call; want 0", n, a)
		}
		if a := testing.AllocsPerRun(100, func() { f.inverse(x, spec) }); a != 0 {
			t.Fatalf("n=%d: inverse allocated %v times per call; want 0", n, a)
		}
	}
}

// BenchmarkRealFFT compares the packed radix-2 real FFT with gonum's
// fourier.FFT (FFTPACK), which the STFT used before, in both directions.
func BenchmarkRealFFT(b *testing.B) {
	for _, dir := range []string{"forward", "inverse"} {
		for _, impl := range []string{"gonum", "packed"} {
			for _, n := range []int{256, 512, 1024, 2048} {
				b.Run(fmt.Sprintf("dir=%s/impl=%s/n=%d", dir, impl, n), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 1))
					x := randReal(rng, n)
					spec := randHalfSpectrum(rng, n)
					out := make([]complex128, n/2+1)
					y := make([]float64, n)
					var fwd func()
					var inv func()
					if impl == "gonum" {
						g := fourier.NewFFT(n)
						fwd = func() { g.Coefficients(out, x) }
						inv = func() { g.Sequence(y, spec) }
					} else {
						f := newRealFFT(n)
						fwd = func() { f.forward(out, x) }
						inv = func() { f.inverse(y, spec) }
					}
					run := fwd
					if dir == "inverse" {
						run = inv
					}
					b.ReportAllocs()
					for b.Loop() {
						run()
					}
				})
			}
		}
	}
}
