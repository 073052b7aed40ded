package online

import (
	"math"
)

const (
	// binvRefresh is how often, in spectra, a bin's W⁻¹ is recomputed
	// instead of updated.
	binvRefresh = 16
	// silenceGate: a spectrum whose power is below this fraction of the
	// slow average power is separated but not learnt from (-40 dB).
	silenceGate = 1e-4
	// pivotTiny is the relative pivot below which a small matrix counts as
	// singular.
	pivotTiny = 1e-12
	// loadRel is the diagonal loading of the weighted covariances, relative
	// to their mean diagonal; it keeps IP solvable in bins with no energy in
	// some direction.
	loadRel = 1e-9
)

// Separate implements stream.Separator: it reads one mixture spectrum
// mix[mic][bin], learns from it, and writes the separated spectrum
// dst[source][bin], each source scaled as heard at microphone 0. It does
// not allocate. It panics if the slice shapes differ from Prepare's.
func (s *IVA) Separate(dst, mix [][]complex128) {
	if s.w == nil {
		panic("online: IVA.Separate before Prepare")
	}
	if len(mix) != s.n || len(dst) != s.m {
		panic("online: IVA.Separate: channel count mismatch")
	}
	for _, c := range mix {
		if len(c) != s.bins {
			panic("online: IVA.Separate: mix bin count mismatch")
		}
	}
	for _, c := range dst {
		if len(c) != s.bins {
			panic("online: IVA.Separate: dst bin count mismatch")
		}
	}
	if s.track != nil {
		s.separateTracked(dst, mix)
		return
	}
	s.separateOne(dst, mix)
}

// separateOne is Separate of this one IVA, without tracking. With dst nil
// it only learns (the tracker's short memory, whose output is not used).
func (s *IVA) separateOne(dst, mix [][]complex128) {
	bad := false
	// Power per channel (for the silence gate and the quiet-channel check)
	// and the NaN/Inf scan in one pass.
	var chPow [maxIVAMics]float64
	if !s.red {
		// Scan and copy into z in the same pass (z = x: no reduction).
		n := s.n
		z := s.z[:n*s.bins]
		for c, row := range mix {
			p := 0.0
			for f, v := range row {
				if finite(v) {
					p += abs2(v)
				} else {
					bad = true
					v = 0
				}
				z[f*n+c] = v
			}
			chPow[c] = p
		}
	} else {
		for c, row := range mix {
			p := 0.0
			for _, v := range row {
				if finite(v) {
					p += abs2(v)
				} else {
					bad = true
				}
			}
			chPow[c] = p
		}
	}
	pw := 0.0
	for _, p := range chPow[:s.n] {
		pw += p
	}
	pw /= float64(s.n * s.bins)
	learn := !bad
	if bad {
		s.event(&s.nonFinite, &errIVANonFinite)
	} else if !(pw > 0) || math.IsInf(pw, 0) || pw < silenceGate*s.power {
		learn = false
		s.silent.Add(1)
	} else if s.held {
		learn = false
		s.heldN.Add(1)
	} else {
		learn = s.checkChannels(chPow[:s.n])
	}
	s.held = false
	s.reduce(mix, learn)
	if learn && s.t < s.subWarm {
		// The subspace is still being found: W stays the identity on the
		// principal components until the eigenbasis has settled.
		s.t++
	} else if learn {
		if s.cfg.Update == UpdateNG {
			s.ngStep()
		} else {
			s.auxStep()
		}
		s.t++
		if s.power == 0 {
			s.power = pw
		} else {
			s.power += (pw - s.power) / s.cfg.memory()
		}
		for i, a := range s.alpha {
			s.alphaPub[i].Store(math.Float64bits(a))
		}
		s.convPub.Store(math.Float64bits(s.conv))
	}
	if dst != nil {
		s.output(dst)
	}
}

// forget is λ for the t-th learnt spectrum: the memory 1/(1−λ) grows as
// 1+Warmup·t up to its steady state Memory.
func (s *IVA) forget() float64 {
	mem := 1 + s.cfg.Warmup*float64(s.t-s.subWarm)
	if steady := s.cfg.memory(); mem > steady {
		mem = steady
	}
	return 1 - 1/mem
}

