package bsseval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// ---- naive oracle: a line-by-line transcription of mir_eval.separation ----
//
// The oracle follows mir_eval 0.7/0.8 (_project, _bss_decomp_mtifilt,
// _bss_source_crit, bss_eval_sources) without any of the package's
// shortcuts: G and D are plain time-domain inner products of explicitly
// delayed signals, the system is solved by LU (np.linalg.solve), the
// projection is a direct convolution, the decomposition is built term by
// term (s_true, e_spat, e_interf, e_artif) and every pair calls _project
// twice. It is O((K·flen)²·n), so it is run with short filters.

// oracleProject is mir_eval's _project.
func oracleProject(refs [][]float64, est []float64, flen int) []float64 {
	k, n := len(refs), len(refs[0])
	m := n + flen - 1
	delayed := func(s []float64, d, t int) float64 {
		if t-d < 0 || t-d >= len(s) {
			return 0
		}
		return s[t-d]
	}
	kl := k * flen
	g := mat.NewDense(kl, kl, nil)
	dv := mat.NewVecDense(kl, nil)
	for i := range k {
		for p := range flen {
			for j := range k {
				for q := range flen {
					var s float64
					for t := range m {
						s += delayed(refs[i], p, t) * delayed(refs[j], q, t)
					}
					g.Set(i*flen+p, j*flen+q, s)
				}
			}
			var s float64
			for t := range m {
				s += delayed(refs[i], p, t) * delayed(est, 0, t)
			}
			dv.SetVec(i*flen+p, s)
		}
	}
	var c mat.VecDense
	if err := c.SolveVec(g, dv); err != nil {
		// Singular G (K·flen > n+flen-1): mir_eval's np.linalg.lstsq branch,
		// minimum-norm solution with numpy's default rcond.
		var svd mat.SVD
		if !svd.Factorize(g, mat.SVDThin) {
			panic("oracle: SVD failed")
		}
		sv := svd.Values(nil)
		rank := 0
		for _, v := range sv {
			if v > sv[0]*float64(kl)*0x1p-52 {
				rank++
			}
		}
		svd.SolveVecTo(&c, dv, rank)
	}
	sproj := make([]float64, m)
	for i := range k {
		for p := range flen {
			cp := c.AtVec(i*flen + p)
			for t := range m {
				sproj[t] += cp * delayed(refs[i], p, t)
			}
		}
	}
	return sproj
}

// oracleCrit is _bss_decomp_mtifilt followed by _bss_source_crit.
func oracleCrit(refs [][]float64, est []float64, j, flen int) (sdr, sir, sar float64) {
	n := len(est)
	m := n + flen - 1
	sTrue := make([]float64, m)
	copy(sTrue, refs[j])
	pj := oracleProject(refs[j:j+1], est, flen)
	pAll := oracleProject(refs, est, flen)
	eSpat, eInterf, eArtif := make([]float64, m), make([]float64, m), make([]float64, m)
	for t := range m {
		eSpat[t] = pj[t] - sTrue[t]
		eInterf[t] = pAll[t] - sTrue[t] - eSpat[t]
		eArtif[t] = -sTrue[t] - eSpat[t] - eInterf[t]
		if t < n {
			eArtif[t] += est[t]
		}
	}
	var filt, ia, in, fi, ar float64
	for t := range m {
		sf := sTrue[t] + eSpat[t]
		filt += sf * sf
		ia += (eInterf[t] + eArtif[t]) * (eInterf[t] + eArtif[t])
		in += eInterf[t] * eInterf[t]
		fi += (sf + eInterf[t]) * (sf + eInterf[t])
		ar += eArtif[t] * eArtif[t]
	}
	return safeDB(filt, ia), safeDB(filt, in), safeDB(fi, ar)
}

// oraclePerms lists the permutations of 0..k-1 in itertools order.
func oraclePerms(k int) [][]int {
	if k == 0 {
		return [][]int{{}}
	}
	var out [][]int
	var rec func(prefix []int, rest []int)
	rec = func(prefix, rest []int) {
		if len(rest) == 0 {
			out = append(out, slices.Clone(prefix))
			return
		}
		for i, v := range rest {
			r := append(slices.Clone(rest[:i]), rest[i+1:]...)
			rec(append(prefix, v), r)
		}
	}
	rec(nil, slices.Sorted(slices.Values(func() []int {
		s := make([]int, k)
		for i := range s {
			s[i] = i
		}
		return s
	}())))
	return out
}

