package online

import "math"

// Reference forms and naive oracles used only by the tests.

// logisticG is G(u) = −log σ'(u) = |u| + 2·log(1+e^{−|u|}), written so it
// neither overflows nor loses precision for large |u|.
func logisticG(u float64) float64 {
	a := math.Abs(u)
	return a + 2*math.Log1p(math.Exp(-a))
}

// ivaNegLogDensity is −log p(y) of one source vector y (all F bins) up to
// the additive constant: G(α‖y‖) − 2F·log α.
func ivaNegLogDensity(alpha float64, y []complex128) float64 {
	return logisticG(alpha*ivaNorm(y)) - 2*float64(len(y))*math.Log(alpha)
}

// solveTo solves a·x = b for x (a is n×n, overwritten by its LU factors;
// b has length n and is overwritten by x). It uses partial pivoting and
// reports false if a pivot is below tiny·scale, where scale is the largest
// absolute entry of a; the content of a and b is then undefined.
func solveTo(a, b []complex128, n int, tiny float64) bool {
	scale := 0.0
	for _, v := range a[:n*n] {
		scale = math.Max(scale, abs2(v))
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return false
	}
	lim := tiny * tiny * scale
	for k := 0; k < n; k++ {
		p, best := k, abs2(a[k*n+k])
		for i := k + 1; i < n; i++ {
			if v := abs2(a[i*n+k]); v > best {
				p, best = i, v
			}
		}
		if !(best > lim) {
			return false
		}
		if p != k {
			for j := 0; j < n; j++ {
				a[k*n+j], a[p*n+j] = a[p*n+j], a[k*n+j]
			}
			b[k], b[p] = b[p], b[k]
		}
		inv := cinv(a[k*n+k])
		for i := k + 1; i < n; i++ {
			f := a[i*n+k] * inv
			if f == 0 {
				continue
			}
			for j := k + 1; j < n; j++ {
				a[i*n+j] -= f * a[k*n+j]
			}
			b[i] -= f * b[k]
		}
	}
	for k := n - 1; k >= 0; k-- {
		s := b[k]
		for j := k + 1; j < n; j++ {
			s -= a[k*n+j] * b[j]
		}
		b[k] = s * cinv(a[k*n+k])
	}
	return true
}

// quadForm is Re(uᴴ·a·u) for the n×n Hermitian a.
func quadForm(a, u []complex128, n int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		var t complex128
		ai := a[i*n : i*n+n]
		for j, v := range ai {
			t += v * u[j]
		}
		s += real(cconj(u[i]) * t)
	}
	return s
}

// ivaNorm is r = ‖y‖ = sqrt(Σ_f |y_f|²).
func ivaNorm(y []complex128) float64 {
	s := 0.0
	for _, v := range y {
		s += abs2(v)
	}
	return math.Sqrt(s)
}

// ivaScoreTo writes the Wirtinger score φ_f = ∂(−log p)/∂y_f* =
// (α/2)·tanh(α r/2)·y_f/r into dst (len(dst) = len(y)) and returns dst.
// At r = 0 the score is 0 (its limit is (α²/4)·y_f).
func ivaScoreTo(dst []complex128, alpha float64, y []complex128) []complex128 {
	g := logisticWeight(alpha, ivaNorm(y))
	for f, v := range y {
		dst[f] = complex(g, 0) * v
	}
	return dst
}
