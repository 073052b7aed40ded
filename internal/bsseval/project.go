package bsseval

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// projector holds everything about one set of reference sources that the
// BSS Eval decomposition needs, computed once and shared by all estimates:
// the references' spectra, the Gram matrix G of all references delayed
// 0..flen-1 samples, and factorisations of G and of each diagonal block G_jj.
//
// mir_eval rebuilds and re-solves G for every (estimate, reference) pair
// (2·K² solves of size up to K·flen); the numbers do not depend on which
// estimate is being decomposed, so doing it once gives the same projections
// at a fraction of the cost.
type projector struct {
	k, n, flen int            // sources, samples, filter taps
	nfft       int            // 2^ceil(log2(n+flen-1)), as mir_eval's _project
	spec       [][]complex128 // spec[k]: FFT of reference k zero-padded to nfft; read-only once built

	full solver   // G, size k·flen
	diag []solver // G_jj, size flen each

	work []*fftWork // one per goroutine of parallel
}

// fftWork is one goroutine's FFT plan and scratch (a fourier.FFT is not
// safe for concurrent use).
type fftWork struct {
	nfft int
	fft  *fourier.FFT
	seq  []float64    // nfft
	cbuf []complex128 // nfft/2+1
	acc  []complex128 // nfft/2+1
}

func newFFTWork(nfft int) *fftWork {
	return &fftWork{
		nfft: nfft,
		fft:  fourier.NewFFT(nfft),
		seq:  make([]float64, nfft),
		cbuf: make([]complex128, nfft/2+1),
		acc:  make([]complex128, nfft/2+1),
	}
}

// parallel runs f(w, i) for i in [0, n) on up to len(p.work) goroutines,
// each with its own fftWork from the projector's pool (created on first
// use and reused by later calls). The jobs are independent and each writes
// only its own outputs, so the results do not depend on the scheduling.
func (p *projector) parallel(n int, f func(w *fftWork, i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	for len(p.work) < workers {
		p.work = append(p.work, newFFTWork(p.nfft))
	}
	if workers <= 1 {
		for i := range n {
			f(p.work[0], i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range p.work[:workers] {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(w, i)
			}
		})
	}
	wg.Wait()
}

// solver solves G·X = B for one symmetric positive semi-definite Gram matrix.
type solver struct {
	chol  blas64.Triangular // upper Cholesky factor of G (+ ridge·I); N == 0 when not used
	ridge float64           // 0 unless G was singular to working precision
	svd   *mat.SVD          // least-squares fallback (numpy lstsq), minimum norm
	rank  int
}

// newSolver factorises the n×n symmetric matrix whose upper triangle is g
// (row-major); g is not modified.
//
// mir_eval calls np.linalg.solve and falls back to np.linalg.lstsq when
// LAPACK reports an exactly singular matrix. Here Cholesky is the
// backward-stable solve for the SPD case (called through lapack64 rather
// than mat.Cholesky, whose condition estimate costs more than the
// factorisation itself). A Gram matrix that is singular in exact arithmetic
// (references that are filtered copies of one another, or fewer than K·L
// samples in the padded signal) usually fails Cholesky through rounding.
// Its least-squares solutions all give the same projection, which is all
// the metrics use; the one taken is that of G + λI, with λ = n·ε times
// the largest diagonal entry (raised 100-fold until Cholesky succeeds, at
// most to 1e-6 of it), which agrees with the minimum-norm (lstsq)
// projection to rounding level and costs one more Cholesky instead
// of an SVD (8 s for K = 2 with gonum, minutes for K = 4). An SVD remains
// the last resort.
func newSolver(n int, g []float64) solver {
	a := blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: append([]float64(nil), g...)}
	if t, ok := lapack64.Potrf(a); ok {
		return solver{chol: t}
	}
	var maxDiag float64
	for i := range n {
		maxDiag = math.Max(maxDiag, g[i*n+i])
	}
	for lambda := maxDiag * float64(n) * 0x1p-52; lambda <= maxDiag*1e-6; lambda *= 100 {
		copy(a.Data, g)
		for i := range n {
			a.Data[i*n+i] += lambda
		}
		if t, ok := lapack64.Potrf(a); ok {
			return solver{chol: t, ridge: lambda}
		}
	}
	var s mat.SVD
	if !s.Factorize(mat.NewSymDense(n, append([]float64(nil), g...)), mat.SVDThin) {
		// The SVD did not converge; nothing sensible is left. Solutions
		// will be NaN and so will the metrics.
		return solver{}
	}
	sv := s.Values(nil)
	// numpy lstsq's rcond: eps · max(M, N), relative to the largest value.
	tol := sv[0] * float64(n) * 0x1p-52
	rank := 0
	for _, v := range sv {
		if v > tol {
			rank++
		}
	}
	return solver{svd: &s, rank: rank}
}

