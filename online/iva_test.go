package online

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

// ---------------------------------------------------------------------------
// Gradient checks (DESIGN.md "Maths", seed 002).

// wirtinger returns the central-difference estimate of ∂f/∂z* at y[k]:
// ½[(f(z+ε)−f(z−ε))/2ε + i(f(z+iε)−f(z−iε))/2ε].
func wirtinger(f func([]complex128) float64, y []complex128, k int, eps float64) complex128 {
	z := slices.Clone(y)
	at := func(d complex128) float64 {
		z[k] = y[k] + d
		v := f(z)
		z[k] = y[k]
		return v
	}
	re := (at(complex(eps, 0)) - at(complex(-eps, 0))) / (2 * eps)
	im := (at(complex(0, eps)) - at(complex(0, -eps))) / (2 * eps)
	return complex(re/2, im/2)
}

func randComplex(rng *rand.Rand, n int, scale float64) []complex128 {
	y := make([]complex128, n)
	for i := range y {
		y[i] = complex(rng.NormFloat64()*scale, rng.NormFloat64()*scale)
	}
	return y
}

func TestIVAScoreWirtinger(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		bins         int
		alpha, scale float64
	}{
		{1, 1, 1}, {3, 0.5, 2}, {8, 3, 0.1}, {16, 20, 0.05}, {33, 0.01, 10},
	} {
		t.Run(fmt.Sprintf("bins=%d/alpha=%g", tc.bins, tc.alpha), func(t *testing.T) {
			y := randComplex(rng, tc.bins, tc.scale)
			keep := slices.Clone(y)
			phi := ivaScoreTo(make([]complex128, tc.bins), tc.alpha, y)
			if !slices.Equal(y, keep) {
				t.Fatal("ivaScoreTo modified its input")
			}
			f := func(z []complex128) float64 { return ivaNegLogDensity(tc.alpha, z) }
			eps := 1e-6 * tc.scale
			// rounding floor of the central difference: ε_mach·|f|/ε
			floor := 10 * 2.3e-16 * math.Abs(f(y)) / eps
			for k := range y {
				want := wirtinger(f, y, k, eps)
				if d := cmplx.Abs(phi[k] - want); d > 1e-6*cmplx.Abs(want)+floor {
					t.Errorf("bin %d: score %v, finite difference %v (|Δ| %.3g)", k, phi[k], want, d)
				}
			}
			if !slices.Equal(y, keep) {
				t.Fatal("ivaNegLogDensity modified its input")
			}
		})
	}
}

func TestIVAAlphaGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, bins := range []int{1, 5, 64, 513} {
		for _, alpha := range []float64{0.05, 1, 7} {
			y := randComplex(rng, bins, 1/math.Sqrt(float64(bins)))
			keep := slices.Clone(y)
			r := ivaNorm(y)
			// log p = −ivaNegLogDensity; d/dα by central difference.
			h := 1e-6 * alpha
			fd := -(ivaNegLogDensity(alpha+h, y) - ivaNegLogDensity(alpha-h, y)) / (2 * h)
			got := ivaAlphaGrad(alpha, r, bins)
			if d := math.Abs(got - fd); d > 1e-6*(math.Abs(fd)+float64(bins)/alpha) {
				t.Errorf("bins=%d alpha=%g: gradient %.10g, finite difference %.10g", bins, alpha, got, fd)
			}
			if !slices.Equal(y, keep) {
				t.Fatal("input modified")
			}
		}
	}
}

// The quadratic auxiliary function majorises G(αr) with equality at r0:
// G(αr) ≤ G(αr0) + w(r0)·(r² − r0²), w = logisticWeight. This is what lets
// iterative projection decrease the cost monotonically.
func TestIVAAuxMajorises(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 10000; k++ {
		alpha := math.Exp(rng.NormFloat64() * 2)
		r0 := math.Exp(rng.NormFloat64() * 2)
		r := math.Exp(rng.NormFloat64() * 2)
		lhs := logisticG(alpha * r)
		rhs := logisticG(alpha*r0) + logisticWeight(alpha, r0)*(r*r-r0*r0)
		if lhs > rhs+1e-9*(1+math.Abs(rhs)) {
			t.Fatalf("alpha=%g r0=%g r=%g: G=%.12g > bound %.12g", alpha, r0, r, lhs, rhs)
		}
	}
	// Weight is G'(u)α/(2r) with G' = tanh(u/2): compare with a central
	// difference of G.
	for _, u := range []float64{1e-6, 1e-3, 0.5, 3, 40} {
		h := 1e-3 * math.Max(u, 1)
		d := (logisticG(u+h) - logisticG(u-h)) / (2 * h)
		if math.Abs(d-math.Tanh(u/2)) > 1e-6*math.Max(u, 1) {
			t.Errorf("G'(%g) = %g by finite difference, tanh(u/2) = %g", u, d, math.Tanh(u/2))
		}
		alpha, r := 2.0, u/2
		if w, want := logisticWeight(alpha, r), alpha*math.Tanh(u/2)/(2*r); math.Abs(w-want) > 1e-12*want {
			t.Errorf("weight(%g, %g) = %g, want %g", alpha, r, w, want)
		}
	}
}