// reduce writes the reduced input z of every bin. When learning it also
// updates the mixture covariances and, every SubspaceEvery spectra per bin,
// the bin's principal subspace.
func (s *IVA) reduce(mix [][]complex128, learn bool) {
	n, m := s.n, s.m
	x := s.x
	if !s.red {
		return // Separate has copied x into z
	}
	lam := 1 - 1/math.Min(1+float64(s.t), s.cfg.memory())
	every := s.cfg.SubspaceEvery
	for f := 0; f < s.bins; f++ {
		for c := 0; c < n; c++ {
			v := mix[c][f]
			if !finite(v) || s.chans.dead[c] {
				v = 0
			}
			x[c] = v
		}
		if learn {
			cov := s.cov[f*n*n : (f+1)*n*n]
			l := lam
			if real(cov[0]) == 0 {
				// First data in this bin: an isotropic prior with this
				// spectrum's power keeps the covariance full rank.
				p := 0.0
				for _, xv := range x[:n] {
					p += abs2(xv)
				}
				for i := 0; i < n; i++ {
					cov[i*n+i] = complex(p/float64(n), 0)
				}
				l = 0.5
			}
			g := complex(1-l, 0)
			lam := l
			for i := 0; i < n; i++ {
				xi := x[i] * g
				row := cov[i*n : i*n+n]
				for j := 0; j < n; j++ {
					row[j] = complex(lam, 0)*row[j] + xi*cconj(x[j])
				}
			}
			// Refresh every spectrum at first, when the basis still moves,
			// then every `every` spectra, staggered over the bins.
			period := min(every, 1+s.t/8)
			if s.t < s.subWarm || (s.t+f)%period == 0 {
				s.refreshSubspace(f)
			}
		}
		q := s.q[f*m*n : (f+1)*m*n]
		z := s.z[f*m : f*m+m]
		for i := 0; i < m; i++ {
			var acc complex128
			for c, v := range q[i*n : i*n+n] {
				acc += v * x[c]
			}
			z[i] = acc
		}
	}
}

// refreshSubspace updates bin f's eigenbasis of the mixture covariance by
// warm-started Jacobi, sets the reduction q = Λ^{-1/2}Eᴴ to the m principal
// components and carries W (and V) over so that the overall demixing W·q
// is unchanged on the common subspace.
func (s *IVA) refreshSubspace(f int) {
	n, m := s.n, s.m
	cov := s.cov[f*n*n : (f+1)*n*n]
	e := s.eig[f*n*n : (f+1)*n*n]
	a, t := s.sa[:n*n], s.sb[:n*n]
	// a = eᴴ·cov·e
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var acc complex128
			for k := 0; k < n; k++ {
				acc += cov[i*n+k] * e[k*n+j]
			}
			t[i*n+j] = acc
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var acc complex128
			for k := 0; k < n; k++ {
				acc += cconj(e[k*n+i]) * t[k*n+j]
			}
			a[i*n+j] = acc
		}
	}
	sweeps := 2
	if s.t < 4 {
		sweeps = 8
	}
	hermJacobi(a, e, n, sweeps)
	// Select the m largest eigenvalues (selection sort on indices).
	var idx [maxIVAMics]int
	var lam [maxIVAMics]float64
	for i := 0; i < n; i++ {
		idx[i] = i
		lam[i] = real(a[i*n+i])
	}
	for i := 0; i < m; i++ {
		b := i
		for j := i + 1; j < n; j++ {
			if lam[idx[j]] > lam[idx[b]] {
				b = j
			}
		}
		idx[i], idx[b] = idx[b], idx[i]
	}
	top := lam[idx[0]]
	if !(top > 0) || math.IsInf(top, 0) {
		return // no energy yet (or garbage): keep the current reduction
	}
	floor := top * 1e-10
	q := s.q[f*m*n : (f+1)*m*n]
	ql := s.qlam[f*m : f*m+m]
	// Old q and its eigenvalues for the transport.
	oldq := s.sc[:m*n]
	copy(oldq, q)
	var oldl [maxIVAMics]float64
	copy(oldl[:m], ql)
	for i := 0; i < m; i++ {
		l := math.Max(lam[idx[i]], floor)
		ql[i] = l
		g := complex(1/math.Sqrt(l), 0)
		col := idx[i]
		for c := 0; c < n; c++ {
			q[i*n+c] = g * cconj(e[c*n+col])
		}
	}
	if s.t < s.subWarm {
		return // W is not learnt yet: nothing to carry over
	}
	// Transport: W' = W·M with M = q_old·q_new⁺ = q_old·q_newᴴ·diag(λ_new),
	// V' = N·V·Nᴴ with N = q_new·q_old⁺ = q_new·q_oldᴴ·diag(λ_old).
	mm := s.sa[:m*m]
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			var acc complex128
			for c := 0; c < n; c++ {
				acc += oldq[i*n+c] * cconj(q[j*n+c])
			}
			mm[i*m+j] = acc * complex(ql[j], 0)
		}
	}
	w := s.w[f*m*m : (f+1)*m*m]
	tmp := s.sb[:m*m]
	mulTo(tmp, w, mm, m, m, m)
	copy(w, tmp)
	if s.binv != nil {
		copy(tmp, w)
		if !invertTo(s.binv[f*m*m:(f+1)*m*m], tmp, m, pivotTiny) {
			s.event(&s.singular, &errIVASingular)
			s.resetBin(f)
			return
		}
	}
	if s.cfg.Update != UpdateAux {
		return // the ng average φ·yᴴ lives in output coordinates
	}
	s.invalidateAux(f) // V changes below: P_i = (V_i+εI)⁻¹ must follow
	nn := s.sa[:m*m]
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			var acc complex128
			for c := 0; c < n; c++ {
				acc += q[i*n+c] * cconj(oldq[j*n+c])
			}
			nn[i*m+j] = acc * complex(oldl[j], 0)
		}
	}
	for i := 0; i < m; i++ {
		v := s.v[(f*m+i)*m*m : (f*m+i+1)*m*m]
		mulTo(tmp, nn, v, m, m, m)
		// v = tmp·nnᴴ
		for a := 0; a < m; a++ {
			for b := 0; b < m; b++ {
				var acc complex128
				for k := 0; k < m; k++ {
					acc += tmp[a*m+k] * cconj(nn[b*m+k])
				}
				v[a*m+b] = acc
			}
		}
	}
}

