package online

import (
	"errors"
	"github.com/livesep/livesep/internal/shareddata"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"

	"github.com/livesep/livesep/internal/bsseval"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
	"github.com/livesep/livesep/stream/wav"
)

// icaSource draws one sample of a unit-scale super-Gaussian source.
func icaSource(rng *rand.Rand, kind string) float64 {
	switch kind {
	case "logistic":
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return math.Log(u / (1 - u))
	default: // Laplacian
		v := rng.ExpFloat64()
		if rng.IntN(2) == 0 {
			v = -v
		}
		return v
	}
}

// icaTestMix returns m sources (m×t), a random n×m mixing matrix A and the
// mixture X = A·S (n×t), all seeded.
func icaTestMix(rng *rand.Rand, n, m, t int, kind string) (s, a, x [][]float64) {
	s = make([][]float64, m)
	for i := range s {
		s[i] = make([]float64, t)
		for k := range s[i] {
			s[i][k] = icaSource(rng, kind)
		}
	}
	a = make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, m)
		for j := range a[i] {
			a[i][j] = rng.NormFloat64()
		}
	}
	x = icaMix(a, s)
	return s, a, x
}

func icaMix(a, s [][]float64) [][]float64 {
	x := make([][]float64, len(a))
	for i := range x {
		x[i] = make([]float64, len(s[0]))
		for j := range s {
			for k, v := range s[j] {
				x[i][k] += a[i][j] * v
			}
		}
	}
	return x
}

// icaCrosstalkDB returns, for the global system C = W·A, the worst over
// rows of 10·log10(Σ_{j≠p(i)} C_ij² / C_ip(i)²), p(i) being the row's
// largest entry, and false if two rows pick the same source.
func icaCrosstalkDB(w, a [][]float64) (float64, bool) {
	m := len(w)
	worst := math.Inf(-1)
	used := make([]bool, len(a[0]))
	for i := 0; i < m; i++ {
		c := make([]float64, len(a[0]))
		for j := range c {
			for k := range a {
				c[j] += w[i][k] * a[k][j]
			}
		}
		p := 0
		for j := range c {
			if math.Abs(c[j]) > math.Abs(c[p]) {
				p = j
			}
		}
		if used[p] {
			return 0, false
		}
		used[p] = true
		off := 0.0
		for j := range c {
			if j != p {
				off += c[j] * c[j]
			}
		}
		worst = math.Max(worst, 10*math.Log10(off/(c[p]*c[p])))
	}
	return worst, true
}

// icaRun feeds x through p in blocks of the lengths next returns and
// returns the outputs.
func icaRun(p *ICA, x [][]float64, next func() int) [][]float64 {
	n, t := len(x), len(x[0])
	m := p.Sources()
	src := make([][]float32, n)
	dst := make([][]float32, m)
	out := make([][]float64, m)
	for i := range out {
		out[i] = make([]float64, t)
	}
	for k0 := 0; k0 < t; {
		k1 := min(t, k0+next())
		for c := range src {
			src[c] = make([]float32, k1-k0)
			for k := k0; k < k1; k++ {
				src[c][k-k0] = float32(x[c][k])
			}
		}
		for i := range dst {
			dst[i] = make([]float32, k1-k0)
		}
		p.Process(dst, src)
		for i := range dst {
			for k := k0; k < k1; k++ {
				out[i][k] = float64(dst[i][k-k0])
			}
		}
		k0 = k1
	}
	return out
}

func icaFixed(n int) func() int { return func() int { return n } }

