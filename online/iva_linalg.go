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
		inv := 1 / a[k*n+k]
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
		b[k] = s / a[k*n+k]
	}
	return true
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
		d := 1 / a[k*n+k]
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
