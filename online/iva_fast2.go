package online

import "math"

// ip2 is the pairwise iterative projection for two sources (Ono 2012): the
// two demixing vectors that make W·V_i·w_i = e_i hold for both i at once are
// the generalised eigenvectors of (V_1, V_2), normalised by w_iᴴV_iw_i = 1;
// source 1 takes the one with the smaller eigenvalue w1ᴴV1w1/w1ᴴV2w1 (that
// choice has the larger |det W|, i.e. the lower cost). Each new row keeps
// the phase of the old one, which the cost does not fix. It reports false
// when the pair is degenerate (V_1 ∝ V_2, as at the very start) or
// singular, and leaves w unchanged then. With measure it returns the
// change ‖ΔW‖²/‖W‖².
//
// It computes what ip2Ref (the textbook form) computes with fewer
// divisions and square roots, which dominate its cost: an eigenvector's
// complex scale drops out of the result (the norm by uᴴV_iu, the phase by
// the old row), so it works with det(V_2)·V_2⁻¹V_1 = adj(V_2)·V_1 and its
// eigenvalues det(V_2)·λ, which need no division, and folds the two
// normalisations of a row into one 1/√(uᴴV_iu·|⟨w_old, u⟩|²). Where those
// products leave the normal range it falls back to ip2Ref.
func ip2(w, vs []complex128, measure bool) (float64, bool) {
	w, vs = w[:4:4], vs[:8:8]
	a1, b1, c1 := real(vs[0]), real(vs[3]), vs[1] // V1 = [a1 c1; c1* b1]
	a2, b2, c2 := real(vs[4]), real(vs[7]), vs[5]
	l1, l2 := loadRel*(a1+b1)/2, loadRel*(a2+b2)/2
	a1, b1, a2, b2 = a1+l1, b1+l1, a2+l2, b2+l2
	c1r, c1i, c2r, c2i := real(c1), imag(c1), real(c2), imag(c2)
	d1 := a1*b1 - (c1r*c1r + c1i*c1i)
	d2 := a2*b2 - (c2r*c2r + c2i*c2i)
	if !(d1 > 0 && d2 > 0 && a1 > 0 && a2 > 0) || !(d1 <= math.MaxFloat64 && d2 <= math.MaxFloat64) {
		return 0, false
	}
	// B = adj(V2)·V1 = [b2 −c2; −c2* a2]·[a1 c1; c1* b1]; x = c2·c1*.
	xr, xi := c2r*c1r+c2i*c1i, c2i*c1r-c2r*c1i
	b00r := b2*a1 - xr // imaginary part −xi
	b11r := a2*b1 - xr // imaginary part xi
	b01r, b01i := b2*c1r-b1*c2r, b2*c1i-b1*c2i
	b10r, b10i := a2*c1r-a1*c2r, a1*c2i-a2*c1i
	half := (b00r + b11r) / 2
	dd := d1 * d2
	disc := half*half - dd
	if !(disc > 1e-12*half*half) || !(disc <= math.MaxFloat64) {
		if !(disc <= math.MaxFloat64) || !(dd > 0 && dd <= math.MaxFloat64) {
			return ip2Ref(w, vs, measure)
		}
		return 0, false
	}
	sq := math.Sqrt(disc)
	// Eigenvectors from a row of B − λI: (b01, λ−b00) or (λ−b11, b10), with
	// λ∓ − b00 = δ ∓ √disc and λ∓ − b11 = −δ ∓ √disc for δ = (b11−b00)/2.
	// Each λ takes the form whose real part adds two terms of one sign, so
	// there is no cancellation.
	dl := (b11r - b00r) / 2
	var u [2][4]float64 // per source: re u0, im u0, re u1, im u1
	if dl >= 0 {
		u[0] = [4]float64{-dl - sq, -xi, b10r, b10i}
		u[1] = [4]float64{b01r, b01i, dl + sq, xi}
	} else {
		u[0] = [4]float64{b01r, b01i, dl - sq, xi}
		u[1] = [4]float64{sq - dl, -xi, b10r, b10i}
	}
	var t, phr, phi [2]float64
	for k := 0; k < 2; k++ {
		a, b, cr, ci := a1, b1, c1r, c1i
		if k == 1 {
			a, b, cr, ci = a2, b2, c2r, c2i
		}
		u0r, u0i, u1r, u1i := u[k][0], u[k][1], u[k][2], u[k][3]
		// nq = uᴴ·V·u, ph = ⟨old row, u⟩ = w_k0·u0 + w_k1·u1
		tr, ti := u0r*cr+u0i*ci, u0r*ci-u0i*cr // conj(u0)·c
		nq := a*(u0r*u0r+u0i*u0i) + b*(u1r*u1r+u1i*u1i) + 2*(tr*u1r-ti*u1i)
		o0, o1 := w[2*k], w[2*k+1]
		pr := real(o0)*u0r - imag(o0)*u0i + real(o1)*u1r - imag(o1)*u1i
		pi := real(o0)*u0i + imag(o0)*u0r + real(o1)*u1i + imag(o1)*u1r
		t[k] = nq * (pr*pr + pi*pi)
		phr[k], phi[k] = pr, pi
		if !(nq > 0 && nq <= math.MaxFloat64) || !(t[k] > 1e-280 && t[k] <= 1e280) {
			return ip2Ref(w, vs, measure)
		}
	}
	// new row k = conj(u·conj(ph))/√(nq·|ph|²) = conj(u)·ph/√t_k; one
	// division for both rows.
	s0, s1 := math.Sqrt(t[0]), math.Sqrt(t[1])
	r := 1 / (s0 * s1)
	g := [2]float64{r * s1, r * s0}
	var nw [4]complex128
	for k := 0; k < 2; k++ {
		u0r, u0i, u1r, u1i := u[k][0], u[k][1], u[k][2], u[k][3]
		sr, si := phr[k]*g[k], phi[k]*g[k]
		nw[2*k] = complex(u0r*sr+u0i*si, u0r*si-u0i*sr)
		nw[2*k+1] = complex(u1r*sr+u1i*si, u1r*si-u1i*sr)
	}
	if !measure {
		w[0], w[1], w[2], w[3] = nw[0], nw[1], nw[2], nw[3]
		return 0, true
	}
	dn, wn := 0.0, 0.0
	for k := range nw {
		dn += abs2(nw[k] - w[k])
		wn += abs2(nw[k])
		w[k] = nw[k]
	}
	return dn / wn, true
}
