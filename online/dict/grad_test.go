package dict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
)

// flatParams views every parameter of nets as one vector (get/set).
func flatParams(nets []*tnet) (get func() []float64, set func([]float64)) {
	var slots [][]float64
	for _, n := range nets {
		for _, l := range n.layers {
			slots = append(slots, l.W.RawMatrix().Data, l.b)
		}
	}
	get = func() []float64 {
		var out []float64
		for _, s := range slots {
			out = append(out, s...)
		}
		return out
	}
	set = func(x []float64) {
		for _, s := range slots {
			copy(s, x[:len(s)])
			x = x[len(s):]
		}
	}
	return
}

func flatGrads(nets []*tnet) []float64 {
	var out []float64
	for _, n := range nets {
		for _, l := range n.layers {
			out = append(out, l.gW.RawMatrix().Data...)
			out = append(out, l.gb...)
		}
	}
	return out
}

func randDense(rng *rand.Rand, r, c int, lo, hi float64) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = lo + (hi-lo)*rng.Float64()
	}
	return m
}

// TestBackpropGradient checks the analytic gradient of the training loss
// (lossGrad through every layer of two class autoencoders, both loss terms)
// against central finite differences (gonum diff/fd), for each hidden
// activation.
func TestBackpropGradient(t *testing.T) {
	for _, act := range []string{"tanh", "relu"} {
		for _, lam := range []float64{0, 0.5, 1} {
			t.Run(fmt.Sprintf("%s/lambda=%g", act, lam), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 1))
				const rows, in, lat, bands = 5, 7, 3, 6
				enc := []LayerShape{{In: in, Out: 5, Act: act}, {In: 5, Out: lat, Act: "linear"}}
				dec := []LayerShape{{In: lat, Out: 4, Act: act}, {In: 4, Out: bands, Act: "softplus"}}
				nets := []*tnet{newTNet(enc, dec, rng), newTNet(enc, dec, rng)}
				for _, n := range nets {
					n.setBatch(rows)
					for _, l := range n.layers {
						for i := range l.b {
							l.b[i] = 0.3 * rng.NormFloat64()
						}
					}
				}
				X := randDense(rng, rows, in, -1, 1)
				Xm := randDense(rng, rows, bands, 0.1, 2)
				T := []*mat.Dense{randDense(rng, rows, bands, 0, 1.2), randDense(rng, rows, bands, 0, 1.2)}
				dC := []*mat.Dense{mat.NewDense(rows, bands, nil), mat.NewDense(rows, bands, nil)}
				loss := func() float64 {
					C := []*mat.Dense{
						mat.DenseCopyOf(nets[0].forward(X, 0, 4)),
						mat.DenseCopyOf(nets[1].forward(X, 0, 4)),
					}
					return lossGrad(nil, C, T, Xm, lam)
				}
				// Analytic.
				C := []*mat.Dense{mat.DenseCopyOf(nets[0].forward(X, 0, 4)), mat.DenseCopyOf(nets[1].forward(X, 0, 4))}
				lossGrad(dC, C, T, Xm, lam)
				for k, n := range nets {
					n.forward(X, 0, 4) // restore this net's activations
					n.backward(X, dC[k], 0, 4, nil)
				}
				got := flatGrads(nets)
				get, set := flatParams(nets)
				x0 := get()
				want := fd.Gradient(nil, func(p []float64) float64 {
					set(p)
					return loss()
				}, x0, &fd.Settings{Formula: fd.Central, Step: 1e-6})
				set(x0)
				var worst float64
				for i := range got {
					e := math.Abs(got[i]-want[i]) / math.Max(1e-4, math.Abs(want[i]))
					worst = math.Max(worst, e)
				}
				// Central differences at h = 1e-6 are good to ~1e-8 absolute
				// here; ReLU kinks are not hit by these random values.
				if worst > 1e-4 {
					t.Errorf("worst relative gradient error %.3g over %d parameters", worst, len(got))
				}
				t.Logf("%d parameters, worst relative error %.2g", len(got), worst)
			})
		}
	}
}