// norms sets y = W·z in every bin and r_i = ‖y_i‖ over bins.
func (s *IVA) norms() {
	m := s.m
	r := s.r
	clear(r)
	if m == 2 {
		// Written out: this pass runs Iterations times per spectrum.
		ws, zs, ys := s.w[:4*s.bins], s.z[:2*s.bins], s.y[:2*s.bins]
		r0, r1 := 0.0, 0.0
		for f := 0; f < s.bins; f++ {
			w := ws[4*f : 4*f+4 : 4*f+4]
			z0, z1 := zs[2*f], zs[2*f+1]
			y0 := w[0]*z0 + w[1]*z1
			y1 := w[2]*z0 + w[3]*z1
			ys[2*f], ys[2*f+1] = y0, y1
			r0 += abs2(y0)
			r1 += abs2(y1)
		}
		r[0], r[1] = math.Sqrt(r0), math.Sqrt(r1)
		return
	}
	for f := 0; f < s.bins; f++ {
		w := s.w[f*m*m : (f+1)*m*m]
		z := s.z[f*m : f*m+m]
		y := s.y[f*m : f*m+m]
		for i := 0; i < m; i++ {
			var acc complex128
			for k, wv := range w[i*m : i*m+m] {
				acc += wv * z[k]
			}
			y[i] = acc
			r[i] += abs2(acc)
		}
	}
	for i := range r {
		r[i] = math.Sqrt(r[i])
	}
}

// checkAlpha sets an unset α_i to 2F/r_i, the radius at which the spherical
// logistic density in 2F real dimensions peaks, and checks the range.
func (s *IVA) checkAlpha() {
	twoF := 2 * float64(s.bins)
	for i, a := range s.alpha {
		if a == 0 {
			if s.r[i] > 0 {
				s.alpha[i] = twoF / s.r[i]
			}
			continue
		}
		if !(a > alphaMin && a < alphaMax) {
			s.event(&s.alphaEv, &errIVAAlpha)
			s.alpha[i] = 0
			if s.r[i] > 0 {
				s.alpha[i] = twoF / s.r[i]
			}
		}
	}
}

