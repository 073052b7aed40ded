package online

import "math"

// hermJacobi diagonalises the n×n Hermitian matrix a in place by cyclic
// complex Jacobi rotations and accumulates the rotations into the columns of
// e (a ← Jᴴ·a·J, e ← e·J). The caller initialises e (to the identity, or to
// an earlier eigenbasis with a = eᴴ·C·e, which makes one sweep enough when C
// changed little). On return the diagonal of a holds the eigenvalues, with
// the eigenvectors in the matching columns of e. It stops early when the
// off-diagonal energy is below 1e-24 of the diagonal energy.
func hermJacobi(a, e []complex128, n, sweeps int) {
	for sweep := 0; sweep < sweeps; sweep++ {
		off, dia := 0.0, 0.0
		for p := 0; p < n; p++ {
			dia += abs2(a[p*n+p])
			for q := p + 1; q < n; q++ {
				off += abs2(a[p*n+q])
			}
		}
		if !(off > 1e-24*dia) {
			return
		}
		for p := 0; p < n-1; p++ {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				mag := math.Sqrt(abs2(apq))
				app, aqq := real(a[p*n+p]), real(a[q*n+q])
				if !(mag > 1e-300) || mag <= 1e-17*(math.Abs(app)+math.Abs(aqq)) {
					continue
				}
				// The phase rotation diag(1, e^{-iθ}) makes the 2×2 block real;
				// a real Jacobi rotation (Numerical Recipes' smaller angle)
				// then zeroes it. J = U·R·Uᴴ in one step.
				tau := (aqq - app) / (2 * mag)
				t := 1 / (math.Abs(tau) + math.Sqrt(1+tau*tau))
				if tau < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(1+t*t)
				s := t * c
				ph := apq / complex(mag, 0)
				jpq := complex(s, 0) * ph
				jqp := -complex(s, 0) * cconj(ph)
				cc := complex(c, 0)
				for k := 0; k < n; k++ {
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p] = akp*cc + akq*jqp
					a[k*n+q] = akp*jpq + akq*cc
				}
				for k := 0; k < n; k++ {
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k] = cc*apk + cconj(jqp)*aqk
					a[q*n+k] = cconj(jpq)*apk + cc*aqk
				}
				a[p*n+q], a[q*n+p] = 0, 0
				a[p*n+p] = complex(real(a[p*n+p]), 0)
				a[q*n+q] = complex(real(a[q*n+q]), 0)
				for k := 0; k < n; k++ {
					ekp, ekq := e[k*n+p], e[k*n+q]
					e[k*n+p] = ekp*cc + ekq*jqp
					e[k*n+q] = ekp*jpq + ekq*cc
				}
			}
		}
	}
}