// ---------------------------------------------------------------------------
// Small linear algebra against naive oracles.

func TestIVALinalg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 1; n <= maxIVAMics; n++ {
		a := randComplex(rng, n*n, 1)
		b := randComplex(rng, n, 1)
		// solveTo
		lu, x := slices.Clone(a), slices.Clone(b)
		if !solveTo(lu, x, n, pivotTiny) {
			t.Fatalf("n=%d: solve failed", n)
		}
		for i := 0; i < n; i++ {
			var s complex128
			for j := 0; j < n; j++ {
				s += a[i*n+j] * x[j]
			}
			if cmplx.Abs(s-b[i]) > 1e-10 {
				t.Errorf("n=%d: (a·x)[%d] = %v, want %v", n, i, s, b[i])
			}
		}
		// invertTo
		inv, tmp := make([]complex128, n*n), slices.Clone(a)
		if !invertTo(inv, tmp, n, pivotTiny) {
			t.Fatalf("n=%d: invert failed", n)
		}
		prod := make([]complex128, n*n)
		mulTo(prod, a, inv, n, n, n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				want := complex(0, 0)
				if i == j {
					want = 1
				}
				if cmplx.Abs(prod[i*n+j]-want) > 1e-10 {
					t.Errorf("n=%d: (a·a⁻¹)[%d,%d] = %v", n, i, j, prod[i*n+j])
				}
			}
		}
		// singular matrices are reported, not solved
		sing := slices.Clone(a)
		for j := 0; j < n; j++ {
			sing[(n-1)*n+j] = 0
		}
		if n > 1 && solveTo(slices.Clone(sing), slices.Clone(b), n, pivotTiny) {
			t.Errorf("n=%d: solve of a singular matrix succeeded", n)
		}
		if n > 1 && invertTo(inv, slices.Clone(sing), n, pivotTiny) {
			t.Errorf("n=%d: inverse of a singular matrix succeeded", n)
		}
	}
}