func icaNew(t *testing.T, c ICAConfig, channels int) *ICA {
	t.Helper()
	p, err := NewICA(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: channels, MaxFrames: 512}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestICAScore(t *testing.T) {
	for _, alpha := range []float64{0.01, 0.5, 1.8, 7, 300} {
		for _, u := range []float64{-30, -3, -0.7, -1e-3, 0, 2e-3, 0.4, 2.5, 25} {
			y := u / alpha
			got := icaScore(alpha, y)
			want := -fd.Derivative(func(y float64) float64 { return icaLogDensity(alpha, y) }, y,
				&fd.Settings{Formula: fd.Central, Step: 1e-4 / alpha})
			if d := math.Abs(got - want); d > 1e-6*alpha {
				t.Errorf("α=%v y=%v: φ=%v, −∂log p/∂y=%v", alpha, y, got, want)
			}
			// β = φ/y, continuous at 0.
			if y != 0 {
				if b := icaWeight(alpha, y); math.Abs(b-got/y) > 1e-9*math.Abs(b) {
					t.Errorf("α=%v y=%v: β=%v, φ/y=%v", alpha, y, b, got/y)
				}
			}
		}
		if b := icaWeight(alpha, 0); b != alpha*alpha/2 {
			t.Errorf("β(0) = %v, want α²/2 = %v", b, alpha*alpha/2)
		}
		// The density integrates to one.
		sum, h := 0.0, 1e-3/alpha
		for y := -60 / alpha; y < 60/alpha; y += h {
			sum += math.Exp(icaLogDensity(alpha, y)) * h
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("α=%v: ∫p = %v", alpha, sum)
		}
	}
}

// icaLogLik is log L = Σ_i Σ_j log p_i(Y_ij) + t·log|det W| for square W.
func icaLogLik(w []float64, alpha []float64, x [][]float64) float64 {
	m, t := len(alpha), len(x[0])
	W := mat.NewDense(m, m, append([]float64(nil), w...))
	ll := float64(t) * math.Log(math.Abs(mat.Det(W)))
	for i := 0; i < m; i++ {
		for k := 0; k < t; k++ {
			y := 0.0
			for c := 0; c < m; c++ {
				y += w[i*m+c] * x[c][k]
			}
			ll += icaLogDensity(alpha[i], y)
		}
	}
	return ll
}

func TestICAGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const m, T = 3, 200
	_, _, x := icaTestMix(rng, m, m, T, "laplace")
	xCopy := make([][]float64, m)
	for i := range x {
		xCopy[i] = append([]float64(nil), x[i]...)
	}
	w := make([]float64, m*m)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	alpha := []float64{0.7, 1.9, 3.1}
	wCopy, aCopy := append([]float64(nil), w...), append([]float64(nil), alpha...)

	// Analytic plain gradient: ∂logL/∂W = t·W^{-T} − φ(Y)·Xᵀ.
	W := mat.NewDense(m, m, append([]float64(nil), w...))
	var winv mat.Dense
	if err := winv.Inverse(W); err != nil {
		t.Fatal(err)
	}
	y := make([]float64, m*T)
	for i := 0; i < m; i++ {
		for k := 0; k < T; k++ {
			for c := 0; c < m; c++ {
				y[i*T+k] += w[i*m+c] * x[c][k]
			}
		}
	}
	grad := make([]float64, m*m)
	for i := 0; i < m; i++ {
		for c := 0; c < m; c++ {
			g := float64(T) * winv.At(c, i)
			for k := 0; k < T; k++ {
				g -= icaScore(alpha[i], y[i*T+k]) * x[c][k]
			}
			grad[i*m+c] = g
		}
	}
	num := fd.Gradient(nil, func(v []float64) float64 { return icaLogLik(v, alpha, x) }, w,
		&fd.Settings{Formula: fd.Central, Step: 1e-6})
	for k := range grad {
		if d := math.Abs(grad[k] - num[k]); d > 1e-5*(1+math.Abs(num[k])) {
			t.Errorf("∂logL/∂W[%d]: analytic %v, central difference %v", k, grad[k], num[k])
		}
	}

	// The natural gradient the code uses: H·W with H = I − ⟨φ(y)yᵀ⟩ equals
	// (1/t)·∂logL/∂W·WᵀW.
	h := make([]float64, m*m)
	th := make([]float64, m*T)
	for i := 0; i < m; i++ {
		icaTanhTo(th[i*T:(i+1)*T], y[i*T:(i+1)*T], alpha[i])
	}
	icaNaturalTo(h, y, th, alpha, m, T)
	var ng, want mat.Dense
	ng.Mul(mat.NewDense(m, m, h), W)
	want.Mul(mat.NewDense(m, m, num), W.T())
	want.Mul(&want, W)
	want.Scale(1/float64(T), &want)
	if !mat.EqualApprox(&ng, &want, 1e-6) {
		t.Errorf("H·W =\n%v\nwant (1/t)·∇·WᵀW =\n%v", mat.Formatted(&ng), mat.Formatted(&want))
	}

	// ∂logL/∂α_i = t/α_i − Σ_j Y_ij tanh(α_i Y_ij/2).
	numA := fd.Gradient(nil, func(a []float64) float64 { return icaLogLik(w, a, x) }, alpha,
		&fd.Settings{Formula: fd.Central, Step: 1e-6})
	for i := 0; i < m; i++ {
		got := float64(T) * icaAlphaGrad(alpha[i], y[i*T:(i+1)*T], th[i*T:(i+1)*T])
		if d := math.Abs(got - numA[i]); d > 1e-5*(1+math.Abs(numA[i])) {
			t.Errorf("∂logL/∂α_%d: analytic %v, central difference %v", i, got, numA[i])
		}
	}

	// Inputs unmodified.
	for i := range x {
		for k := range x[i] {
			if x[i][k] != xCopy[i][k] {
				t.Fatal("x modified")
			}
		}
	}
	for i := range w {
		if w[i] != wCopy[i] {
			t.Fatal("W modified")
		}
	}
	for i := range alpha {
		if alpha[i] != aCopy[i] {
			t.Fatal("α modified")
		}
	}
}