// oracleSources is bss_eval_sources with compute_permutation=True.
func oracleSources(refs, ests [][]float64, flen int) Result {
	k := len(refs)
	sdr, sir, sar := square(k), square(k), square(k)
	for i := range k {
		for j := range k {
			sdr[i][j], sir[i][j], sar[i][j] = oracleCrit(refs, ests[i], j, flen)
		}
	}
	perms := oraclePerms(k)
	best, bestMean := 0, math.Inf(-1)
	for c, perm := range perms {
		var s float64
		for j, i := range perm {
			s += sir[i][j]
		}
		if m := s / float64(k); c == 0 || m > bestMean {
			best, bestMean = c, m
		}
	}
	return pick(sdr, sir, sar, perms[best])
}

// testSignals returns k references and k estimates of n samples: each
// estimate is a filtered mixture of the references (estimate i mostly
// reference perm[i]) plus white noise, so all three criteria are finite and
// moderate.
func testSignals(rng *rand.Rand, k, n int, perm []int) (refs, ests [][]float64) {
	refs = make([][]float64, k)
	for j := range refs {
		refs[j] = make([]float64, n)
		// Mildly coloured: first-order recursion, different per source.
		var y float64
		a := 0.3 + 0.5*float64(j)/float64(k)
		for t := range refs[j] {
			y = a*y + rng.NormFloat64()
			refs[j][t] = y
		}
	}
	ests = make([][]float64, k)
	for i := range ests {
		e := make([]float64, n)
		for j := range k {
			w := 0.25 * rng.Float64()
			if j == perm[i] {
				w = 1
			}
			for t := range e {
				e[t] += w * refs[j][t]
				if t >= 2 {
					e[t] += 0.3 * w * refs[j][t-2]
				}
			}
		}
		for t := range e {
			e[t] += 0.2 * rng.NormFloat64()
		}
		ests[i] = e
	}
	return refs, ests
}

func TestSourcesMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		k, n, flen int
		perm       []int
		delayed    bool // reference 1 := reference 0 delayed by 2 samples
	}{
		{1, 50, 1, []int{0}, false},
		{1, 37, 8, []int{0}, false},
		{2, 100, 1, []int{1, 0}, false},
		{2, 129, 16, []int{0, 1}, false},
		{1, 10, 16, []int{0}, false},    // window shorter than the filter, as framewise win 500 < 512
		{2, 10, 16, []int{1, 0}, false}, // singular G: K·flen > n+flen-1, SAR at roundoff (see below)
		{2, 100, 8, []int{0, 1}, true},  // G singular, but SAR finite
		{3, 90, 12, []int{2, 0, 1}, false},
		{3, 64, 5, []int{1, 2, 0}, false},
		{4, 70, 6, []int{3, 1, 0, 2}, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("K%d_n%d_L%d_delayed%v", c.k, c.n, c.flen, c.delayed), func(t *testing.T) {
			refs, ests := testSignals(rng, c.k, c.n, c.perm)
			if c.delayed {
				copy(refs[1][2:], refs[0])
				refs[1][0], refs[1][1] = 0, 0
			}
			want := oracleSources(refs, ests, c.flen)
			sdr, sir, sar := pairCriteria(refs, ests, c.flen)
			got := pick(sdr, sir, sar, bestPerm(sir))
			if !slices.Equal(got.Perm, want.Perm) {
				t.Fatalf("perm %v, oracle %v", got.Perm, want.Perm)
			}
			// SourcesPerm with the chosen pairing reproduces the numbers.
			fixed := sourcesPerm(refs, ests, got.Perm, c.flen)
			for j := range c.k {
				if fixed.SDR[j] != got.SDR[j] || fixed.SIR[j] != got.SIR[j] || fixed.SAR[j] != got.SAR[j] {
					t.Errorf("sourcesPerm reference %d: %v %v %v, search gave %v %v %v",
						j, fixed.SDR[j], fixed.SIR[j], fixed.SAR[j], got.SDR[j], got.SIR[j], got.SAR[j])
				}
			}
			// With K·flen > n+flen-1 the delayed references span every
			// signal of length n+flen-1: there are no artefacts, and SAR
			// (+Inf in exact arithmetic) is the ratio of the signal to
			// rounding noise, > 200 dB on both sides but not comparable.
			spansAll := c.k*c.flen > c.n+c.flen-1
			for j := range c.k {
				if spansAll {
					if got.SAR[j] < 200 || want.SAR[j] < 200 {
						t.Errorf("reference %d SAR = %.1f, oracle %.1f; want both > 200 dB", j, got.SAR[j], want.SAR[j])
					}
					got.SAR[j], want.SAR[j] = 0, 0
				}
				for _, m := range []struct {
					name      string
					got, want float64
				}{{"SDR", got.SDR[j], want.SDR[j]}, {"SIR", got.SIR[j], want.SIR[j]}, {"SAR", got.SAR[j], want.SAR[j]}} {
					// Both sides are double precision; K=1 SIR is +Inf on both.
					if m.got != m.want && !(math.Abs(m.got-m.want) < 1e-8) {
						t.Errorf("reference %d %s = %.12f, oracle %.12f", j, m.name, m.got, m.want)
					}
				}
			}
			// The planted pairing: estimate i is mostly reference perm[i]
			// (not identifiable when the references are delayed copies).
			for i, j := range c.perm {
				if c.delayed {
					break
				}
				if got.Perm[j] != i {
					t.Errorf("reference %d paired with estimate %d, planted %d", j, got.Perm[j], i)
				}
			}
		})
	}
}