const (
	alphaMin = 1e-150
	alphaMax = 1e150
)

// stepAlpha moves α_i along the gradient 2F/α − r·tanh(αr/2), preconditioned
// by α²/2F so the step is relative: α ← α(1 + μ_α(1 − α·r·tanh(αr/2)/2F)).
func (s *IVA) stepAlpha() {
	mu := s.cfg.AlphaStep
	if mu == 0 {
		return
	}
	twoF := 2 * float64(s.bins)
	for i, a := range s.alpha {
		if a == 0 {
			continue
		}
		g := a / twoF * ivaAlphaGrad(a, s.r[i], s.bins) // = 1 − αr·tanh(αr/2)/2F
		if g < -1 {
			g = -1 // one bad spectrum may halve α at most
		}
		s.alpha[i] = a * (1 + mu*g)
	}
}

// auxStep is one online auxiliary-function update (Iterations IP sweeps).
func (s *IVA) auxStep() {
	m := s.m
	lam := s.forget()
	g := 1 - lam
	iters := s.cfg.Iterations
	dsum := 0.0
	for it := 0; it < iters; it++ {
		s.norms()
		if it == 0 {
			s.checkAlpha()
		}
		for i, a := range s.alpha {
			s.wt[i] = logisticWeight(a, s.r[i])
		}
		if m == 2 {
			dsum = s.aux2Sweep(it, lam)
			copy(s.wtOld, s.wt)
			continue
		}
		for f := 0; f < s.bins; f++ {
			d, ok := s.auxBin(f, it, lam, g)
			if !ok {
				s.event(&s.singular, &errIVASingular)
				s.resetBin(f)
				continue
			}
			if it == iters-1 {
				dsum += d
			}
		}
		copy(s.wtOld, s.wt)
	}
	s.stepAlpha()
	s.smoothConv(dsum / float64(s.bins))
}

// aux2Sweep is the two-source case of one auxStep iteration, written out:
// the same update of V_1, V_2 and the same two IP1 steps as the generic
// code, with closed-form 2×2 algebra. It returns Σ_f ‖ΔW_f‖²/‖W_f‖².
func (s *IVA) aux2Sweep(it int, lam float64) float64 {
	last := it == s.cfg.Iterations-1
	g := 1 - lam
	w0, w1 := s.wt[0], s.wt[1]
	if it > 0 {
		lam = 1
		w0, w1 = w0-s.wtOld[0], w1-s.wtOld[1]
	}
	g0, g1 := g*w0, g*w1
	dsum := 0.0
	ws, vs, zs := s.w[:4*s.bins], s.v[:8*s.bins], s.z[:2*s.bins]
	for f := 0; f < s.bins; f++ {
		z0, z1 := zs[2*f], zs[2*f+1]
		p00, p11 := abs2(z0), abs2(z1)
		p01 := z0 * cconj(z1)
		v := vs[8*f : 8*f+8 : 8*f+8]
		if it == 0 && real(v[0]) == 0 {
			// First data in this bin: an isotropic prior with this
			// spectrum's power, so V is full rank from the start.
			for i, wi := range [2]float64{s.wt[0], s.wt[1]} {
				pr := wi * (p00 + p11) / 2
				h := complex(wi/2, 0)
				v[4*i] = complex(pr/2, 0) + h*complex(p00, 0)
				v[4*i+1] = h * p01
				v[4*i+2] = h * cconj(p01)
				v[4*i+3] = complex(pr/2, 0) + h*complex(p11, 0)
			}
		} else {
			// V_i = λ·V_i + g_i·z·zᴴ in real arithmetic (the diagonal is
			// real; a complex product by a real number costs twice).
			pr, pi := real(p01), imag(p01)
			v1 := complex(lam*real(v[1])+g0*pr, lam*imag(v[1])+g0*pi)
			v5 := complex(lam*real(v[5])+g1*pr, lam*imag(v[5])+g1*pi)
			v[0] = complex(lam*real(v[0])+g0*p00, 0)
			v[1], v[2] = v1, cconj(v1)
			v[3] = complex(lam*real(v[3])+g0*p11, 0)
			v[4] = complex(lam*real(v[4])+g1*p00, 0)
			v[5], v[6] = v5, cconj(v5)
			v[7] = complex(lam*real(v[7])+g1*p11, 0)
		}
		w := ws[4*f : 4*f+4 : 4*f+4]
		if s.frozen >= 0 {
			// A kept row (iva_keep.go): only the other one learns.
			var old [4]complex128
			if last {
				old = [4]complex128{w[0], w[1], w[2], w[3]}
			}
			if !ip1TwoRow(w, v, 1-s.frozen) {
				s.event(&s.singular, &errIVASingular)
				s.resetBin(f)
				continue
			}
			if last {
				dsum += relChange2(old, w)
			}
			continue
		}
		if !s.cfg.RowWise {
			d, ok := ip2(w, v, last)
			if ok {
				dsum += d
				continue
			}
			// degenerate pair (V_1 ∝ V_2): one row at a time instead
		}
		if !last {
			if !ip1TwoFast(w, v) {
				s.event(&s.singular, &errIVASingular)
				s.resetBin(f)
			}
			continue
		}
		d, ok := ip1Two(w, v)
		if !ok {
			s.event(&s.singular, &errIVASingular)
			s.resetBin(f)
			continue
		}
		dsum += d
	}
	return dsum
}