// icaTwoBlocks prepares an ICA on a stationary 3×3 Laplacian mixture and
// runs one block, so that the second block is an ordinary update.
func icaTwoBlocks(t *testing.T, c ICAConfig) (p *ICA, second [][]float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	B := c.Block
	_, _, x := icaTestMix(rng, 3, 3, 2*B, "laplace")
	p = icaNew(t, c, 3)
	first := make([][]float64, 3)
	second = make([][]float64, 3)
	for i := range x {
		for k := range x[i] { // Process sees float32 samples
			x[i][k] = float64(float32(x[i][k]))
		}
		first[i], second[i] = x[i][:B], x[i][B:]
	}
	icaRun(p, first, icaFixed(B))
	if p.learnt != 1 {
		t.Fatalf("first block not learnt (learnt=%d)", p.learnt)
	}
	return p, second
}

// TestICANaturalStepOracle checks one online natural-gradient step against
// the same step computed naively with gonum on the same block.
func TestICANaturalStepOracle(t *testing.T) {
	const B = 96
	cfg := ICAConfig{Block: B, Update: UpdateNG, StepSize: 0.3, MinStepSize: 0.3, AlphaStep: 0.2}
	p, x := icaTwoBlocks(t, cfg)
	m := 3
	w1 := mat.NewDense(m, m, append([]float64(nil), p.core.w...))
	a1 := append([]float64(nil), p.core.alpha...)
	icaRun(p, x, icaFixed(7)) // odd Process sizes: the block is still B frames
	if p.learnt != 2 {
		t.Fatalf("second block not learnt")
	}
	g := p.gain // the normalisation the second block was learnt with
	X := mat.NewDense(m, B, nil)
	for c := 0; c < m; c++ {
		for k := 0; k < B; k++ {
			X.Set(c, k, g*x[c][k])
		}
	}
	var Y mat.Dense
	Y.Mul(w1, X)
	H := mat.NewDense(m, m, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			s := 0.0
			for k := 0; k < B; k++ {
				s += a1[i] * math.Tanh(a1[i]*Y.At(i, k)/2) * Y.At(j, k)
			}
			v := -s / B
			if i == j {
				v++
			}
			H.Set(i, j, v)
		}
	}
	mu := cfg.StepSize / (1 + cfg.StepSize*mat.Norm(H, 2))
	var w2 mat.Dense
	w2.Mul(H, w1)
	w2.Scale(mu, &w2)
	w2.Add(w1, &w2)
	if got := mat.NewDense(m, m, p.core.w); !mat.EqualApprox(got, &w2, 1e-12) {
		t.Errorf("online W after one step:\n%v\nnaive W + μH W:\n%v", mat.Formatted(got), mat.Formatted(&w2))
	}
	for i := 0; i < m; i++ {
		s := 0.0
		for k := 0; k < B; k++ {
			y := Y.At(i, k)
			s += y * math.Tanh(a1[i]*y/2)
		}
		h := cfg.AlphaStep * a1[i] * (1/a1[i] - s/B)
		want := a1[i] * (1 + h/(1+math.Abs(h)))
		if got := p.core.alpha[i]; math.Abs(got-want) > 1e-12*want {
			t.Errorf("α_%d = %v, want %v", i, got, want)
		}
	}
}

// TestICAAuxStepOracle checks one online iterative-projection step against
// the naive computation: V_i ← λV_i + (1−λ)⟨β_i(y_i) x xᵀ⟩, then row by row
// w_i = (W V_i)^{-1} e_i / √(w_iᵀ V_i w_i).
func TestICAAuxStepOracle(t *testing.T) {
	const B = 80
	cfg := ICAConfig{Block: B}
	p, x := icaTwoBlocks(t, cfg)
	m := 3
	w := mat.NewDense(m, m, append([]float64(nil), p.core.w...))
	a1 := append([]float64(nil), p.core.alpha...)
	v0 := append([]float64(nil), p.core.v...)
	icaRun(p, x, icaFixed(B))
	if p.learnt != 2 {
		t.Fatalf("second block not learnt")
	}
	lam := math.Min(p.lam, 1-1/(1+p.Config().Warmup))
	g := p.gain
	X := mat.NewDense(m, B, nil)
	for c := 0; c < m; c++ {
		for k := 0; k < B; k++ {
			X.Set(c, k, g*x[c][k])
		}
	}
	var Y mat.Dense
	Y.Mul(w, X)
	for i := 0; i < m; i++ {
		V := mat.NewDense(m, m, append([]float64(nil), v0[i*m*m:(i+1)*m*m]...))
		V.Scale(lam, V)
		for k := 0; k < B; k++ {
			y := Y.At(i, k)
			beta := a1[i] * math.Tanh(a1[i]*y/2) / y
			xk := X.ColView(k)
			var o mat.Dense
			o.Outer((1-lam)*beta/B, xk, xk)
			V.Add(V, &o)
		}
		tr := mat.Trace(V)
		for k := 0; k < m; k++ {
			V.Set(k, k, V.At(k, k)+icaRidge*tr/float64(m))
		}
		var WV mat.Dense
		WV.Mul(w, V)
		e := mat.NewVecDense(m, nil)
		e.SetVec(i, 1)
		var u mat.VecDense
		if err := u.SolveVec(&WV, e); err != nil {
			t.Fatal(err)
		}
		q := mat.Inner(&u, V, &u)
		for k := 0; k < m; k++ {
			w.Set(i, k, u.AtVec(k)/math.Sqrt(q))
		}
	}
	if got := mat.NewDense(m, m, p.core.w); !mat.EqualApprox(got, w, 1e-10) {
		t.Errorf("online W after one step:\n%v\nnaive IP:\n%v", mat.Formatted(got), mat.Formatted(w))
	}
}

