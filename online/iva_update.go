package online

import (
	"math"
)

const (
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
	bad := false
	pw := 0.0
	for _, c := range mix {
		for _, v := range c {
			if finite(v) {
				pw += abs2(v)
			} else {
				bad = true
			}
		}
	}
	pw /= float64(s.n * s.bins)
	learn := !bad
	if bad {
		s.event(&s.nonFinite, &errIVANonFinite)
	} else if !(pw > 0) || math.IsInf(pw, 0) || pw < silenceGate*s.power {
		learn = false
		s.silent.Add(1)
	}
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
			s.power += (1 - s.cfg.Forget) * (pw - s.power)
		}
		for i, a := range s.alpha {
			s.alphaPub[i].Store(math.Float64bits(a))
		}
		s.convPub.Store(math.Float64bits(s.conv))
	}
	s.output(dst, mix)
}

// forget is λ for the t-th learnt spectrum: the memory 1/(1−λ) grows as
// 1+Warmup·t up to its steady state 1/(1−Forget).
func (s *IVA) forget() float64 {
	mem := 1 + s.cfg.Warmup*float64(s.t-s.subWarm)
	if steady := 1 / (1 - s.cfg.Forget); mem > steady {
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
		for f := 0; f < s.bins; f++ {
			z := s.z[f*m : f*m+m]
			for c := 0; c < n; c++ {
				v := mix[c][f]
				if !finite(v) {
					v = 0
				}
				z[c] = v
			}
		}
		return
	}
	lam := s.cfg.SubspaceForget
	if mem := 1 + float64(s.t); mem < 1/(1-lam) {
		lam = 1 - 1/mem
	}
	every := s.cfg.SubspaceEvery
	for f := 0; f < s.bins; f++ {
		for c := 0; c < n; c++ {
			v := mix[c][f]
			if !finite(v) {
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
			if s.t < s.subWarm || (s.t+f)%every == 0 {
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
	if s.v == nil {
		return
	}
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

// initAlpha sets an unset α_i to 2F/r_i, the radius at which the spherical
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
		u := a * s.r[i]
		g := 1 - u*math.Tanh(u/2)/twoF
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
	s.rho = 0
	if s.cfg.PriorWeight > 0 {
		tt := float64(s.t - s.subWarm)
		s.rho = s.cfg.PriorWeight * s.cfg.PriorDecay / (s.cfg.PriorDecay + tt)
	}
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
		for f := 0; f < s.bins; f++ {
			z := s.z[f*m : f*m+m]
			for i := 0; i < m; i++ {
				v := s.v[(f*m+i)*m*m : (f*m+i+1)*m*m]
				if it == 0 {
					if s.cfg.PriorWeight == 0 && real(v[0]) == 0 {
						// First data in this bin: start from an isotropic
						// prior with this spectrum's power, so V is full
						// rank from the start and early IP steps are tame.
						p := 0.0
						for _, zv := range z {
							p += abs2(zv)
						}
						p *= s.wt[i] / float64(m)
						for k := 0; k < m; k++ {
							v[k*m+k] = complex(p, 0)
						}
						rankOneUpdate(v, z, m, 0.5, 0.5*s.wt[i])
						continue
					}
					rankOneUpdate(v, z, m, lam, g*s.wt[i])
				} else {
					rankOneUpdate(v, z, m, 1, g*(s.wt[i]-s.wtOld[i]))
				}
			}
			d, ok := s.ipBin(f)
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
	s.conv += 0.02 * (dsum/float64(s.bins) - s.conv)
}

// logisticWeight is G'(r)/(2r) for G(r) = −log σ'(αr): α·tanh(αr/2)/(2r),
// with its limit α²/4 at r = 0. It decreases in r, which is what makes the
// quadratic auxiliary function a majoriser.
func logisticWeight(a, r float64) float64 {
	u := a * r
	if u < 1e-4 {
		return a * a / 4 * (1 - u*u/12)
	}
	return a * math.Tanh(u/2) / (2 * r)
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

// ipBin runs one iterative-projection sweep on bin f (IP2 for two sources,
// IP1 otherwise). It returns the relative change ‖ΔW‖²/‖W‖² and false if
// the bin is singular.
func (s *IVA) ipBin(f int) (float64, bool) {
	m := s.m
	w := s.w[f*m*m : (f+1)*m*m]
	vs := s.v[f*m*m*m : (f+1)*m*m*m]
	if rho := s.rho; rho > 0 {
		// Shrink the weighted covariances towards a common target: their
		// mean (PriorMean) or the identity scaled to their mean trace.
		vt := s.vt
		mean := s.sc[:m*m]
		clear(mean)
		tr := 0.0
		for i := 0; i < m; i++ {
			v := vs[i*m*m : (i+1)*m*m]
			for k := range mean {
				mean[k] += v[k]
			}
		}
		for k := 0; k < m; k++ {
			tr += real(mean[k*m+k])
		}
		inv := 1 / float64(m)
		for k := range mean {
			mean[k] *= complex(inv, 0)
		}
		if !s.cfg.PriorMean {
			clear(mean)
			for k := 0; k < m; k++ {
				mean[k*m+k] = complex(tr*inv*inv, 0)
			}
		}
		a, b := complex(1-rho, 0), complex(rho, 0)
		if !s.cfg.PriorMean {
			a = 1
		}
		for i := 0; i < m; i++ {
			v := vs[i*m*m : (i+1)*m*m]
			o := vt[i*m*m : (i+1)*m*m]
			for k := range o {
				o[k] = a*v[k] + b*mean[k]
			}
		}
		vs = vt
	}
	if m == 2 && s.cfg.IP2 {
		if d, ok := ip2(w, vs); ok {
			return d, true
		}
	}
	a, u := s.sa[:m*m], s.su[:m]
	dn, wn := 0.0, 0.0
	for i := 0; i < m; i++ {
		v := vs[i*m*m : (i+1)*m*m]
		tr := 0.0
		for k := 0; k < m; k++ {
			tr += real(v[k*m+k])
		}
		if !(tr > 0) {
			continue // no data in this bin yet
		}
		load := complex(loadRel*tr/float64(m), 0)
		// a = W·(V + load·I)
		mulTo(a, w, v, m, m, m)
		for j := 0; j < m; j++ {
			for k := 0; k < m; k++ {
				a[j*m+k] += load * w[j*m+k]
			}
		}
		clear(u)
		u[i] = 1
		if !solveTo(a, u, m, pivotTiny) {
			return 0, false
		}
		nq := quadForm(v, u, m)
		if !(nq > 0) || math.IsInf(nq, 0) {
			return 0, false
		}
		sc := complex(1/math.Sqrt(nq), 0)
		row := w[i*m : i*m+m]
		for k := range row {
			nw := cconj(u[k] * sc)
			dn += abs2(nw - row[k])
			wn += abs2(nw)
			row[k] = nw
		}
	}
	if wn == 0 {
		return 0, true
	}
	return dn / wn, true
}

// ngStep is one online natural-gradient update on the whitened input:
// W ← W + μ(I − φ·yᴴ)W per bin, with φ_i = (α_i/2)·tanh(α_i r_i/2)·y_i/r_i.
func (s *IVA) ngStep() {
	m := s.m
	mu := s.cfg.StepSize
	dsum := 0.0
	for it := 0; it < s.cfg.Iterations; it++ {
		s.norms()
		if it == 0 {
			s.checkAlpha()
		}
		for i, a := range s.alpha {
			// φ_i/y_i = (α/2)tanh(αr/2)/r = logisticWeight
			s.wt[i] = logisticWeight(a, s.r[i])
		}
		u := s.su[:m]
		for f := 0; f < s.bins; f++ {
			w := s.w[f*m*m : (f+1)*m*m]
			y := s.y[f*m : f*m+m]
			// u = yᴴ·W
			for k := 0; k < m; k++ {
				var acc complex128
				for j := 0; j < m; j++ {
					acc += cconj(y[j]) * w[j*m+k]
				}
				u[k] = acc
			}
			// Normalised step: the per-bin, per-spectrum φ·yᴴ can be far from
			// its mean; μ/(1+μ·max_i φ_i y_i*) keeps one step bounded.
			big := 0.0
			for i := 0; i < m; i++ {
				big = math.Max(big, s.wt[i]*abs2(y[i]))
			}
			step := mu / (1 + mu*big)
			dn, wn := 0.0, 0.0
			for i := 0; i < m; i++ {
				gy := complex(s.wt[i], 0) * y[i]
				row := w[i*m : i*m+m]
				for k := range row {
					d := complex(step, 0) * (row[k] - gy*u[k])
					row[k] += d
					dn += abs2(d)
					wn += abs2(row[k])
				}
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
	s.stepAlpha()
	s.conv += 0.02 * (dsum/float64(s.bins) - s.conv)
}

// output writes dst = projection-back-scaled W·z for every bin.
func (s *IVA) output(dst, mix [][]complex128) {
	m, n := s.m, s.n
	inv, a := s.sb[:m*m], s.sa[:m*m]
	for f := 0; f < s.bins; f++ {
		w := s.w[f*m*m : (f+1)*m*m]
		z := s.z[f*m : f*m+m]
		copy(a, w)
		if !invertTo(inv, a, m, pivotTiny) {
			s.event(&s.singular, &errIVASingular)
			s.resetBin(f)
			copy(a, w)
			invertTo(inv, a, m, pivotTiny)
		}
		for i := 0; i < m; i++ {
			// scale_i = (D⁺)_{0,i}, D = W·q, D⁺ = q⁺·W⁻¹, q⁺ = qᴴ·diag(λ).
			var sc complex128
			if s.red {
				q := s.q[f*m*n : (f+1)*m*n]
				ql := s.qlam[f*m : f*m+m]
				for k := 0; k < m; k++ {
					sc += cconj(q[k*n]) * complex(ql[k], 0) * inv[k*m+i]
				}
			} else {
				sc = inv[i]
			}
			if s.dout != nil {
				d := s.dout[(f*m+i)*n : (f*m+i+1)*n]
				b := math.Max(s.cfg.OutputSmooth, 1/(1+OSRate*float64(s.t)))
				cb := complex(b, 0)
				var o complex128
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
					d[c] += cb * (sc*acc - d[c])
					xv := mix[c][f]
					if !finite(xv) {
						xv = 0
					}
					o += d[c] * xv
				}
				if !finite(o) {
					o = 0
				}
				dst[i][f] = o
				continue
			}
			var y complex128
			for k, wv := range w[i*m : i*m+m] {
				y += wv * z[k]
			}
			o := sc * y
			if !finite(o) {
				o = 0
			}
			dst[i][f] = o
		}
	}
}

// ip2 is the pairwise iterative projection for two sources (Ono 2012): the
// two demixing vectors that make W·V_i·w_i = e_i hold for both i at once are
// the generalised eigenvectors of (V_1, V_2); source 1 takes the one with the
// smaller eigenvalue w1ᴴV1w1/w1ᴴV2w1. It reports false when the pair is
// degenerate (V_1 ∝ V_2) or singular, and leaves w unchanged then.
func ip2(w, vs []complex128) (float64, bool) {
	var v1, v2 [4]complex128
	copy(v1[:], vs[0:4])
	copy(v2[:], vs[4:8])
	t1 := real(v1[0]) + real(v1[3])
	t2 := real(v2[0]) + real(v2[3])
	if !(t1 > 0 && t2 > 0) {
		return 0, false
	}
	l1, l2 := complex(loadRel*t1/2, 0), complex(loadRel*t2/2, 0)
	v1[0] += l1
	v1[3] += l1
	v2[0] += l2
	v2[3] += l2
	d1 := real(v1[0])*real(v1[3]) - abs2(v1[1])
	d2 := real(v2[0])*real(v2[3]) - abs2(v2[1])
	if !(d1 > 0 && d2 > 0) {
		return 0, false
	}
	// B = V2⁻¹·V1
	i00, i01, i10, i11 := v2[3]/complex(d2, 0), -v2[1]/complex(d2, 0), -v2[2]/complex(d2, 0), v2[0]/complex(d2, 0)
	b00 := i00*v1[0] + i01*v1[2]
	b01 := i00*v1[1] + i01*v1[3]
	b10 := i10*v1[0] + i11*v1[2]
	b11 := i10*v1[1] + i11*v1[3]
	half := real(b00+b11) / 2
	det := d1 / d2
	disc := half*half - det
	if !(disc > 1e-12*half*half) {
		return 0, false
	}
	sq := math.Sqrt(disc)
	var nw [4]complex128
	for k, lam := range [2]float64{half - sq, half + sq} {
		l := complex(lam, 0)
		ua0, ua1 := b01, l-b00
		ub0, ub1 := l-b11, b10
		u0, u1 := ua0, ua1
		if abs2(ub0)+abs2(ub1) > abs2(ua0)+abs2(ua1) {
			u0, u1 = ub0, ub1
		}
		v := &v1
		if k == 1 {
			v = &v2
		}
		nq := real(cconj(u0)*(v[0]*u0+v[1]*u1) + cconj(u1)*(v[2]*u0+v[3]*u1))
		if !(nq > 0) || math.IsInf(nq, 0) {
			return 0, false
		}
		sc := complex(1/math.Sqrt(nq), 0)
		nw[2*k] = cconj(u0 * sc)
		nw[2*k+1] = cconj(u1 * sc)
	}
	dn, wn := 0.0, 0.0
	for k := range nw {
		dn += abs2(nw[k] - w[k])
		wn += abs2(nw[k])
		w[k] = nw[k]
	}
	return dn / wn, true
}

var OSRate = 0.1