// solve overwrites dst with the solution of G·X = b.
func (s *solver) solve(dst *mat.Dense, b *mat.Dense) {
	r, c := b.Dims()
	switch {
	case s.chol.N > 0:
		dst.ReuseAs(r, c)
		dst.Copy(b)
		lapack64.Potrs(s.chol, dst.RawMatrix())
	case s.svd != nil && s.rank > 0:
		s.svd.SolveTo(dst, b, s.rank)
	default:
		dst.ReuseAs(r, c)
		for i := range r {
			for j := range c {
				dst.Set(i, j, math.NaN())
			}
		}
	}
}

// nextPow2 returns the smallest power of two ≥ n (n ≥ 1).
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// newProjector prepares the decomposition for the given references, which
// must all have the same non-zero length (the caller validates).
func newProjector(refs [][]float64, flen int) *projector {
	k, n := len(refs), len(refs[0])
	nfft := nextPow2(n + flen - 1)
	p := &projector{k: k, n: n, flen: flen, nfft: nfft, spec: make([][]complex128, k)}
	p.parallel(k, func(w *fftWork, i int) {
		clear(w.seq)
		copy(w.seq, refs[i])
		p.spec[i] = w.fft.Coefficients(nil, w.seq)
	})

	// Cross-correlations c_ab(m) = Σ_t s_a[t+m]·s_b[t] for |m| < flen, via
	// the circular correlation of the zero-padded signals (nfft ≥ n+flen-1
	// keeps the lags we need free of wrap-around). Then, as in _project,
	//   G[a·L+p, b·L+q] = <s_a delayed p, s_b delayed q> = c_ab(q-p).
	// Each (a, b) job writes its own blocks (a,b) and (b,a).
	kl := k * flen
	g := make([]float64, kl*kl)
	type pair struct{ a, b int }
	var pairs []pair
	for a := range k {
		for b := a; b < k; b++ {
			pairs = append(pairs, pair{a, b})
		}
	}
	p.parallel(len(pairs), func(w *fftWork, i int) {
		a, b := pairs[i].a, pairs[i].b
		corr := w.correlate(p.spec[a], p.spec[b])
		for pp := range flen {
			row := g[(a*flen+pp)*kl:]
			for q := range flen {
				v := corr[(q-pp+nfft)%nfft]
				row[b*flen+q] = v
				// Mirror into the lower triangle (block (b,a) = block (a,b)ᵀ).
				g[(b*flen+q)*kl+a*flen+pp] = v
			}
		}
	})
	p.full = newSolver(kl, g)

	p.diag = make([]solver, k)
	if k == 1 {
		// Same matrix: share the factorisation so that the single-source
		// projection and the all-source projection are bit-identical and the
		// interference is exactly zero (mir_eval: SIR = +Inf).
		p.diag[0] = p.full
		return p
	}
	p.parallel(k, func(_ *fftWork, j int) {
		gj := make([]float64, flen*flen)
		for pp := range flen {
			copy(gj[pp*flen:(pp+1)*flen], g[(j*flen+pp)*kl+j*flen:])
		}
		p.diag[j] = newSolver(flen, gj)
	})
	return p
}

// correlate returns (in w.seq) the circular cross-correlation of the
// sequences whose spectra are x and y: out[m] = Σ_t x[t+m]·y[t] (mod nfft).
func (w *fftWork) correlate(x, y []complex128) []float64 {
	for i := range w.cbuf {
		w.cbuf[i] = x[i] * complex(real(y[i]), -imag(y[i]))
	}
	w.fft.Sequence(w.seq, w.cbuf)
	scale := 1 / float64(w.nfft)
	for i := range w.seq {
		w.seq[i] *= scale
	}
	return w.seq
}