func TestICABatchSeparates(t *testing.T) {
	// The thresholds sit a few dB above the statistical floor of 20000
	// samples (about −40 dB for Laplacian, −32 dB for logistic sources,
	// which are closer to Gaussian); both rules reach the same floor.
	for _, tc := range []struct {
		name  string
		n, m  int
		kind  string
		upd   Update
		maxCT float64
	}{
		{"2x2/laplace/aux", 2, 2, "laplace", UpdateAux, -35},
		{"2x2/laplace/ng", 2, 2, "laplace", UpdateNG, -35},
		{"3x3/logistic/aux", 3, 3, "logistic", UpdateAux, -28},
		{"3x3/logistic/ng", 3, 3, "logistic", UpdateNG, -28},
		{"4mics/2src/aux", 4, 2, "laplace", UpdateAux, -35},
		{"4mics/2src/ng", 4, 2, "laplace", UpdateNG, -35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 1))
			s, a, x := icaTestMix(rng, tc.n, tc.m, 20000, tc.kind)
			cfg := ICAConfig{Sources: tc.m, Update: tc.upd, StepSize: 0.5}
			iters := 50
			if tc.upd == UpdateNG {
				iters = 150
			}
			w, alpha, err := cfg.FitBatch(x, iters)
			if err != nil {
				t.Fatal(err)
			}
			ct, ok := icaCrosstalkDB(w, a)
			if !ok || ct > tc.maxCT {
				t.Errorf("W·A cross-talk %.1f dB (distinct sources: %v); want < %v dB", ct, ok, tc.maxCT)
			}
			t.Logf("cross-talk %.1f dB, α %.3f", ct, alpha)
			if tc.upd != UpdateAux {
				return
			}
			// A permuted and scaled mixture separates just as well: the
			// algorithm is equivariant.
			perm := rng.Perm(tc.m)
			a2 := make([][]float64, tc.n)
			for i := range a2 {
				a2[i] = make([]float64, tc.m)
				for j := range a2[i] {
					a2[i][j] = a[i][perm[j]] * float64(j+1) * 1e-3
				}
			}
			w2, _, err := cfg.FitBatch(icaMix(a2, s), iters)
			if err != nil {
				t.Fatal(err)
			}
			ct2, ok := icaCrosstalkDB(w2, a2)
			if !ok || ct2 > tc.maxCT {
				t.Errorf("permuted/scaled mixture: cross-talk %.1f dB; want < %v dB", ct2, tc.maxCT)
			}
		})
	}
}

// TestICARulesAgree checks that the natural gradient and the auxiliary
// function climb to the same maximum of the same likelihood: the products
// α_i·w_i (the only identifiable quantity) agree.
func TestICARulesAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	_, _, x := icaTestMix(rng, 2, 2, 20000, "laplace")
	wa, aa, err := ICAConfig{}.FitBatch(x, 60)
	if err != nil {
		t.Fatal(err)
	}
	wn, an, err := ICAConfig{Update: UpdateNG, StepSize: 0.5}.FitBatch(x, 200)
	if err != nil {
		t.Fatal(err)
	}
	for i := range wa {
		for j := range wa[i] {
			pa, pn := aa[i]*wa[i][j], an[i]*wn[i][j]
			if math.Abs(pa-pn) > 1e-4*(math.Abs(pa)+math.Abs(pn)) {
				t.Errorf("α_%d·w_%d%d: aux %v, ng %v", i, i, j, pa, pn)
			}
		}
	}
}

func TestICAOnlineSeparates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, m    int
		upd     Update
		maxCT   float64
		seconds int
	}{
		{"2x2/aux", 2, 2, UpdateAux, -35, 4},
		{"2x2/ng", 2, 2, UpdateNG, -25, 4},
		{"3x3/aux", 3, 3, UpdateAux, -35, 4},
		{"4mics/2src/aux", 4, 2, UpdateAux, -35, 4},
		{"4mics/2src/ng", 4, 2, UpdateNG, -25, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			_, a, x := icaTestMix(rng, tc.n, tc.m, tc.seconds*16000, "laplace")
			for i := range x { // about −20 dBFS
				for k := range x[i] {
					x[i][k] *= 0.05
				}
			}
			p := icaNew(t, ICAConfig{Sources: tc.m, Update: tc.upd}, tc.n)
			icaRun(p, x, icaFixed(256))
			w := p.DemixingTo(nil)
			ct, ok := icaCrosstalkDB(w, a)
			if !ok || ct > tc.maxCT {
				t.Errorf("W·A cross-talk %.1f dB (distinct: %v); want < %v dB", ct, ok, tc.maxCT)
			}
			if err := p.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
			t.Logf("cross-talk %.1f dB, events %+v", ct, p.Events())
		})
	}
}