func TestIVAHermJacobi(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 1; n <= maxIVAMics; n++ {
		// C = B·Bᴴ with a spread of eigenvalues
		b := randComplex(rng, n*n, 1)
		for j := 0; j < n; j++ {
			for i := 0; i < n; i++ {
				b[i*n+j] *= complex(math.Pow(10, -float64(j)), 0)
			}
		}
		c := make([]complex128, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				for k := 0; k < n; k++ {
					c[i*n+j] += b[i*n+k] * cconj(b[j*n+k])
				}
			}
		}
		a, e := slices.Clone(c), make([]complex128, n*n)
		for i := 0; i < n; i++ {
			e[i*n+i] = 1
		}
		hermJacobi(a, e, n, 30)
		// e unitary and c·e = e·diag(a)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var u, ce complex128
				for k := 0; k < n; k++ {
					u += cconj(e[k*n+i]) * e[k*n+j]
					ce += c[i*n+k] * e[k*n+j]
				}
				want := complex(0, 0)
				if i == j {
					want = 1
				}
				if cmplx.Abs(u-want) > 1e-12 {
					t.Errorf("n=%d: eᴴe[%d,%d] = %v", n, i, j, u)
				}
				if d := cmplx.Abs(ce - e[i*n+j]*a[j*n+j]); d > 1e-12*real(a[0]+1) {
					t.Errorf("n=%d: (c·e − e·Λ)[%d,%d] = %.3g", n, i, j, d)
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Seeded synthetic per-bin mixtures.

// synth is a convolutive-like mixture in the STFT domain: m spherical,
// super-Gaussian sources (a Gaussian scale mixture with a log-normal
// envelope shared by all bins of one source: that shared envelope is the
// cross-bin dependence IVA uses), bin powers falling by 30 dB over the
// band, a random complex n×m mixing matrix per bin, and white noise 60 dB
// below the signal so the covariance is full rank when n > m.
type synth struct {
	n, m, bins int
	a          [][]complex128 // [bin] n×m mixing
	src        [][][]complex128
	mix        [][][]complex128 // [t][mic][bin]
}

func newSynth(seed uint64, n, m, bins, spectra int) *synth {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &synth{n: n, m: m, bins: bins}
	s.a = make([][]complex128, bins)
	for f := range s.a {
		s.a[f] = randComplex(rng, n*m, 1)
	}
	shape := make([]float64, bins)
	for f := range shape {
		shape[f] = math.Pow(10, -1.5*float64(f)/float64(bins))
	}
	s.src = make([][][]complex128, spectra)
	s.mix = make([][][]complex128, spectra)
	for t := 0; t < spectra; t++ {
		s.src[t] = make([][]complex128, m)
		for i := 0; i < m; i++ {
			env := math.Exp(1.5 * rng.NormFloat64())
			v := randComplex(rng, bins, env)
			for f := range v {
				v[f] *= complex(shape[f], 0)
			}
			s.src[t][i] = v
		}
		s.mix[t] = make([][]complex128, n)
		for c := 0; c < n; c++ {
			x := randComplex(rng, bins, 1e-3)
			for f := range x {
				x[f] *= complex(shape[f], 0)
				for i := 0; i < m; i++ {
					x[f] += s.a[f][c*m+i] * s.src[t][i][f]
				}
			}
			s.mix[t][c] = x
		}
	}
	return s
}

func alloc2c(rows, cols int) [][]complex128 {
	out := make([][]complex128, rows)
	for i := range out {
		out[i] = make([]complex128, cols)
	}
	return out
}

// run feeds spectra [from, to) and returns the outputs.
func (s *synth) run(sep *IVA, from, to int) [][][]complex128 {
	out := make([][][]complex128, 0, to-from)
	for t := from; t < to; t++ {
		dst := alloc2c(sep.m, s.bins)
		sep.Separate(dst, s.mix[t])
		out = append(out, dst)
	}
	return out
}

// globalTo returns the overall response P_f = D_f·A_f (m×m) of bin f, where
// D_f is the demixing the output applies (projection back included).
func (s *synth) globalTo(sep *IVA, f int) []complex128 {
	d := sep.demixingTo(make([]complex128, sep.m*s.n), f)
	p := make([]complex128, sep.m*s.m)
	mulTo(p, d, s.a[f], sep.m, s.n, s.m)
	return p
}

// sepStats measures bin f's separation: the permutation (output i → the
// source dominating it as heard at mic 0), the off/diagonal power ratio in
// dB, and the projection-back error |P_f[i][π(i)] − A_f[0][π(i)]|/|A_f[0][π(i)]|
// (worst over outputs).
func (s *synth) sepStats(sep *IVA, f int) (perm []int, offDB, rel float64) {
	m := s.m
	p := s.globalTo(sep, f)
	perm = make([]int, m)
	on, off := 0.0, 0.0
	for i := 0; i < m; i++ {
		for j := 1; j < m; j++ {
			if abs2(p[i*m+j])/abs2(s.a[f][j]) > abs2(p[i*m+perm[i]])/abs2(s.a[f][perm[i]]) {
				perm[i] = j
			}
		}
		for j := 0; j < m; j++ {
			// compare powers as heard at mic 0
			v := abs2(p[i*m+j]) / abs2(s.a[f][j])
			if j == perm[i] {
				on += v
			} else {
				off += v
			}
		}
		want := s.a[f][perm[i]]
		rel = math.Max(rel, cmplx.Abs(p[i*m+perm[i]]-want)/cmplx.Abs(want))
	}
	return perm, 10 * math.Log10(off/on), rel
}

// sepLimits are the pass criteria of checkSeparated.
type sepLimits struct {
	medianDB, p90DB float64 // off/diagonal power over bins: median and 90th percentile
	medianRel       float64 // median projection-back error
	misaligned      int     // bins allowed a permutation other than the majority's
}

// checkSeparated asserts that P_f = D_f·A_f is the same permutation of a
// diagonal in every bin (up to lim.misaligned bins), that the off/diagonal
// power is small, and that the diagonal is A_f[0][j] (source j as heard at
// mic 0, i.e. projection back works).
func (s *synth) checkSeparated(t *testing.T, sep *IVA, lim sepLimits) {
	t.Helper()
	perms := map[string]int{}
	var offs, rels []float64
	var first []int
	for f := 0; f < s.bins; f++ {
		perm, off, rel := s.sepStats(sep, f)
		perms[fmt.Sprint(perm)]++
		if first == nil {
			first = perm
		}
		offs = append(offs, off)
		rels = append(rels, rel)
	}
	slices.Sort(offs)
	slices.Sort(rels)
	most := 0
	for _, c := range perms {
		most = max(most, c)
	}
	med, p90 := offs[len(offs)/2], offs[len(offs)*9/10]
	t.Logf("permutations %v; off/diagonal median %.1f dB, 90%% %.1f dB, worst %.1f dB; projection-back error median %.3g, worst %.3g",
		perms, med, p90, offs[len(offs)-1], rels[len(rels)/2], rels[len(rels)-1])
	if s.bins-most > lim.misaligned {
		t.Errorf("%d bins differ from the majority permutation; want at most %d", s.bins-most, lim.misaligned)
	}
	if med > lim.medianDB || p90 > lim.p90DB {
		t.Errorf("off/diagonal power: median %.1f dB, 90th percentile %.1f dB; want below %.0f and %.0f dB", med, p90, lim.medianDB, lim.p90DB)
	}
	if r := rels[len(rels)/2]; r > lim.medianRel {
		t.Errorf("projection back: median relative error %.3g, want < %.3g", r, lim.medianRel)
	}
}

func newTestIVA(t testing.TB, c IVAConfig, mics, bins int) *IVA {
	t.Helper()
	sep, err := NewIVA(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sep.Prepare(mics, bins); err != nil {
		t.Fatal(err)
	}
	return sep
}

func TestIVASeparatesSynthetic(t *testing.T) {
	auxLim := sepLimits{medianDB: -30, p90DB: -20, medianRel: 0.03, misaligned: 0}
	ngLim := sepLimits{medianDB: -22, p90DB: -14, medianRel: 0.1, misaligned: 2}
	for _, tc := range []struct {
		name    string
		n, m    int
		c       IVAConfig
		spectra int
		lim     sepLimits
	}{
		{"aux/2x2", 2, 2, IVAConfig{}, 2000, auxLim},
		{"aux/2x2/rowwise", 2, 2, IVAConfig{RowWise: true}, 2000, auxLim},
		{"aux/3x3", 3, 3, IVAConfig{}, 3000, auxLim},
		{"aux/4mics-2src", 4, 2, IVAConfig{Sources: 2}, 2000, auxLim},
		{"ng/2x2", 2, 2, IVAConfig{Update: UpdateNG}, 6000, ngLim},
		{"ng/3x3", 3, 3, IVAConfig{Update: UpdateNG}, 6000, ngLim},
		{"ng/4mics-2src", 4, 2, IVAConfig{Sources: 2, Update: UpdateNG}, 6000, ngLim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const bins = 64
			s := newSynth(1, tc.n, tc.m, bins, tc.spectra)
			sep := newTestIVA(t, tc.c, tc.n, bins)
			s.run(sep, 0, tc.spectra)
			s.checkSeparated(t, sep, tc.lim)
			if err := sep.Err(); err != nil {
				t.Errorf("Err() = %v on clean input", err)
			}
			if ev := sep.Events(); ev.NonFinite+ev.Singular+ev.Alpha != 0 {
				t.Errorf("events %+v on clean input", ev)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Robustness.

func TestIVANonFiniteBurst(t *testing.T) {
	for _, u := range []Update{UpdateAux, UpdateNG} {
		t.Run(u.String(), func(t *testing.T) {
			const bins, spectra = 64, 5000
			s := newSynth(2, 2, 2, bins, spectra)
			sep := newTestIVA(t, IVAConfig{Update: u}, 2, bins)
			s.run(sep, 0, 2000)
			// A burst of bad spectra: NaN in one bin, Inf in all bins of a mic,
			// and a huge finite value.
			for t0 := 2000; t0 < 2010; t0++ {
				switch t0 % 3 {
				case 0:
					s.mix[t0][0][5] = complex(math.NaN(), 0)
				case 1:
					for f := range s.mix[t0][1] {
						s.mix[t0][1][f] = complex(0, math.Inf(1))
					}
				case 2:
					s.mix[t0][0][7] = complex(math.Inf(-1), math.NaN())
				}
			}
			out := s.run(sep, 2000, spectra)
			for k, o := range out {
				for i := range o {
					for f, v := range o[i] {
						if !finite(v) {
							t.Fatalf("spectrum %d source %d bin %d: output %v", 2000+k, i, f, v)
						}
					}
				}
			}
			if !errors.Is(sep.Err(), ErrIVANonFinite) {
				t.Errorf("Err() = %v, want ErrIVANonFinite", sep.Err())
			}
			if ev := sep.Events(); ev.NonFinite != 10 {
				t.Errorf("NonFinite = %d, want 10", ev.NonFinite)
			}
			lim := sepLimits{medianDB: -30, p90DB: -20, medianRel: 0.03}
			if u == UpdateNG {
				lim = sepLimits{medianDB: -22, p90DB: -14, medianRel: 0.1, misaligned: 2}
			}
			s.checkSeparated(t, sep, lim)
			sep.Reset()
			if sep.Err() != nil || sep.Events() != (IVAEvents{}) {
				t.Errorf("after Reset: Err %v, events %+v", sep.Err(), sep.Events())
			}
		})
	}
}

func TestIVASilence(t *testing.T) {
	for _, c := range []IVAConfig{{}, {Update: UpdateNG}, {Sources: 2}} {
		t.Run(fmt.Sprintf("%v/m=%d", c.Update, c.Sources), func(t *testing.T) {
			const bins = 32
			sep := newTestIVA(t, c, 3, bins)
			zero := alloc2c(3, bins)
			dst := alloc2c(sep.Sources(), bins)
			for k := 0; k < 200; k++ {
				sep.Separate(dst, zero)
				for i := range dst {
					for _, v := range dst[i] {
						if v != 0 {
							t.Fatalf("silent input gave output %v", v)
						}
					}
				}
			}
			if sep.Err() != nil {
				t.Errorf("Err() = %v after silence", sep.Err())
			}
			if ev := sep.Events(); ev.Silent != 200 || ev.NonFinite+ev.Singular+ev.Alpha != 0 {
				t.Errorf("events %+v, want 200 silent spectra only", ev)
			}
			// Then a signal in one bin only, and tiny values: still finite.
			s := newSynth(3, 3, sep.Sources(), bins, 600)
			for k := range s.mix {
				for ch := range s.mix[k] {
					for f := range s.mix[k][ch] {
						if f != 3 {
							s.mix[k][ch][f] = 0
						} else if k > 300 {
							s.mix[k][ch][f] *= 1e-150
						}
					}
				}
			}
			for _, o := range s.run(sep, 0, 600) {
				for i := range o {
					for _, v := range o[i] {
						if !finite(v) {
							t.Fatalf("output %v", v)
						}
					}
				}
			}
		})
	}
}

func TestIVAResetReplay(t *testing.T) {
	for _, c := range []IVAConfig{{}, {Update: UpdateNG}, {Sources: 2}} {
		const bins = 32
		s := newSynth(4, 3, 2, bins, 300)
		if c.Sources == 0 {
			s = newSynth(4, 3, 3, bins, 300)
		}
		sep := newTestIVA(t, c, 3, bins)
		a := s.run(sep, 0, 300)
		sep.Reset()
		b := s.run(sep, 0, 300)
		for k := range a {
			for i := range a[k] {
				if !slices.Equal(a[k][i], b[k][i]) {
					t.Fatalf("%+v: spectrum %d source %d differs after Reset", c, k, i)
				}
			}
		}
	}
}

func TestIVAConfigErrors(t *testing.T) {
	for _, c := range []IVAConfig{
		{Sources: -1}, {Sources: 9}, {Update: 7}, {Memory: -1}, {Memory: 1}, {SpectraPerSecond: -1}, {Warmup: -1},
		{Iterations: -1}, {StepSize: 2}, {AlphaStep: -1}, {SubspaceEvery: -1},
	} {
		if _, err := NewIVA(c); err == nil {
			t.Errorf("NewIVA(%+v) accepted", c)
		}
	}
	sep, _ := NewIVA(IVAConfig{Sources: 3})
	for _, tc := range []struct{ mics, bins int }{{2, 10}, {0, 10}, {9, 10}, {3, 0}} {
		if _, err := sep.Prepare(tc.mics, tc.bins); err == nil {
			t.Errorf("Prepare(%d, %d) accepted for 3 sources", tc.mics, tc.bins)
		}
	}
	if _, err := ParseUpdate("sgd"); err == nil {
		t.Error("ParseUpdate accepted sgd")
	}
}

func TestIVAPanics(t *testing.T) {
	sep := newTestIVA(t, IVAConfig{}, 2, 8)
	for name, f := range map[string]func(){
		"mics":     func() { sep.Separate(alloc2c(2, 8), alloc2c(3, 8)) },
		"sources":  func() { sep.Separate(alloc2c(1, 8), alloc2c(2, 8)) },
		"mix bins": func() { sep.Separate(alloc2c(2, 8), alloc2c(2, 7)) },
		"dst bins": func() { sep.Separate(alloc2c(2, 9), alloc2c(2, 8)) },
		"unprepared": func() {
			u, _ := NewIVA(IVAConfig{})
			u.Separate(alloc2c(2, 8), alloc2c(2, 8))
		},
	} {
		func() {
			defer func() {
				r := recover()
				if msg, ok := r.(string); !ok || len(msg) < 8 || msg[:8] != "online: " {
					t.Errorf("%s: panic %v, want an \"online: \" message", name, r)
				}
			}()
			f()
		}()
	}
}

// The closed-form two-source sweep equals IP1 from its definition.
func TestIVAIP1TwoMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 100; k++ {
		w := randComplex(rng, 4, 1)
		var v []complex128
		for i := 0; i < 2; i++ {
			b := randComplex(rng, 4, 1)
			// V = B·Bᴴ + I/10, Hermitian positive definite
			v = append(v,
				complex(abs2(b[0])+abs2(b[1])+0.1, 0), b[0]*cconj(b[2])+b[1]*cconj(b[3]),
				b[2]*cconj(b[0])+b[3]*cconj(b[1]), complex(abs2(b[2])+abs2(b[3])+0.1, 0))
		}
		want := slices.Clone(w)
		ipOracle(want, v, 2)
		got := slices.Clone(w)
		d, ok := ip1Two(got, v)
		if !ok {
			t.Fatalf("case %d: closed form failed", k)
		}
		dn, wn := 0.0, 0.0
		for j := range got {
			if cmplx.Abs(got[j]-want[j]) > 1e-9*cmplx.Abs(want[j]) {
				t.Fatalf("case %d: W[%d] closed form %v, oracle %v", k, j, got[j], want[j])
			}
			dn += abs2(want[j] - w[j])
			wn += abs2(want[j])
		}
		if math.Abs(d-dn/wn) > 1e-9*d {
			t.Fatalf("case %d: change %g, want %g", k, d, dn/wn)
		}
	}
}

func TestIVASeparateAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		c    IVAConfig
	}{
		{"aux/2x2", 2, IVAConfig{}}, {"aux/2x2/rowwise", 2, IVAConfig{RowWise: true}}, {"aux/3x3", 3, IVAConfig{}},
		{"aux/4mics-2src", 4, IVAConfig{Sources: 2}}, {"aux/8mics-4src", 8, IVAConfig{Sources: 4}},
		{"ng/2x2", 2, IVAConfig{Update: UpdateNG}}, {"ng/4mics-3src", 4, IVAConfig{Sources: 3, Update: UpdateNG}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const bins = 257
			sep := newTestIVA(t, tc.c, tc.n, bins)
			s := newSynth(1, tc.n, sep.Sources(), bins, 16)
			s.mix[5][0][3] = complex(math.NaN(), 0) // the event path must not allocate either
			clear(s.mix[6][0])
			clear(s.mix[6][tc.n-1]) // nor a silent spectrum
			for c := range s.mix[7] {
				clear(s.mix[7][c])
			}
			dst := alloc2c(sep.Sources(), bins)
			k := 0
			if n := testing.AllocsPerRun(100, func() {
				sep.Separate(dst, s.mix[k%16])
				k++
			}); n != 0 {
				t.Fatalf("Separate allocated %v times per call; want 0", n)
			}
			if sep.Events().NonFinite == 0 || sep.Events().Silent == 0 {
				t.Fatalf("events %+v: the NaN and silent spectra were not exercised", sep.Events())
			}
		})
	}
}

// ipOracle is IP1 written directly from its definition: for each source in
// turn, u = (W·(V_i + δI))⁻¹e_i by Gaussian elimination, row i ← uᴴ/√(uᴴ(V_i+δI)u).
func ipOracle(w, vs []complex128, m int) {
	eps := make([]float64, m)
	for i := range eps {
		tr := 0.0
		for k := 0; k < m; k++ {
			tr += real(vs[i*m*m+k*m+k])
		}
		eps[i] = loadRel * tr / float64(m)
	}
	ipOracleLoaded(w, vs, m, eps)
}

func randHPD(rng *rand.Rand, m int) []complex128 {
	b := randComplex(rng, m*m, 1)
	v := make([]complex128, m*m)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			for k := 0; k < m; k++ {
				v[i*m+j] += b[i*m+k] * cconj(b[j*m+k])
			}
		}
		v[i*m+i] += 0.1
	}
	return v
}

// The fast IP1 sweep (Cholesky + Sherman–Morrison) equals the direct one.
func TestIVAIP1MatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for m := 2; m <= maxIVAMics; m++ {
		sep := newTestIVA(t, IVAConfig{RowWise: true}, m, 1)
		for k := 0; k < 20; k++ {
			w := randComplex(rng, m*m, 1)
			var vs []complex128
			for i := 0; i < m; i++ {
				vs = append(vs, randHPD(rng, m)...)
			}
			copy(sep.w, w)
			copy(sep.v, vs)
			if sep.binv != nil {
				invertTo(sep.binv, slices.Clone(w), m, 0)
			}
			sep.t = 1 // not a refresh spectrum: use the kept W⁻¹
			if _, ok := sep.ipBin(0); !ok {
				t.Fatalf("m=%d case %d: ipBin failed", m, k)
			}
			ipOracle(w, vs, m)
			for j := range w {
				if d := cmplx.Abs(w[j] - sep.w[j]); d > 1e-9*(1+cmplx.Abs(w[j])) {
					t.Fatalf("m=%d case %d: W[%d] = %v, oracle %v", m, k, j, sep.w[j], w[j])
				}
			}
		}
	}
}