// ip1Two is ipBin's IP1 sweep for two sources in closed form. Row i of W is
// replaced by uᴴ/√(uᴴV_iu) with (W·V_i)u = e_i, i.e. u = adj(W·V_i)e_i/det.
// Only one row of W·V_i enters adj(W·V_i)e_i, and det(W·V_i) = det W·det V_i
// with det V_i > 0, so the 1/det only contributes the phase of det W (the
// norm is fixed by the normalisation): u ∝ conj(det W)·adj(W·V_i)e_i.
func ip1Two(w, v []complex128) (float64, bool) {
	old := [4]complex128{w[0], w[1], w[2], w[3]}
	if !ip1TwoFast(w, v) {
		return 0, false
	}
	return relChange2(old, w), true
}

// relChange2 is ‖W − old‖²/‖W‖² for a 2×2 demixing.
func relChange2(old [4]complex128, w []complex128) float64 {
	dn, wn := 0.0, 0.0
	for k := range old {
		dn += abs2(w[k] - old[k])
		wn += abs2(w[k])
	}
	return dn / wn
}

// ip1TwoFast is ip1Two without the change measure. A singular W gives
// u = 0 and fails the norm test; a nearly singular one is repaired by the
// update itself (and output2 checks the final W).
func ip1TwoFast(w, v []complex128) bool {
	return ip1TwoRow(w, v, 0) && ip1TwoRow(w, v, 1)
}

// ip1TwoRow is ip1TwoFast's update of row i alone.
func ip1TwoRow(w, v []complex128, i int) bool {
	a, b, c := real(v[4*i]), real(v[4*i+3]), v[4*i+1] // V = [a c; c* b]
	load := loadRel * (a + b) / 2
	a += load
	b += load
	detW := w[0]*w[3] - w[1]*w[2]
	var u0, u1 complex128
	if i == 0 {
		// [A11, −A10] with A = W·V
		u0 = w[2]*c + w[3]*complex(b, 0)
		u1 = -(w[2]*complex(a, 0) + w[3]*cconj(c))
	} else {
		// [−A01, A00]
		u0 = -(w[0]*c + w[1]*complex(b, 0))
		u1 = w[0]*complex(a, 0) + w[1]*cconj(c)
	}
	ph := cconj(detW)
	u0 *= ph
	u1 *= ph
	nq := a*abs2(u0) + b*abs2(u1) + 2*real(cconj(u0)*c*u1)
	if !(nq > 0 && nq <= math.MaxFloat64) || !(a > 0 && b > 0) {
		return false
	}
	k := 1 / math.Sqrt(nq)
	w[2*i] = complex(real(u0)*k, -imag(u0)*k)
	w[2*i+1] = complex(real(u1)*k, -imag(u1)*k)
	return true
}