// TestICAOutputIsProjectionBack checks the scale fix: after convergence
// output i is source i as heard on channel 0, A_{0,i}·s_i, with its sign.
func TestICAOutputIsProjectionBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s, a, x := icaTestMix(rng, 3, 2, 4*16000, "laplace")
	p := icaNew(t, ICAConfig{Sources: 2}, 3)
	y := icaRun(p, x, icaFixed(100))
	t0 := len(s[0]) - 16000
	for i := range y {
		best, bestErr := -1, math.Inf(1)
		for j := range s {
			e, r := 0.0, 0.0
			for k := t0; k < len(s[0]); k++ {
				d := y[i][k] - a[0][j]*s[j][k]
				e += d * d
				r += a[0][j] * s[j][k] * a[0][j] * s[j][k]
			}
			if db := 10 * math.Log10(e/r); db < bestErr {
				best, bestErr = j, db
			}
		}
		if bestErr > -30 {
			t.Errorf("output %d: best match source %d at %.1f dB error relative to its image on channel 0; want < −30 dB", i, best, bestErr)
		}
		t.Logf("output %d = image of source %d on channel 0 within %.1f dB", i, best, bestErr)
	}
}

func TestICAContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		cfg  ICAConfig
		max  int
	}{
		{"2x2/aux", 2, ICAConfig{}, 256},
		{"3mics/2src/ng", 3, ICAConfig{Sources: 2, Update: UpdateNG, Block: 50}, 97},
		{"4x4/aux/block1000", 4, ICAConfig{Block: 1000}, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewICA(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			streamtest.CheckProcessor(t, p, stream.Spec{Rate: 16000, Channels: tc.n, MaxFrames: tc.max}, streamtest.Options{})
		})
	}
}

// icaSpeechLike is a seeded 2×2 mixture of Laplacian sources with on/off
// envelopes (like speech with pauses), at about −20 dBFS.
func icaSpeechLike(t int) (s, a, x [][]float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	s, a, _ = icaTestMix(rng, 2, 2, t, "laplace")
	for i := range s {
		for k := range s[i] {
			if (k/(3000+1000*i))%4 == 3 {
				s[i][k] *= 0.01
			}
			s[i][k] *= 0.05
		}
	}
	return s, a, icaMix(a, s)
}

