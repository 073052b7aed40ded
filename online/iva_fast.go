package online

import "math"

//go:generate go run iva_fast_gen.go

// Aux IVA for three or more sources with kept inverses.
//
// IP1 needs u_i = (W·V_i)⁻¹e_i = P_i·b_i for every source i of every bin,
// with P_i = (V_i + εI)⁻¹ and b_i = W⁻¹e_i. Factoring V_i afresh costs
// O(m³) per source, O(m⁴) per bin and sweep. But V_i only ever changes by a
// rank-one term, V_i ← λ·V_i + c·z·zᴴ (λ = 1 and c of either sign in the
// later sweeps of a spectrum), so P_i follows by Sherman–Morrison in O(m²):
//
//	y = P·z,  P ← (P − c/(λ + c·zᴴy)·y·yᴴ)/λ,
//
// which is the exact inverse of λ(V + εI) + c·z·zᴴ: the loading ε decays with
// V's old content instead of being reset to loadRel·tr(V)/m at every update,
// a change of the order of the loading itself (1e-9 relative). W⁻¹ is kept
// the same way across row replacements (ipBin already did). Rounding in the
// recursion grows with the number of updates and with V's condition number,
// so each bin's P_i are recomputed from V_i (Cholesky, with the loading of
// the direct solve) every vinvRefresh spectra, staggered over the bins, and
// whenever V was set afresh: a first spectrum, a reset bin (V = 0), a
// subspace transport, or an update the recursion cannot take (a
// non-positive denominator). A stale P_i is marked by real(P_i[0]) = 0,
// which no positive definite inverse has.

// vinvRefresh is how often, in spectra, a bin's P_i are recomputed from V_i.
const vinvRefresh = 16

// smTiny is the relative size below which a Sherman–Morrison denominator
// counts as cancelled (the update would leave the positive definite cone).
const smTiny = 1e-9

// invalidateAux marks bin f's kept inverses P_i as stale, so the next update
// recomputes them from V_i. Call it after changing V of bin f other than by
// the aux update (resetBin needs no call: it clears V, which is detected).
func (s *IVA) invalidateAux(f int) {
	if s.vinv == nil {
		return
	}
	m := s.m
	for i := 0; i < m; i++ {
		s.vinv[(f*m+i)*m*m] = 0
	}
}

// auxBin is one aux iteration on bin f for m ≥ 3: the rank-one updates of
// V_i and P_i with this spectrum, then the IP1 sweep. lam and g are the
// spectrum's forgetting and 1−λ. It returns the relative change of W and
// false if the bin is singular.
func (s *IVA) auxBin(f, it int, lam, g float64) (float64, bool) {
	m := s.m
	mm := m * m
	z := s.z[f*m : f*m+m]
	refresh := it == 0 && (s.t+f)%vinvRefresh == 0
	il := 1 / lam
	for i := 0; i < m; i++ {
		v := s.v[(f*m+i)*mm : (f*m+i+1)*mm]
		p := s.vinv[(f*m+i)*mm : (f*m+i+1)*mm]
		stale := refresh || real(p[0]) == 0
		var c, l float64
		if it == 0 {
			if real(v[0]) == 0 {
				// First data in this bin (or a reset one): start from an
				// isotropic prior with this spectrum's power, so V is full
				// rank from the start and early IP steps are tame.
				pw := 0.0
				for _, zv := range z {
					pw += abs2(zv)
				}
				pw *= s.wt[i] / float64(m)
				for k := 0; k < m; k++ {
					v[k*m+k] = complex(pw, 0)
				}
				rankOneUpdate(v, z, m, 0.5, 0.5*s.wt[i])
				if !s.exactInv(p, v) {
					return 0, false
				}
				continue
			}
			c, l = g*s.wt[i], lam
		} else {
			c, l = g*(s.wt[i]-s.wtOld[i]), 1
			stale = stale || real(v[0]) == 0 // reset earlier in this spectrum
		}
		il := il
		if l == 1 {
			il = 1
		}
		switch m {
		case 3:
			z3 := (*[3]complex128)(z)
			rankOneHerm3((*[9]complex128)(v), z3, l, c)
			stale = stale || !smUpdate3((*[9]complex128)(p), z3, l, il, c)
		case 4:
			z4 := (*[4]complex128)(z)
			rankOneHerm4((*[16]complex128)(v), z4, l, c)
			stale = stale || !smUpdate4((*[16]complex128)(p), z4, l, il, c)
		default:
			rankOneUpdate(v, z, m, l, c)
			stale = stale || !smUpdate(p, z, s.su[:m], m, l, il, c)
		}
		if stale && !s.exactInv(p, v) {
			return 0, false
		}
	}
	return s.ip1Kept(f)
}

// exactInv sets p = (v + εI)⁻¹ with the loading ε = loadRel·tr(v)/m of the
// direct solve, by Cholesky. With no data in v (tr ≤ 0) it marks p stale
// and succeeds: IP skips such a source. It reports false if v + εI is not
// numerically positive definite.
func (s *IVA) exactInv(p, v []complex128) bool {
	m := s.m
	tr := 0.0
	for k := 0; k < m; k++ {
		tr += real(v[k*m+k])
	}
	if !(tr > 0) {
		p[0] = 0
		return true
	}
	l, col := s.sc[:m*m], s.su[:m]
	if !cholTo(l, v, m, loadRel*tr/float64(m)) {
		return false
	}
	for j := 0; j < m; j++ {
		clear(col)
		col[j] = 1
		cholSolve(l, col, m)
		for k := j; k < m; k++ {
			p[k*m+j] = col[k] // lower triangle and diagonal
		}
	}
	for a := 0; a < m; a++ {
		p[a*m+a] = complex(real(p[a*m+a]), 0)
		for b := a + 1; b < m; b++ {
			p[a*m+b] = cconj(p[b*m+a])
		}
	}
	if !(real(p[0]) > 0) || math.IsInf(real(p[0]), 0) {
		return false
	}
	return true
}