// rankOneUpdate sets v = lam·v + g·z·zᴴ for the m×m Hermitian v.
func rankOneUpdate(v, z []complex128, m int, lam, g float64) {
	cl := complex(lam, 0)
	for a := 0; a < m; a++ {
		za := z[a] * complex(g, 0)
		row := v[a*m : a*m+m]
		if lam == 1 {
			for b := 0; b < m; b++ {
				row[b] += za * cconj(z[b])
			}
		} else {
			for b := 0; b < m; b++ {
				row[b] = cl*row[b] + za*cconj(z[b])
			}
		}
	}
}

// ngStep is one online natural-gradient update on the whitened input:
// W ← W + μ_t(I − φ·yᴴ)W per bin, with φ_i = (α_i/2)·tanh(α_i r_i/2)·y_i/r_i,
// the normalised step μ_t/(1+μ_t‖I − φ·yᴴ‖_F) (one spectrum's φ·yᴴ can be
// far from its mean), and μ_t annealed from StepSize to StepSize/10 with
// time constant Memory/4.
func (s *IVA) ngStep() {
	m := s.m
	tt := float64(s.t - s.subWarm)
	tau := s.cfg.memory() / 4
	mu0 := s.cfg.StepSize
	mu := math.Max(mu0/10, mu0*tau/(tau+tt))
	dsum := 0.0
	g, d := s.sa[:m*m], s.sb[:m*m]
	for it := 0; it < s.cfg.Iterations; it++ {
		s.norms()
		if it == 0 {
			s.checkAlpha()
		}
		for i, a := range s.alpha {
			s.wt[i] = logisticWeight(a, s.r[i]) // φ_i = wt_i·y_i
		}
		for f := 0; f < s.bins; f++ {
			w := s.w[f*m*m : (f+1)*m*m]
			y := s.y[f*m : f*m+m]
			norm := 0.0
			for i := 0; i < m; i++ {
				gy := complex(s.wt[i], 0) * y[i]
				for k := 0; k < m; k++ {
					v := -gy * cconj(y[k])
					if i == k {
						v += 1
					}
					g[i*m+k] = v
					norm += abs2(v)
				}
			}
			step := complex(mu/(1+mu*math.Sqrt(norm)), 0)
			mulTo(d, g, w, m, m, m)
			dn, wn := 0.0, 0.0
			for k := range w {
				dv := step * d[k]
				w[k] += dv
				dn += abs2(dv)
				wn += abs2(w[k])
			}
			if !(wn > 0) || math.IsInf(wn, 0) || math.IsNaN(dn) {
				s.event(&s.singular, &errIVASingular)
				s.resetBin(f)
				continue
			}
			if it == s.cfg.Iterations-1 {
				dsum += dn / wn
			}
		}
	}
	s.gauge()
	s.stepAlpha()
	s.smoothConv(dsum / float64(s.bins))
}

// gauge fixes the one direction the likelihood does not see: only α_i·w_i
// matters (the α terms of log p cancel against log|det W|), so each source's
// overall scale is moved from W into α, leaving W with a mean squared row
// norm of 1 over the bins. Without it the natural gradient and the α step
// drift together along that ridge.
func (s *IVA) gauge() {
	m := s.m
	for i := 0; i < m; i++ {
		p := 0.0
		for f := 0; f < s.bins; f++ {
			for _, v := range s.w[f*m*m+i*m : f*m*m+i*m+m] {
				p += abs2(v)
			}
		}
		if !(p > 0) || math.IsInf(p, 0) {
			continue
		}
		c := math.Sqrt(float64(s.bins) / p)
		cc := complex(c, 0)
		for f := 0; f < s.bins; f++ {
			row := s.w[f*m*m+i*m : f*m*m+i*m+m]
			for k := range row {
				row[k] *= cc
			}
		}
		s.alpha[i] /= c
	}
}

// output writes dst = projection-back-scaled W·z for every bin.
func (s *IVA) output(dst [][]complex128) {
	m := s.m
	if m == 2 {
		s.output2(dst)
		return
	}
	for f := 0; f < s.bins; f++ {
		if !s.projectBack(f) {
			s.event(&s.singular, &errIVASingular)
			s.resetBin(f)
			s.projectBack(f)
		}
		w := s.w[f*m*m : (f+1)*m*m]
		z := s.z[f*m : f*m+m]
		sc := s.scale[f*m : f*m+m]
		for i := 0; i < m; i++ {
			var y complex128
			for k, wv := range w[i*m : i*m+m] {
				y += wv * z[k]
			}
			o := sc[i] * y
			if !finite(o) {
				o = 0
			}
			dst[i][f] = o
		}
	}
}