func icaAllFinite(y [][]float64) bool {
	for _, c := range y {
		for _, v := range c {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

func TestICARobustness(t *testing.T) {
	const T = 8 * 16000
	bad := T / 2
	for _, tc := range []struct {
		name    string
		corrupt func(x [][]float64)
		wantErr error
	}{
		{"nan-burst", func(x [][]float64) {
			for k := bad; k < bad+1000; k++ {
				x[k%2][k] = math.NaN()
				x[(k+1)%2][k] = math.Inf(1 - 2*(k%2))
			}
		}, ErrICANonFinite},
		{"silence", func(x [][]float64) {
			for c := range x {
				clear(x[c][bad : bad+2*16000])
			}
		}, nil},
		{"clipped", func(x [][]float64) {
			for c := range x {
				for k := bad; k < bad+16000; k++ {
					x[c][k] = math.Max(-0.2, math.Min(0.2, 4*x[c][k]))
				}
			}
		}, nil},
		{"huge", func(x [][]float64) {
			for c := range x {
				for k := bad; k < bad+3000; k++ {
					x[c][k] *= 1e30
				}
			}
		}, nil},
	} {
		for _, upd := range []Update{UpdateAux, UpdateNG} {
			t.Run(tc.name+"/"+upd.String(), func(t *testing.T) {
				_, a, x := icaSpeechLike(T)
				tc.corrupt(x)
				p := icaNew(t, ICAConfig{Update: upd}, 2)
				y := icaRun(p, x, icaFixed(333))
				if !icaAllFinite(y) {
					t.Fatal("output not finite")
				}
				if err := p.Err(); !errors.Is(err, tc.wantErr) {
					t.Errorf("Err() = %v, want %v", err, tc.wantErr)
				}
				if tc.name == "silence" {
					for i := range y {
						for k := bad + 64; k < bad+2*16000; k++ {
							if y[i][k] != 0 {
								t.Fatalf("output %d frame %d = %v during silent input", i, k, y[i][k])
							}
						}
					}
				}
				// Recovered: separated at the end.
				ct, ok := icaCrosstalkDB(p.DemixingTo(nil), a)
				if !ok || ct > -25 {
					t.Errorf("after the event: cross-talk %.1f dB (distinct %v); want < −25 dB", ct, ok)
				}
				t.Logf("events %+v, final cross-talk %.1f dB", p.Events(), ct)
			})
		}
	}
}

func TestICADegenerateInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const T = 3 * 16000
	for _, tc := range []struct {
		name string
		make func() [][]float64
	}{
		{"dead-channel", func() [][]float64 {
			x := [][]float64{make([]float64, T), make([]float64, T)}
			for k := range x[0] {
				x[0][k] = 0.1 * icaSource(rng, "laplace")
			}
			return x
		}},
		{"identical-channels", func() [][]float64 {
			x := [][]float64{make([]float64, T), make([]float64, T)}
			for k := range x[0] {
				x[0][k] = 0.1 * icaSource(rng, "laplace")
				x[1][k] = x[0][k]
			}
			return x
		}},
		{"dc", func() [][]float64 {
			x := [][]float64{make([]float64, T), make([]float64, T)}
			for k := range x[0] {
				x[0][k], x[1][k] = 0.5, -0.25
			}
			return x
		}},
		{"one-source", func() [][]float64 {
			x := [][]float64{make([]float64, T), make([]float64, T)}
			for k := range x[0] {
				v := 0.1 * icaSource(rng, "laplace")
				x[0][k], x[1][k] = v, -0.3*v+1e-6*rng.NormFloat64()
			}
			return x
		}},
	} {
		for _, upd := range []Update{UpdateAux, UpdateNG} {
			t.Run(tc.name+"/"+upd.String(), func(t *testing.T) {
				p := icaNew(t, ICAConfig{Update: upd}, 2)
				y := icaRun(p, tc.make(), icaFixed(500))
				if !icaAllFinite(y) {
					t.Fatal("output not finite")
				}
				t.Logf("events %+v, Err %v", p.Events(), p.Err())
			})
		}
	}
}

// TestICARepairs drives the two repair paths directly: statistics that
// became NaN (singular W: re-initialise) and an α far out of range.
func TestICARepairs(t *testing.T) {
	_, a, x := icaSpeechLike(4 * 16000)
	for _, upd := range []Update{UpdateAux, UpdateNG} {
		t.Run("singular/"+upd.String(), func(t *testing.T) {
			p := icaNew(t, ICAConfig{Update: upd}, 2)
			half := [][]float64{x[0][:16000], x[1][:16000]}
			icaRun(p, half, icaFixed(256))
			for i := range p.core.wr {
				p.core.w[i] = 1 // rank one: the two rows extract the same thing
			}
			if upd == UpdateAux {
				p.core.v[0] = math.NaN()
			}
			rest := [][]float64{x[0][16000:], x[1][16000:]}
			y := icaRun(p, rest, icaFixed(256))
			if !icaAllFinite(y) {
				t.Fatal("output not finite")
			}
			if !errors.Is(p.Err(), ErrICASingular) || p.Events().Singular == 0 {
				t.Errorf("Err() = %v, events %+v; want ErrICASingular", p.Err(), p.Events())
			}
			ct, ok := icaCrosstalkDB(p.DemixingTo(nil), a)
			if !ok || ct > -25 {
				t.Errorf("after re-initialisation: cross-talk %.1f dB; want < −25 dB", ct)
			}
		})
		t.Run("alpha/"+upd.String(), func(t *testing.T) {
			p := icaNew(t, ICAConfig{Update: upd}, 2)
			half := [][]float64{x[0][:16000], x[1][:16000]}
			icaRun(p, half, icaFixed(256))
			p.core.alpha[1] = 1e12
			rest := [][]float64{x[0][16000:], x[1][16000:]}
			icaRun(p, rest, icaFixed(256))
			if !errors.Is(p.Err(), ErrICAAlpha) || p.Events().Alpha == 0 {
				t.Errorf("Err() = %v, events %+v; want ErrICAAlpha", p.Err(), p.Events())
			}
			ct, ok := icaCrosstalkDB(p.DemixingTo(nil), a)
			if !ok || ct > -25 {
				t.Errorf("after the α reset: cross-talk %.1f dB; want < −25 dB", ct)
			}
		})
	}
}

func TestICAAllocs(t *testing.T) {
	if streamtest.RaceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, tc := range []struct {
		name string
		n    int
		cfg  ICAConfig
	}{
		{"2x2/aux", 2, ICAConfig{}},
		{"2x2/ng", 2, ICAConfig{Update: UpdateNG}},
		{"8mics/4src/aux", 8, ICAConfig{Sources: 4}},
		{"8mics/4src/ng", 8, ICAConfig{Sources: 4, Update: UpdateNG}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := icaNew(t, tc.cfg, tc.n)
			rng := rand.New(rand.NewPCG(1, 1))
			src := make([][]float32, tc.n)
			for c := range src {
				src[c] = make([]float32, 512)
				for k := range src[c] {
					src[c][k] = float32(0.1 * icaSource(rng, "laplace"))
				}
			}
			dst := make([][]float32, p.Sources())
			for i := range dst {
				dst[i] = make([]float32, 512)
			}
			sizes := []int{0, 1, 63, 64, 65, 256, 512, 7}
			call := 0
			if n := testing.AllocsPerRun(200, func() {
				f := sizes[call%len(sizes)]
				call++
				s, d := src, dst
				var sb, db [8][]float32
				for c := range s {
					sb[c] = s[c][:f]
				}
				for i := range d {
					db[i] = d[i][:f]
				}
				p.Process(db[:len(d)], sb[:len(s)])
			}); n != 0 {
				t.Errorf("Process allocated %v times per call; want 0", n)
			}
			if p.learnt < 10 {
				t.Errorf("only %d blocks learnt during the allocation test", p.learnt)
			}
		})
	}
}

func TestICAConfigErrors(t *testing.T) {
	for _, c := range []ICAConfig{
		{Sources: -1},
		{Block: 1},
		{Block: -5},
		{Update: Update(7)},
		{Memory: -1},
		{Warmup: -1},
		{StepSize: 2},
		{StepSize: 0.1, MinStepSize: 0.2},
		{AlphaStep: -0.1},
		{Anneal: -1},
	} {
		if _, err := NewICA(c); err == nil || !strings.HasPrefix(err.Error(), "online: ICA") {
			t.Errorf("NewICA(%+v) error = %v; want an \"online: ICA\" error", c, err)
		}
	}
	p, err := NewICA(ICAConfig{Sources: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 64}); err == nil || !strings.HasPrefix(err.Error(), "online: ICA") {
		t.Errorf("3 sources on 2 channels: error %v", err)
	}
	if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: 0, MaxFrames: 64}); err == nil {
		t.Errorf("0 channels: no error")
	}
	if _, _, err := (ICAConfig{}).FitBatch([][]float64{{1, math.NaN(), 2}}, 1); err == nil {
		t.Errorf("FitBatch with NaN: no error")
	}
	if _, _, err := (ICAConfig{Sources: 2}).FitBatch([][]float64{{1, 2, 3}}, 1); err == nil {
		t.Errorf("FitBatch 2 sources 1 channel: no error")
	}
}