// decomp is the decomposition of one estimate: its projections onto the span
// of all references (pAll) and onto each single reference j (pOne[j]), each of
// length n+flen-1 like mir_eval's s_true, e_spat, e_interf, e_artif. pOne[j]
// is nil for references not paired with this estimate.
type decomp struct {
	pAll []float64
	pOne [][]float64
}

// decompose projects each estimate ests[i] onto the references. need[i][j]
// says whether the single-reference projection onto reference j is wanted.
// In mir_eval's terms, for the pair (i, j):
//
//	s_true + e_spat = pOne[j]     (s_filt)
//	e_interf        = pAll - pOne[j]
//	e_artif         = est - pAll  (est zero-padded to n+flen-1)
func (p *projector) decompose(ests [][]float64, need [][]bool) []decomp {
	k, flen, kl, nfft := p.k, p.flen, p.k*p.flen, p.nfft
	ne := len(ests)

	// Right-hand sides D[a·L+q, i] = <s_a delayed q, est_i> = c_{a,est}(-q).
	// Column i is written only by job i.
	d := mat.NewDense(kl, ne, nil)
	p.parallel(ne, func(w *fftWork, i int) {
		clear(w.seq)
		copy(w.seq, ests[i])
		espec := w.fft.Coefficients(w.acc, w.seq)
		for a := range k {
			corr := w.correlate(p.spec[a], espec)
			for q := range flen {
				d.Set(a*flen+q, i, corr[(nfft-q)%nfft])
			}
		}
	})

	// Distortion filters for the all-source projection: one multi-RHS solve.
	var call mat.Dense
	p.full.solve(&call, d)

	out := make([]decomp, ne)
	m := p.n + flen - 1
	p.parallel(ne, func(w *fftWork, i int) {
		coef := make([]float64, flen)
		// pAll = Σ_a s_a * C_a, accumulated in the frequency domain.
		clear(w.acc)
		for a := range k {
			for q := range flen {
				coef[q] = call.At(a*flen+q, i)
			}
			w.filterSpectrum(w.cbuf, coef)
			for f, v := range w.cbuf {
				w.acc[f] += v * p.spec[a][f]
			}
		}
		out[i].pAll = w.synth(w.acc, m)
		out[i].pOne = make([][]float64, k)

		// Single-reference projections.
		for j := range k {
			if !need[i][j] {
				continue
			}
			if k == 1 {
				// Bit-identical to the all-source projection (see newProjector).
				out[i].pOne[0] = out[i].pAll
				continue
			}
			dj := mat.NewDense(flen, 1, nil)
			for q := range flen {
				dj.Set(q, 0, d.At(j*flen+q, i))
			}
			var cj mat.Dense
			p.diag[j].solve(&cj, dj)
			for q := range flen {
				coef[q] = cj.At(q, 0)
			}
			w.filterSpectrum(w.cbuf, coef)
			for f, v := range w.cbuf {
				w.acc[f] = v * p.spec[j][f]
			}
			out[i].pOne[j] = w.synth(w.acc, m)
		}
	})
	return out
}

// filterSpectrum writes the nfft-point spectrum of the zero-padded filter h.
func (w *fftWork) filterSpectrum(dst []complex128, h []float64) {
	clear(w.seq)
	copy(w.seq, h)
	w.fft.Coefficients(dst, w.seq)
}

// synth returns the first m samples of the inverse FFT of spec. The linear
// convolution of a flen-tap filter with an n-sample reference has exactly
// n+flen-1 ≤ nfft samples, so nothing wraps around; mir_eval's fftconvolve
// truncated to n+flen-1 gives the same signal.
func (w *fftWork) synth(spec []complex128, m int) []float64 {
	w.fft.Sequence(w.seq, spec)
	out := make([]float64, m)
	scale := 1 / float64(w.nfft)
	for t := range out {
		out[t] = w.seq[t] * scale
	}
	return out
}
