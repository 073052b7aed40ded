package online

import "math"

// Small dense complex linear algebra for the per-bin m×m and n×n matrices of
// IVA (m, n ≤ 8). Matrices are row-major slices of length rows·cols. Nothing
// here allocates; scratch comes from the caller.

// abs2 is |z|².
func abs2(z complex128) float64 { return real(z)*real(z) + imag(z)*imag(z) }

// cconj is the complex conjugate (cmplx.Conj without the import).
func cconj(z complex128) complex128 { return complex(real(z), -imag(z)) }

// finite reports whether z has no NaN or Inf part.
func finite(z complex128) bool {
	// x-x is 0 for finite x and NaN for ±Inf and NaN.
	return real(z)-real(z) == 0 && imag(z)-imag(z) == 0
}

// mulTo sets dst (r×c) = a (r×k) · b (k×c).
func mulTo(dst, a, b []complex128, r, k, c int) {
	for i := 0; i < r; i++ {
		ai := a[i*k : i*k+k]
		di := dst[i*c : i*c+c]
		for j := range di {
			di[j] = 0
		}
		for l, av := range ai {
			if av == 0 {
				continue
			}
			bl := b[l*c : l*c+c]
			for j, bv := range bl {
				di[j] += av * bv
			}
		}
	}
}

// invertTo sets inv = a⁻¹ for the n×n matrix a (a is destroyed). It uses
// Gauss–Jordan elimination with partial pivoting and reports false when a
// pivot falls below tiny times the largest entry.
func invertTo(inv, a []complex128, n int, tiny float64) bool {
	scale := 0.0
	for _, v := range a[:n*n] {
		scale = math.Max(scale, abs2(v))
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return false
	}
	lim := tiny * tiny * scale
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			inv[i*n+j] = 0
		}
		inv[i*n+i] = 1
	}
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
				inv[k*n+j], inv[p*n+j] = inv[p*n+j], inv[k*n+j]
			}
		}
		d := cinv(a[k*n+k])
		for j := 0; j < n; j++ {
			a[k*n+j] *= d
			inv[k*n+j] *= d
		}
		for i := 0; i < n; i++ {
			if i == k {
				continue
			}
			f := a[i*n+k]
			if f == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				a[i*n+j] -= f * a[k*n+j]
				inv[i*n+j] -= f * inv[k*n+j]
			}
		}
	}
	return true
}

// cinv is 1/z by one real division (z ≠ 0; the callers check pivots first).
// Go's complex division guards against overflow at several times the cost.
func cinv(z complex128) complex128 {
	d := 1 / abs2(z)
	return complex(real(z)*d, -imag(z)*d)
}

// cholTo sets the lower triangle of l (n×n, row-major) to the Cholesky
// factor of the Hermitian v + load·I, v = l·lᴴ, with a real positive
// diagonal. It reads only the lower triangle of v and reports false if the
// matrix is not numerically positive definite.
func cholTo(l, v []complex128, n int, load float64) bool {
	for j := 0; j < n; j++ {
		d := real(v[j*n+j]) + load
		for k := 0; k < j; k++ {
			d -= abs2(l[j*n+k])
		}
		if !(d > 0) || math.IsInf(d, 0) {
			return false
		}
		ljj := math.Sqrt(d)
		l[j*n+j] = complex(ljj, 0)
		inv := 1 / ljj
		for i := j + 1; i < n; i++ {
			acc := v[i*n+j]
			for k := 0; k < j; k++ {
				acc -= l[i*n+k] * cconj(l[j*n+k])
			}
			l[i*n+j] = complex(real(acc)*inv, imag(acc)*inv)
		}
	}
	return true
}

// cholSolve solves (l·lᴴ)·x = b in place (b ← x) with the factor of cholTo.
func cholSolve(l, b []complex128, n int) {
	for i := 0; i < n; i++ {
		acc := b[i]
		for k := 0; k < i; k++ {
			acc -= l[i*n+k] * b[k]
		}
		b[i] = complex(real(acc)/real(l[i*n+i]), imag(acc)/real(l[i*n+i]))
	}
	for i := n - 1; i >= 0; i-- {
		acc := b[i]
		for k := i + 1; k < n; k++ {
			acc -= cconj(l[k*n+i]) * b[k]
		}
		b[i] = complex(real(acc)/real(l[i*n+i]), imag(acc)/real(l[i*n+i]))
	}
}