func TestICAProcessPanics(t *testing.T) {
	p := icaNew(t, ICAConfig{}, 2)
	for name, f := range map[string]func(){
		"src channels": func() { p.Process(make([][]float32, 2), make([][]float32, 3)) },
		"dst channels": func() { p.Process(make([][]float32, 1), [][]float32{{0}, {0}}) },
		"ragged src":   func() { p.Process([][]float32{{0}, {0}}, [][]float32{{0}, {0, 0}}) },
		"short dst":    func() { p.Process([][]float32{{0}, {}}, [][]float32{{0}, {0}}) },
		"unprepared":   func() { new(ICA).Process(nil, nil) },
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "online: ICA") {
					t.Errorf("%s: panic %v; want an \"online: ICA\" panic", name, r)
				}
			}()
			f()
		}()
	}
}

// icaDataDir returns ../shared/data relative to the module root, or skips.
func icaDataDir(t *testing.T) string { return shareddata.Path(t) }

func icaReadWAV(t *testing.T, path string) [][]float64 {
	t.Helper()
	_, d, err := wav.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([][]float64, len(d))
	for c := range d {
		x[c] = make([]float64, len(d[c]))
		for k, v := range d[c] {
			x[c][k] = float64(v)
		}
	}
	return x
}

// TestICADevInst2x2 separates the instantaneous dev mixture in one causal
// pass with the default settings and scores it with BSS Eval v3 (reference:
// channel 0 of refJ.wav), as the project's acceptance numbers.
func TestICADevInst2x2(t *testing.T) {
	if testing.Short() {
		t.Skip("BSS Eval of 10 s of audio is slow; skipped with -short")
	}
	dir := filepath.Join(icaDataDir(t), "dev", "mixtures", "dev_inst_2x2")
	x := icaReadWAV(t, filepath.Join(dir, "mix.wav"))
	refs := [][]float64{
		icaReadWAV(t, filepath.Join(dir, "ref0.wav"))[0],
		icaReadWAV(t, filepath.Join(dir, "ref1.wav"))[0],
	}
	for _, tc := range []struct {
		upd             Update
		whole, lastFive float64
	}{
		{UpdateAux, 25, 50},
		{UpdateNG, 18, 30},
	} {
		t.Run(tc.upd.String(), func(t *testing.T) {
			if tc.upd == UpdateNG && streamtest.RaceEnabled {
				// BSS Eval is ~10× slower under -race; the aux run covers
				// this path there and the NG numbers are checked without it.
				t.Skip("NG dev score skipped under -race for time")
			}
			p, err := NewICA(ICAConfig{Update: tc.upd})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 256}); err != nil {
				t.Fatal(err)
			}
			y := icaRun(p, x, icaFixed(256))
			if err := p.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
			T := len(x[0])
			for _, seg := range []struct {
				name    string
				from    int
				atLeast float64
			}{{"whole", 0, tc.whole}, {"last 5 s", T - 5*16000, tc.lastFive}} {
				cut := func(a [][]float64) [][]float64 {
					o := make([][]float64, len(refs))
					for i := range o {
						o[i] = a[i%len(a)][seg.from:]
					}
					return o
				}
				res, err := bsseval.Sources(cut(refs), cut(y))
				if err != nil {
					t.Fatal(err)
				}
				base, err := bsseval.SourcesPerm(cut(refs), cut(x[:1]), nil)
				if err != nil {
					t.Fatal(err)
				}
				var dSDR, dSIR float64
				for j := range refs {
					dSDR += (res.SDR[j] - base.SDR[j]) / float64(len(refs))
					dSIR += (res.SIR[j] - base.SIR[j]) / float64(len(refs))
				}
				t.Logf("%s: ΔSDR %.1f dB, ΔSIR %.1f dB (SDR %.1f, SIR %.1f, SAR %.1f; mixture SDR %.1f)",
					seg.name, dSDR, dSIR, res.SDR, res.SIR, res.SAR, base.SDR)
				if dSDR < seg.atLeast {
					t.Errorf("%s: ΔSDR %.1f dB; want ≥ %v dB", seg.name, dSDR, seg.atLeast)
				}
			}
		})
	}
}