// IP2 solves both stationarity conditions of the two-source auxiliary
// function at once: w_jᴴ·V_i·w_i = δ_ij (V loaded as in the code), and the
// source with the smaller w1ᴴV1w1/w1ᴴV2w1 is first.
func TestIVAIP2Stationary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 100; k++ {
		w := randComplex(rng, 4, 1)
		vs := append(randHPD(rng, 2), randHPD(rng, 2)...)
		old := slices.Clone(w)
		if _, ok := ip2(w, vs, true); !ok {
			t.Fatalf("case %d: ip2 failed", k)
		}
		loaded := slices.Clone(vs)
		for i := 0; i < 2; i++ {
			tr := real(vs[4*i]) + real(vs[4*i+3])
			loaded[4*i] += complex(loadRel*tr/2, 0)
			loaded[4*i+3] += complex(loadRel*tr/2, 0)
		}
		row := func(i int) []complex128 { return []complex128{cconj(w[2*i]), cconj(w[2*i+1])} } // w_i
		for i := 0; i < 2; i++ {
			vi := loaded[4*i : 4*i+4]
			for j := 0; j < 2; j++ {
				wi, wj := row(i), row(j)
				var q complex128
				for a := 0; a < 2; a++ {
					for b := 0; b < 2; b++ {
						q += cconj(wj[a]) * vi[2*a+b] * wi[b]
					}
				}
				want := complex(0, 0)
				if i == j {
					want = 1
				}
				if cmplx.Abs(q-want) > 1e-9 {
					t.Fatalf("case %d: w_%dᴴ V_%d w_%d = %v, want %v", k, j, i, i, q, want)
				}
			}
		}
		r := func(i int) float64 { return quadForm(loaded[0:4], row(i), 2) / quadForm(loaded[4:8], row(i), 2) }
		if r(0) > r(1) {
			t.Fatalf("case %d: eigenvalue order %g > %g", k, r(0), r(1))
		}
		// each row keeps the phase of the old one: ⟨old_i, new_i⟩ real ≥ 0
		for i := 0; i < 2; i++ {
			d := old[2*i]*cconj(w[2*i]) + old[2*i+1]*cconj(w[2*i+1])
			if math.Abs(imag(d)) > 1e-9*cmplx.Abs(d) || real(d) < 0 {
				t.Fatalf("case %d: row %d phase not kept: ⟨old,new⟩ = %v", k, i, d)
			}
		}
	}
}