// TestInputGradient checks ∂L/∂X of tnet.backward (the path the float64
// latent-gradient oracle uses) against finite differences.
func TestInputGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	dec := []LayerShape{{In: 3, Out: 5, Act: "tanh"}, {In: 5, Out: 4, Act: "softplus"}}
	n := newTNet(nil, dec, rng)
	n.setBatch(1)
	h := mat.NewDense(1, 3, []float64{0.3, -0.7, 1.1})
	w := []float64{0.5, -1, 2, 0.25}
	f := func(x []float64) float64 {
		c := n.forward(mat.NewDense(1, 3, x), 0, 2)
		var s float64
		for j, v := range c.RawMatrix().Data {
			s += w[j] * v * v
		}
		return s
	}
	c := n.forward(h, 0, 2)
	dY := mat.NewDense(1, 4, nil)
	for j, v := range c.RawMatrix().Data {
		dY.Set(0, j, 2*w[j]*v)
	}
	dX := mat.NewDense(1, 3, nil)
	n.backward(h, dY, 0, 2, dX)
	want := fd.Gradient(nil, f, h.RawRowView(0), &fd.Settings{Formula: fd.Central})
	for i, v := range dX.RawRowView(0) {
		if math.Abs(v-want[i]) > 1e-7*math.Max(1, math.Abs(want[i])) {
			t.Errorf("∂/∂h_%d = %.10g, finite differences %.10g", i, v, want[i])
		}
	}
}

// latentJ64 is the fit cost J(h) in float64, from the float32 weights of m
// through tnet (an independent implementation of the forward pass): the
// oracle for the fitter's float32 gradient.
func latentJ64(m *Model, sqX []float32, h [][]float64) float64 {
	y := make([]float64, m.hdr.Bands)
	for k := range h {
		n := newTNet(nil, m.hdr.Dec, rand.New(rand.NewPCG(0, 0)))
		n.fromMLP(nil, m.dec[k])
		n.setBatch(1)
		c := n.forward(mat.NewDense(1, len(h[k]), h[k]), 0, len(n.layers))
		for j, v := range c.RawMatrix().Data {
			y[j] += v * v
		}
	}
	var J float64
	for j, v := range y {
		r := float64(sqX[j]) - math.Sqrt(v+fitDelta)
		J += r * r
	}
	return J
}

// TestLatentGradient checks the fitter's ∂J/∂h (float32 backprop through
// every class decoder, the chain rule through Y = Σ_k c_k²) against central
// differences of the float64 oracle latentJ64.
func TestLatentGradient(t *testing.T) {
	m := tinyModel(t)
	cfg := SeparatorConfig{}
	if err := cfg.fill(m); err != nil {
		t.Fatal(err)
	}
	f := newFitter(m, &cfg)
	_, _, mix := synMixture(5)
	x := spectrumAt(mix, synRate/2)
	f.run(x, zeroTime)
	rng := rand.New(rand.NewPCG(4, 4))
	for trial := 0; trial < 3; trial++ {
		h := make([][]float64, len(f.h))
		for k := range f.h {
			h[k] = make([]float64, f.lat)
			for i := range h[k] {
				h[k][i] = float64(f.hAcc[k][i]) + 0.3*rng.NormFloat64()
				f.h[k][i] = float32(h[k][i])
			}
		}
		J32 := f.decodeAll()
		J64 := latentJ64(m, f.sqX, h)
		if math.Abs(J32-J64) > 1e-4*math.Max(1, J64) {
			t.Fatalf("J: fitter %.7g, float64 oracle %.7g", J32, J64)
		}
		f.gradient()
		flat := func(v [][]float64) []float64 {
			var o []float64
			for _, r := range v {
				o = append(o, r...)
			}
			return o
		}
		shape := func(p []float64) [][]float64 {
			out := make([][]float64, len(h))
			for k := range out {
				out[k] = p[k*f.lat : (k+1)*f.lat]
			}
			return out
		}
		want := fd.Gradient(nil, func(p []float64) float64 { return latentJ64(m, f.sqX, shape(p)) },
			flat(h), &fd.Settings{Formula: fd.Central, Step: 1e-5})
		var norm, diff float64
		for k := range f.gAcc {
			for i, g := range f.gAcc[k] {
				w := want[k*f.lat+i]
				norm += w * w
				diff += (float64(g) - w) * (float64(g) - w)
			}
		}
		// float32 arithmetic: 1e-4 is ~1000 ulps; measured ~2e-7.
		if rel := math.Sqrt(diff / norm); !(rel < 1e-4) {
			t.Errorf("trial %d: relative error of ∂J/∂h %.3g (|∇J| = %.3g)", trial, rel, math.Sqrt(norm))
		} else {
			t.Logf("trial %d: |∇J| = %.3g, relative error %.2g", trial, math.Sqrt(norm), rel)
		}
	}
}