// TestICALinalg checks the hand-written Jacobi eigensolver and LU solve
// against gonum.
func TestICALinalg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 3, 5, 8, 32} {
		b := make([]float64, n*n)
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		a := make([]float64, n*n) // a = b·bᵀ, symmetric positive semi-definite
		icaMulTransTo(a, b, b, n, n, n)
		work, v := append([]float64(nil), a...), make([]float64, n*n)
		icaJacobi(work, v, n)
		var es mat.EigenSym
		if !es.Factorize(mat.NewSymDense(n, append([]float64(nil), a...)), false) {
			t.Fatal("gonum EigenSym failed")
		}
		want := es.Values(nil) // ascending
		got := make([]float64, n)
		for i := range got {
			got[i] = work[i*n+i]
		}
		for i := 1; i < n; i++ {
			for j := i; j > 0 && got[j] < got[j-1]; j-- {
				got[j], got[j-1] = got[j-1], got[j]
			}
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-10*(1+math.Abs(want[n-1])) {
				t.Errorf("n=%d: eigenvalue %d = %v, gonum %v", n, i, got[i], want[i])
			}
		}
		// A·V = V·Λ and VᵀV = I.
		var av, vl, vtv mat.Dense
		V := mat.NewDense(n, n, v)
		av.Mul(mat.NewDense(n, n, a), V)
		L := mat.NewDiagDense(n, nil)
		for i := 0; i < n; i++ {
			L.SetDiag(i, work[i*n+i])
		}
		vl.Mul(V, L)
		vtv.Mul(V.T(), V)
		if !mat.EqualApprox(&av, &vl, 1e-9*(1+want[n-1])) || !mat.EqualApprox(&vtv, mat.NewDiagDense(n, icaOnes(n)), 1e-12) {
			t.Errorf("n=%d: A·V ≠ V·Λ or V not orthogonal", n)
		}

		// LU solve, plain and transposed, and the determinant.
		rhs := make([]float64, n)
		for i := range rhs {
			rhs[i] = rng.NormFloat64()
		}
		for _, trans := range []bool{false, true} {
			x := append([]float64(nil), rhs...)
			det, ok := icaSolve(b, x, make([]float64, n*n), make([]int, n), n, trans)
			if !ok {
				t.Fatalf("n=%d: icaSolve failed", n)
			}
			B := mat.NewDense(n, n, b)
			var M mat.Matrix = B
			if trans {
				M = B.T()
			}
			var want mat.VecDense
			if err := want.SolveVec(M, mat.NewVecDense(n, rhs)); err != nil {
				t.Fatal(err)
			}
			if !mat.EqualApprox(mat.NewVecDense(n, x), &want, 1e-9) {
				t.Errorf("n=%d trans=%v: x = %v, gonum %v", n, trans, x, want.RawVector().Data)
			}
			if d := mat.Det(B); math.Abs(det-d) > 1e-9*math.Abs(d) {
				t.Errorf("n=%d: det %v, gonum %v", n, det, d)
			}
		}
	}
	if _, ok := icaSolve([]float64{1, 2, 2, 4}, []float64{1, 1}, make([]float64, 4), make([]int, 2), 2, false); ok {
		t.Error("icaSolve accepted a singular matrix")
	}
}

func icaOnes(n int) []float64 {
	o := make([]float64, n)
	for i := range o {
		o[i] = 1
	}
	return o
}