// output2 is output for two sources with the 2×2 inverse in closed form.
func (s *IVA) output2(dst [][]complex128) {
	n := s.n
	d0, d1 := dst[0][:s.bins], dst[1][:s.bins]
	for f := 0; f < s.bins; f++ {
		w := s.w[4*f : 4*f+4 : 4*f+4]
		det := w[0]*w[3] - w[1]*w[2]
		scale := abs2(w[0]) + abs2(w[1]) + abs2(w[2]) + abs2(w[3])
		if !(abs2(det) > pivotTiny*pivotTiny*scale*scale) || math.IsInf(scale, 0) {
			s.event(&s.singular, &errIVASingular)
			s.resetBin(f)
			det = 1
		}
		id := cinv(det)
		// W⁻¹ = [w3 −w1; −w2 w0]/det
		i00, i01, i10, i11 := w[3]*id, -w[1]*id, -w[2]*id, w[0]*id
		var s0, s1 complex128
		if s.red {
			q := s.q[2*n*f : 2*n*(f+1)]
			ql := s.qlam[2*f : 2*f+2]
			e0 := cconj(q[0]) * complex(ql[0], 0)
			e1 := cconj(q[n]) * complex(ql[1], 0)
			s0 = e0*i00 + e1*i10
			s1 = e0*i01 + e1*i11
		} else {
			s0, s1 = i00, i01
		}
		s.scale[2*f], s.scale[2*f+1] = s0, s1
		z0, z1 := s.z[2*f], s.z[2*f+1]
		o0 := s0 * (w[0]*z0 + w[1]*z1)
		o1 := s1 * (w[2]*z0 + w[3]*z1)
		if !finite(o0) {
			o0 = 0
		}
		if !finite(o1) {
			o1 = 0
		}
		d0[f], d1[f] = o0, o1
	}
}

// projectBack sets the projection-back factors of bin f from the current
// demixing only: scale_i = (D⁺)_{0,i}, the response of mic 0 to output i
// under the minimum-norm mixing model D⁺, where D = W·q is the full m×n
// demixing. With q = Λ^{-1/2}Eᴴ (orthogonal rows), D⁺ = q⁺·W⁻¹ and
// q⁺ = E·Λ^{1/2} = qᴴ·diag(λ); without reduction it is simply (W⁻¹)_{0,i}.
// It reports false if W is singular.
func (s *IVA) projectBack(f int) bool {
	m, n := s.m, s.n
	var inv []complex128
	if s.binv != nil {
		inv = s.binv[f*m*m : (f+1)*m*m] // kept equal to W⁻¹ by ipBin
		for _, v := range inv {
			if !finite(v) {
				return false
			}
		}
	} else {
		inv = s.sb[:m*m]
		a := s.sa[:m*m]
		copy(a, s.w[f*m*m:(f+1)*m*m])
		if !invertTo(inv, a, m, pivotTiny) {
			return false
		}
	}
	sc := s.scale[f*m : f*m+m]
	if !s.red {
		copy(sc, inv[:m])
		return true
	}
	q := s.q[f*m*n : (f+1)*m*n]
	ql := s.qlam[f*m : f*m+m]
	for i := 0; i < m; i++ {
		var acc complex128
		for k := 0; k < m; k++ {
			acc += cconj(q[k*n]) * complex(ql[k], 0) * inv[k*m+i]
		}
		sc[i] = acc
	}
	return true
}

// demixingTo writes bin f's full demixing as the output applies it,
// diag(scale)·W·q (m×n, row-major), into dst and returns it. It reflects the
// last Separate call.
func (s *IVA) demixingTo(dst []complex128, f int) []complex128 {
	m, n := s.m, s.n
	w := s.w[f*m*m : (f+1)*m*m]
	sc := s.scale[f*m : f*m+m]
	for i := 0; i < m; i++ {
		for c := 0; c < n; c++ {
			var acc complex128
			if s.red {
				q := s.q[f*m*n : (f+1)*m*n]
				for k := 0; k < m; k++ {
					acc += w[i*m+k] * q[k*n+c]
				}
			} else {
				acc = w[i*m+c]
			}
			dst[i*n+c] = sc[i] * acc
		}
	}
	return dst
}