// smUpdate sets p ← (p − c/(λ + c·zᴴy)·y·yᴴ)/λ with y = p·z (Sherman–Morrison
// for (λ·p⁻¹ + c·z·zᴴ)⁻¹), il = 1/λ, using y (len m) as scratch. It reports
// false, leaving p unusable, if the denominator cancels or the result is
// not finite.
func smUpdate(p, z, y []complex128, m int, lam, il, c float64) bool {
	p, z, y = p[:m*m], z[:m], y[:m]
	sz := 0.0
	for a := 0; a < m; a++ {
		row := p[a*m : a*m+m]
		var acc complex128
		for b, zb := range z {
			acc += row[b] * zb
		}
		y[a] = acc
		sz += real(z[a])*real(acc) + imag(z[a])*imag(acc) // Re(z̄_a·y_a)
	}
	den := lam + c*sz
	if !(den > smTiny*(lam+math.Abs(c)*sz)) || math.IsInf(den, 0) {
		return false
	}
	k := c / den
	for a := 0; a < m; a++ {
		ky := complex(real(y[a])*k, imag(y[a])*k)
		row := p[a*m : a*m+m]
		for b := 0; b < a; b++ {
			e := row[b] - ky*cconj(y[b])
			e = complex(real(e)*il, imag(e)*il)
			row[b] = e
			p[b*m+a] = cconj(e)
		}
		d := (real(row[a]) - k*abs2(y[a])) * il
		row[a] = complex(d, 0)
		if !(d > 0) || math.IsInf(d, 0) {
			return false
		}
	}
	return true
}

// ip1Kept is ipBin's IP1 sweep with u_i = P_i·b_i from the kept P_i.
func (s *IVA) ip1Kept(f int) (float64, bool) {
	m := s.m
	mm := m * m
	w := s.w[f*mm : (f+1)*mm]
	vs := s.v[f*m*mm : (f+1)*m*mm]
	ps := s.vinv[f*m*mm : (f+1)*m*mm]
	bi, u, r := s.binv[f*mm:(f+1)*mm], s.su[:m], s.sr[:m]
	if (s.t+f)%binvRefresh == 0 {
		// Recompute W⁻¹ now and then so rounding in the rank-one updates
		// cannot accumulate.
		copy(s.sa[:mm], w)
		if !invertTo(bi, s.sa[:mm], m, pivotTiny) {
			return 0, false
		}
	}
	dn, wn := 0.0, 0.0
	for i := 0; i < m; i++ {
		v := vs[i*mm : (i+1)*mm]
		tr := 0.0
		for k := 0; k < m; k++ {
			tr += real(v[k*m+k])
		}
		if !(tr > 0) {
			continue // no data in this bin yet
		}
		p := ps[i*mm : (i+1)*mm]
		if m == 3 || m == 4 {
			var d, n float64
			var ok bool
			if m == 3 {
				d, n, ok = ip1Src3((*[9]complex128)(w), (*[9]complex128)(bi), (*[9]complex128)(p), i)
			} else {
				d, n, ok = ip1Src4((*[16]complex128)(w), (*[16]complex128)(bi), (*[16]complex128)(p), i)
			}
			if !ok {
				return 0, false
			}
			dn += d
			wn += n
			continue
		}
		nq := 0.0
		for a := 0; a < m; a++ {
			row := p[a*m : a*m+m]
			var acc complex128
			for k := range row {
				acc += row[k] * bi[k*m+i]
			}
			u[a] = acc
			ba := bi[a*m+i]
			nq += real(ba)*real(acc) + imag(ba)*imag(acc) // Re(b̄_a·u_a)
		}
		if !(nq > pivotTiny*pivotTiny) || math.IsInf(nq, 0) {
			return 0, false
		}
		sc := 1 / math.Sqrt(nq)
		row := w[i*m : i*m+m]
		for k := range row {
			nw := complex(real(u[k])*sc, -imag(u[k])*sc)
			d := nw - row[k]
			dn += abs2(d)
			wn += abs2(nw)
			row[k] = nw
		}
		// New W⁻¹ in closed form: with t = ūᵀ·B (t_i = uᴴb_i = nq) the
		// row replacement w_iᵀ ← sc·ūᵀ gives column i ← sc·b_i and
		// column k ≠ i ← B_k − sc²·t_k·b_i (Sherman–Morrison with
		// δᵀB = sc·t − e_iᵀ, 1 + δᵀb_i = √nq).
		t := r
		for k := 0; k < m; k++ {
			t[k] = 0
		}
		for j := 0; j < m; j++ {
			uj := cconj(u[j])
			bj := bi[j*m : j*m+m]
			for k := range bj {
				t[k] += uj * bj[k]
			}
		}
		s2 := sc * sc
		for a := 0; a < m; a++ {
			ba := bi[a*m+i]
			c := complex(real(ba)*s2, imag(ba)*s2)
			ra := bi[a*m : a*m+m]
			for k := range ra {
				ra[k] -= c * t[k]
			}
			ra[i] = complex(real(ba)*sc, imag(ba)*sc)
		}
	}
	if wn == 0 {
		return 0, true
	}
	return dn / wn, true
}