func TestSourcesPermIdentityAndMixture(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	refs, ests := testSignals(rng, 3, 2000, []int{0, 1, 2})
	a, err := Sources(refs, ests)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SourcesPerm(refs, ests, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Perm, []int{0, 1, 2}) || !slices.Equal(b.Perm, []int{0, 1, 2}) {
		t.Fatalf("perms %v %v, want identity", a.Perm, b.Perm)
	}
	for j := range 3 {
		if a.SDR[j] != b.SDR[j] || a.SIR[j] != b.SIR[j] || a.SAR[j] != b.SAR[j] {
			t.Errorf("reference %d: Sources %v/%v/%v, SourcesPerm %v/%v/%v", j, a.SDR[j], a.SIR[j], a.SAR[j], b.SDR[j], b.SIR[j], b.SAR[j])
		}
	}
	// Mixture baseline: every estimate is the sum of the references. A sum
	// of the references is exactly in the span, so there are no artefacts
	// (SAR very high) and SIR is the reference's share of the mixture.
	mix := make([]float64, 2000)
	for _, r := range refs {
		for t, v := range r {
			mix[t] += v
		}
	}
	base, err := SourcesPerm(refs, [][]float64{mix, mix, mix}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j := range 3 {
		if base.SAR[j] < 150 {
			t.Errorf("mixture baseline reference %d: SAR %.1f dB, want > 150 (mixture is in the span)", j, base.SAR[j])
		}
		if base.SIR[j] > 10 || base.SIR[j] < -10 {
			t.Errorf("mixture baseline reference %d: SIR %.2f dB, want near 10·log10(1/2) ≈ -3", j, base.SIR[j])
		}
		if a.SIR[j] <= base.SIR[j] {
			t.Errorf("reference %d: estimate SIR %.2f not above mixture %.2f", j, a.SIR[j], base.SIR[j])
		}
	}
}

func TestBestPermTieBreaking(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	cases := []struct {
		name string
		sir  [][]float64
		want []int
	}{
		{"all equal: first (identity)", [][]float64{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, []int{0, 1, 2}},
		{"clear winner", [][]float64{{0, 9}, {9, 0}}, []int{1, 0}},
		// (0,2,1) and (1,0,2)... both reach +Inf; (0,2,1) comes first.
		{"infinite tie: first lexicographic", [][]float64{{5, 0, 0}, {0, 0, inf}, {0, inf, 0}}, []int{0, 2, 1}},
		// np.argmax returns the first NaN.
		{"NaN wins", [][]float64{{9, 0}, {nan, 0}}, []int{1, 0}},
		{"all -Inf: first", [][]float64{{math.Inf(-1), math.Inf(-1)}, {math.Inf(-1), math.Inf(-1)}}, []int{0, 1}},
	}
	for _, c := range cases {
		if got := bestPerm(c.sir); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNextPermLexicographic(t *testing.T) {
	for k := 1; k <= 5; k++ {
		want := oraclePerms(k)
		p := want[0]
		p = slices.Clone(p)
		var got [][]int
		for {
			got = append(got, slices.Clone(p))
			if !nextPerm(p) {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("k=%d: %v, itertools order %v", k, got, want)
		}
	}
}

func TestSISDR(t *testing.T) {
	// Value given in the issue; by hand: α = <ŝ,s>/<s,s> = 67.5/62.25,
	// ‖αs‖² = 67.5²/62.25 = 73.19277, and by orthogonality
	// ‖αs − ŝ‖² = ‖ŝ‖² − ‖αs‖² = 74.25 − 73.19277 = 1.05723;
	// 10·log10(73.19277/1.05723) = 18.4030.
	got := SISDR([]float64{3, -0.5, 2, 7}, []float64{2.5, 0, 2, 8})
	if math.Abs(got-18.4030) > 5e-5 {
		t.Errorf("SISDR = %.6f, want 18.4030", got)
	}
	// Scale invariance: scaling the estimate does not change the value.
	if g2 := SISDR([]float64{3, -0.5, 2, 7}, []float64{-5, 0, -4, -16}); math.Abs(g2-got) > 1e-12 {
		t.Errorf("SISDR of -2·est = %.12f, want %.12f", g2, got)
	}
	if g := SISDR([]float64{1, 2}, []float64{2, 4}); !math.IsInf(g, 1) {
		t.Errorf("exact multiple: %v, want +Inf", g)
	}
	if g := SISDR([]float64{0, 0}, []float64{1, 4}); !math.IsNaN(g) {
		t.Errorf("zero reference: %v, want NaN", g)
	}
	if g := SISDR([]float64{1, 4}, []float64{0, 0}); !math.IsNaN(g) {
		t.Errorf("zero estimate: %v, want NaN", g)
	}
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "bsseval: ") {
			t.Errorf("length mismatch: recovered %v, want a bsseval panic", r)
		}
	}()
	SISDR([]float64{1}, []float64{1, 2})
}

func TestErrors(t *testing.T) {
	ok := []float64{1, 2, 3}
	cases := []struct {
		name       string
		refs, ests [][]float64
		want       string
	}{
		{"no sources", nil, nil, "no sources"},
		{"no samples", [][]float64{{}}, [][]float64{{}}, "no samples"},
		{"count", [][]float64{ok, ok}, [][]float64{ok}, "2 reference sources but 1 estimates"},
		{"length", [][]float64{ok, {1, 2}}, [][]float64{ok, ok}, "reference 1 has 2 samples"},
		{"est length", [][]float64{ok}, [][]float64{{1}}, "estimate 0 has 1 samples"},
		{"silent ref", [][]float64{ok, {0, 0, 0}}, [][]float64{ok, ok}, "reference 1 is all zeros"},
		{"silent est", [][]float64{ok, ok}, [][]float64{{0, 0, 0}, ok}, "estimate 0 is all zeros"},
		{"NaN", [][]float64{{1, math.NaN(), 3}}, [][]float64{ok}, "reference 0 has a non-finite sample (NaN) at index 1"},
	}
	for _, c := range cases {
		_, err := Sources(c.refs, c.ests)
		if err == nil || !strings.HasPrefix(err.Error(), "bsseval: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if _, err2 := SourcesPerm(c.refs, c.ests, nil); fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Errorf("%s: SourcesPerm error %v, Sources %v", c.name, err2, err)
		}
	}
	two := [][]float64{ok, {3, 1, 2}}
	for _, perm := range [][]int{{0}, {0, 0}, {0, 2}, {-1, 0}} {
		if _, err := SourcesPerm(two, two, perm); err == nil || !strings.HasPrefix(err.Error(), "bsseval: ") {
			t.Errorf("perm %v: error %v", perm, err)
		}
	}
	if _, err := Framewise(two, two, 0, 1, nil); err == nil {
		t.Error("Framewise window 0: no error")
	}
	if _, err := Framewise(two, two, 2, -1, nil); err == nil {
		t.Error("Framewise hop -1: no error")
	}
	many := make([][]float64, MaxPermSources+1)
	for i := range many {
		many[i] = []float64{float64(i + 1)}
	}
	if _, err := Sources(many, many); err == nil || !strings.Contains(err.Error(), "use SourcesPerm") {
		t.Errorf("%d sources: error %v", len(many), err)
	}
}

func TestFramewiseSilentAndShort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	refs, ests := testSignals(rng, 2, 3000, []int{0, 1})
	// Silence reference 1 in samples [1000, 2000): window 1 of win=hop=1000.
	for t := 1000; t < 2000; t++ {
		refs[1][t] = 0
	}
	res, err := Framewise(refs, ests, 1000, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d windows, want 3", len(res))
	}
	for w, r := range res {
		silent := w == 1
		if silent != (r.Perm == nil) {
			t.Errorf("window %d: perm %v", w, r.Perm)
		}
		for j := range 2 {
			if silent != math.IsNaN(r.SDR[j]) || silent != math.IsNaN(r.SIR[j]) || silent != math.IsNaN(r.SAR[j]) {
				t.Errorf("window %d reference %d: %v %v %v", w, j, r.SDR[j], r.SIR[j], r.SAR[j])
			}
		}
	}
	// Window 2 equals SourcesPerm on that slice.
	want, err := SourcesPerm([][]float64{refs[0][2000:], refs[1][2000:]}, [][]float64{ests[0][2000:], ests[1][2000:]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(want) != fmt.Sprint(res[2]) {
		t.Errorf("window 2 %v, SourcesPerm %v", res[2], want)
	}
	// Fewer than two windows: one result for the whole signal, as mir_eval.
	whole, err := Framewise(refs, ests, 2000, 2000, []int{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	want, _ = SourcesPerm(refs, ests, []int{1, 0})
	if len(whole) != 1 || fmt.Sprint(whole[0]) != fmt.Sprint(want) {
		t.Errorf("short signal: %v, want [%v]", whole, want)
	}
}

func TestSolverSingularFallback(t *testing.T) {
	// [[1 1] [1 1]] is PSD and singular: Cholesky fails at the second pivot
	// and the ridge retry gives the minimum-norm least-squares solution (as
	// np.linalg.lstsq) x = [1 1] for b = [2 2], to rounding level.
	s := newSolver(2, []float64{1, 1, 1, 1})
	if s.chol.N != 2 || s.ridge == 0 || s.ridge > 1e-12 {
		t.Fatalf("solver %+v: want a Cholesky factor with a tiny ridge", s)
	}
	var x mat.Dense
	s.solve(&x, mat.NewDense(2, 1, []float64{2, 2}))
	if math.Abs(x.At(0, 0)-1) > 1e-12 || math.Abs(x.At(1, 0)-1) > 1e-12 {
		t.Errorf("x = %v, want [1 1]", mat.Formatted(&x))
	}
	// [[1 2] [2 1]] is indefinite (never a Gram matrix): no small ridge
	// helps, and the SVD last resort solves it: b = [3 3] gives x = [1 1].
	s = newSolver(2, []float64{1, 2, 2, 1})
	if s.chol.N != 0 || s.svd == nil || s.rank != 2 {
		t.Fatalf("solver %+v: want the SVD fallback of rank 2", s)
	}
	s.solve(&x, mat.NewDense(2, 1, []float64{3, 3}))
	if math.Abs(x.At(0, 0)-1) > 1e-12 || math.Abs(x.At(1, 0)-1) > 1e-12 {
		t.Errorf("x = %v, want [1 1]", mat.Formatted(&x))
	}

	// End to end: two identical references make G exactly singular; the
	// estimate equal to them is fully explained (SDR and SAR very high).
	rng := rand.New(rand.NewPCG(1, 1))
	r := make([]float64, 300)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	res := sourcesPerm([][]float64{r, r}, [][]float64{r, r}, []int{0, 1}, 8)
	for j := range 2 {
		if math.IsNaN(res.SDR[j]) || res.SDR[j] < 100 || res.SAR[j] < 100 {
			t.Errorf("reference %d: SDR %v SAR %v, want > 100 dB", j, res.SDR[j], res.SAR[j])
		}
	}
}

// ---- benchmarks ----

func BenchmarkSources(b *testing.B) {
	const rate, seconds = 16000, 10
	for _, k := range []int{2, 4} {
		b.Run(fmt.Sprintf("K%d_10s_16kHz", k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			perm := make([]int, k)
			for i := range perm {
				perm[i] = (i + 1) % k
			}
			refs, ests := testSignals(rng, k, rate*seconds, perm)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sources(refs, ests); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(seconds/(b.Elapsed().Seconds()/float64(b.N)), "x-realtime")
		})
	}
}