// ip2Ref is the pairwise iterative projection for two sources (Ono 2012): the
// two demixing vectors that make W·V_i·w_i = e_i hold for both i at once are
// the generalised eigenvectors of (V_1, V_2), normalised by w_iᴴV_iw_i = 1;
// source 1 takes the one with the smaller eigenvalue w1ᴴV1w1/w1ᴴV2w1 (that
// choice has the larger |det W|, i.e. the lower cost). Each new row keeps
// the phase of the old one, which the cost does not fix. It reports false
// when the pair is degenerate (V_1 ∝ V_2, as at the very start) or
// singular, and leaves w unchanged then. With measure it returns the
// change ‖ΔW‖²/‖W‖².
func ip2Ref(w, vs []complex128, measure bool) (float64, bool) {
	a1, b1, c1 := real(vs[0]), real(vs[3]), vs[1] // V1 = [a1 c1; c1* b1]
	a2, b2, c2 := real(vs[4]), real(vs[7]), vs[5]
	l1, l2 := loadRel*(a1+b1)/2, loadRel*(a2+b2)/2
	a1, b1, a2, b2 = a1+l1, b1+l1, a2+l2, b2+l2
	d1 := a1*b1 - abs2(c1)
	d2 := a2*b2 - abs2(c2)
	if !(d1 > 0 && d2 > 0 && a1 > 0 && a2 > 0) || !(d1 <= math.MaxFloat64 && d2 <= math.MaxFloat64) {
		return 0, false
	}
	// B = V2⁻¹·V1 = [b2 −c2; −c2* a2]·V1/d2
	id := 1 / d2
	b00 := complex((b2*a1-real(c2*cconj(c1)))*id, -imag(c2*cconj(c1))*id)
	b01 := (complex(b2, 0)*c1 - c2*complex(b1, 0)) * complex(id, 0)
	b10 := (-cconj(c2)*complex(a1, 0) + complex(a2, 0)*cconj(c1)) * complex(id, 0)
	b11 := complex((a2*b1-real(cconj(c2)*c1))*id, -imag(cconj(c2)*c1)*id)
	half := real(b00+b11) / 2
	disc := half*half - d1/d2
	if !(disc > 1e-12*half*half) {
		return 0, false
	}
	sq := math.Sqrt(disc)
	var nw [4]complex128
	for k, lam := range [2]float64{half - sq, half + sq} {
		l := complex(lam, 0)
		u0, u1 := b01, l-b00
		if v0, v1 := l-b11, b10; abs2(v0)+abs2(v1) > abs2(u0)+abs2(u1) {
			u0, u1 = v0, v1
		}
		a, b, c := a1, b1, c1
		if k == 1 {
			a, b, c = a2, b2, c2
		}
		nq := a*abs2(u0) + b*abs2(u1) + 2*real(cconj(u0)*c*u1)
		// phase of the old row: the new row uᴴ should have ⟨old, new⟩ real
		ph := w[2*k]*u0 + w[2*k+1]*u1
		pa := abs2(ph)
		if !(nq > 0 && nq <= math.MaxFloat64) {
			return 0, false
		}
		sc := complex(1/math.Sqrt(nq), 0)
		if pa > 0 {
			sc *= cconj(ph) * complex(1/math.Sqrt(pa), 0)
		}
		nw[2*k] = cconj(u0 * sc)
		nw[2*k+1] = cconj(u1 * sc)
	}
	dn, wn := 0.0, 0.0
	for k := range nw {
		if measure {
			dn += abs2(nw[k] - w[k])
			wn += abs2(nw[k])
		}
		w[k] = nw[k]
	}
	if !measure {
		return 0, true
	}
	return dn / wn, true
}

// smoothConv folds one spectrum's relative change into Convergence: an
// exponential average over about 50 spectra, started at the first value.
func (s *IVA) smoothConv(d float64) {
	if s.conv < 0 {
		s.conv = d
		return
	}
	s.conv += 0.02 * (d - s.conv)
}
