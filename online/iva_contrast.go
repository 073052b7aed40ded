package online

import "math"

// The spherical logistic source model of IVA (DESIGN.md, "Adaptive-α IVA").
// Source i's vector over the F bins, y_i ∈ ℂ^F with norm r = ‖y_i‖, has
//
//	−log p(y_i) = G(α r) − 2F·log α + const,   G(u) = −log σ'(u),
//
// where σ'(u) = σ(u)(1−σ(u)) and G'(u) = tanh(u/2). The tests check these
// and the Wirtinger score φ = logisticWeight·y (ivaScoreTo) against finite
// differences of −log p (iva_oracle_test.go); the update rules call these.

// ivaAlphaGrad is ∂log p/∂α = 2F/α − r·tanh(α r/2) for a source vector of
// F bins and norm r.
func ivaAlphaGrad(alpha, r float64, bins int) float64 {
	return 2*float64(bins)/alpha - r*math.Tanh(alpha*r/2)
}

// logisticWeight is G'(αr)·α/(2r) = α·tanh(αr/2)/(2r), with its limit α²/4
// at r = 0. It is both the factor of the Wirtinger score (φ = weight·y) and
// the auxiliary-function weight of the covariances V_i. It decreases in r,
// which is what makes the quadratic auxiliary function a majoriser of G.
func logisticWeight(a, r float64) float64 {
	u := a * r
	if u < 1e-4 {
		return a * a / 4 * (1 - u*u/12)
	}
	return a * math.Tanh(u/2) / (2 * r)
}
