package online

import "math"

// ipBin runs one iterative-projection sweep on bin f (IP2 for two sources,
// IP1 otherwise) the way IVA did before the kept-inverse kernels of
// iva_fast.go: IP1 by Cholesky solves of V_i. The tests use it as the
// reference of the production paths. It returns the relative change
// ‖ΔW‖²/‖W‖² and false if the bin is singular.
func (s *IVA) ipBin(f int) (float64, bool) {
	m := s.m
	w := s.w[f*m*m : (f+1)*m*m]
	vs := s.v[f*m*m*m : (f+1)*m*m*m]
	if m == 2 {
		if !s.cfg.RowWise {
			if d, ok := ip2(w, vs, true); ok {
				return d, true
			}
		}
		return ip1Two(w, vs)
	}
	// u = (W·V_i)⁻¹e_i = V_i⁻¹·(W⁻¹e_i): keep B = W⁻¹ up to date across the
	// row updates (Sherman–Morrison) and solve with V_i by Cholesky. Then
	// uᴴV_iu = uᴴ·(W⁻¹e_i) for free. O(m³) per source instead of forming
	// and factoring W·V_i.
	bi, l, u, r := s.binv[f*m*m:(f+1)*m*m], s.sc[:m*m], s.su[:m], s.sr[:m]
	if (s.t+f)%binvRefresh == 0 {
		// Recompute W⁻¹ now and then so rounding in the rank-one updates
		// cannot accumulate.
		copy(s.sa[:m*m], w)
		if !invertTo(bi, s.sa[:m*m], m, pivotTiny) {
			return 0, false
		}
	}
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
		if !cholTo(l, v, m, loadRel*tr/float64(m)) {
			return 0, false
		}
		for k := 0; k < m; k++ {
			u[k] = bi[k*m+i]
		}
		cholSolve(l, u, m)
		var q complex128
		for k := 0; k < m; k++ {
			q += cconj(u[k]) * bi[k*m+i]
		}
		nq := real(q)
		if !(nq > 0) || math.IsInf(nq, 0) {
			return 0, false
		}
		sc := 1 / math.Sqrt(nq)
		// δ = new row − old row; r = δᵀ·B; B ← B − (B e_i)(r)/(1 + r_i).
		row := w[i*m : i*m+m]
		for k := range row {
			nw := complex(real(u[k])*sc, -imag(u[k])*sc)
			d := nw - row[k]
			dn += abs2(d)
			wn += abs2(nw)
			row[k] = nw
			u[k] = d // reuse u for δ
		}
		for k := 0; k < m; k++ {
			var acc complex128
			for j := 0; j < m; j++ {
				acc += u[j] * bi[j*m+k]
			}
			r[k] = acc
		}
		den := 1 + r[i]
		if !(abs2(den) > pivotTiny*pivotTiny) {
			return 0, false
		}
		id := cinv(den)
		for a := 0; a < m; a++ {
			c := bi[a*m+i] * id
			if c == 0 {
				continue
			}
			ra := bi[a*m : a*m+m]
			for k := range ra {
				ra[k] -= c * r[k]
			}
		}
	}
	if wn == 0 {
		return 0, true
	}
	return dn / wn, true
}
