package dict

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// tlayer is the training (float64, batched, gonum) form of a layer, with
// its gradient and Adam moments.
type tlayer struct {
	in, out int
	act     Act
	W       *mat.Dense // out × in
	b       []float64
	gW      *mat.Dense
	gb      []float64
	mW, vW  *mat.Dense
	mb, vb  []float64
	// batch buffers (rows = batch)
	A, Z, dA *mat.Dense
	dIn      *mat.Dense // rows × in: ∂L/∂(this layer's input)
}

// tnet is one class's autoencoder in training form: encoder layers then
// decoder layers, with the index of the first decoder layer.
type tnet struct {
	layers []*tlayer
	nEnc   int
}

func newTLayer(in, out int, act Act, rng *rand.Rand) *tlayer {
	l := &tlayer{
		in: in, out: out, act: act,
		W: mat.NewDense(out, in, nil), b: make([]float64, out),
		gW: mat.NewDense(out, in, nil), gb: make([]float64, out),
		mW: mat.NewDense(out, in, nil), vW: mat.NewDense(out, in, nil),
		mb: make([]float64, out), vb: make([]float64, out),
	}
	// Glorot-uniform for smooth activations, He-uniform for ReLU.
	s := math.Sqrt(6 / float64(in+out))
	if act == ReLU {
		s = math.Sqrt(6 / float64(in))
	}
	raw := l.W.RawMatrix().Data
	for i := range raw {
		raw[i] = (2*rng.Float64() - 1) * s
	}
	return l
}

func newTNet(enc, dec []LayerShape, rng *rand.Rand) *tnet {
	n := &tnet{nEnc: len(enc)}
	for _, s := range append(append([]LayerShape{}, enc...), dec...) {
		a, _ := parseAct(s.Act)
		n.layers = append(n.layers, newTLayer(s.In, s.Out, a, rng))
	}
	return n
}

// setBatch sizes the batch buffers for rows examples.
func (n *tnet) setBatch(rows int) {
	for _, l := range n.layers {
		if l.A != nil {
			if r, _ := l.A.Dims(); r == rows {
				continue
			}
		}
		l.A = mat.NewDense(rows, l.out, nil)
		l.Z = mat.NewDense(rows, l.out, nil)
		l.dA = mat.NewDense(rows, l.out, nil)
		l.dIn = mat.NewDense(rows, l.in, nil)
	}
}

func actF(a Act, x float64) float64 {
	switch a {
	case ReLU:
		return math.Max(x, 0)
	case Tanh:
		return math.Tanh(x)
	case Softplus:
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	}
	return x
}

// actD is the derivative of the activation at pre-activation x with output y.
func actD(a Act, x, y float64) float64 {
	switch a {
	case ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case Tanh:
		return 1 - y*y
	case Softplus:
		return 1 / (1 + math.Exp(-x))
	}
	return 1
}

// forward runs the batch X (rows × in) through layers [from, to) and
// returns the last output.
func (n *tnet) forward(X mat.Matrix, from, to int) *mat.Dense {
	var x mat.Matrix = X
	for _, l := range n.layers[from:to] {
		l.A.Mul(x, l.W.T())
		ra := l.A.RawMatrix()
		rz := l.Z.RawMatrix()
		rows, _ := l.A.Dims()
		for r := 0; r < rows; r++ {
			a := ra.Data[r*ra.Stride : r*ra.Stride+l.out]
			z := rz.Data[r*rz.Stride : r*rz.Stride+l.out]
			for o := range a {
				a[o] += l.b[o]
				z[o] = actF(l.act, a[o])
			}
		}
		x = l.Z
	}
	return n.layers[to-1].Z
}

// backward back-propagates dY = ∂L/∂(output of layer to−1) through layers
// [from, to), overwriting their parameter gradients gW, gb; X is the input
// of layer from (as given to forward). If dX is not nil it receives ∂L/∂X.
// dY is read before anything is written, so it may be any buffer.
func (n *tnet) backward(X mat.Matrix, dY *mat.Dense, from, to int, dX *mat.Dense) {
	g := dY
	for i := to - 1; i >= from; i-- {
		l := n.layers[i]
		ra, rz, rg, rd := l.A.RawMatrix(), l.Z.RawMatrix(), g.RawMatrix(), l.dA.RawMatrix()
		rows, _ := l.A.Dims()
		for r := 0; r < rows; r++ {
			for o := 0; o < l.out; o++ {
				rd.Data[r*rd.Stride+o] = rg.Data[r*rg.Stride+o] * actD(l.act, ra.Data[r*ra.Stride+o], rz.Data[r*rz.Stride+o])
			}
		}
		var x mat.Matrix = X
		if i > from {
			x = n.layers[i-1].Z
		}
		l.gW.Mul(l.dA.T(), x)
		clear(l.gb)
		for r := 0; r < rows; r++ {
			for o := 0; o < l.out; o++ {
				l.gb[o] += rd.Data[r*rd.Stride+o]
			}
		}
		switch {
		case i > from:
			// ∂L/∂Z_{i−1} goes to layer i's dIn buffer (shaped like Z_{i−1}).
			l.dIn.Mul(l.dA, l.W)
			g = l.dIn
		case dX != nil:
			dX.Mul(l.dA, l.W)
		}
	}
}

// adam is the optimiser state of one class's network, with the running
// average of its weights.
type adam struct {
	lr, b1, b2, eps, wd float64
	t                   int
	avg                 [][]float64 // EMA of the parameters (snapshot layout)
}

// avgDecay is the per-step decay of the weight average (half-life ≈ 350
// steps, 1.5 epochs at the defaults). Validation, early stopping and the
// saved model use the average: it moves less from epoch to epoch than the
// raw weights and generalises better (Polyak–Ruppert averaging).
const avgDecay = 0.998

// average folds n's current parameters into a.avg, with the warm-up
// d_t = min(avgDecay, (1+t)/(10+t)) so the first steps are not stuck at the
// initial weights.
func (a *adam) average(n *tnet) {
	if a.avg == nil {
		a.avg = n.snapshot(nil)
		return
	}
	d := math.Min(avgDecay, float64(1+a.t)/float64(10+a.t))
	for i, l := range n.layers {
		for j, v := range l.W.RawMatrix().Data {
			a.avg[2*i][j] = d*a.avg[2*i][j] + (1-d)*v
		}
		for j, v := range l.b {
			a.avg[2*i+1][j] = d*a.avg[2*i+1][j] + (1-d)*v
		}
	}
}

// step applies one AdamW update (Loshchilov & Hutter: weight decay
// decoupled from the gradient, on weights only, not biases) to every layer
// of n from its current gradients. a.t must already count this step.
func (a *adam) step(n *tnet) {
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	upd := func(w, g, m, v []float64, decay bool) {
		for i := range w {
			gi := g[i]
			m[i] = a.b1*m[i] + (1-a.b1)*gi
			v[i] = a.b2*v[i] + (1-a.b2)*gi*gi
			d := a.lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + a.eps)
			if decay {
				d += a.lr * a.wd * w[i]
			}
			w[i] -= d
		}
	}
	for _, l := range n.layers {
		upd(l.W.RawMatrix().Data, l.gW.RawMatrix().Data, l.mW.RawMatrix().Data, l.vW.RawMatrix().Data, true)
		upd(l.b, l.gb, l.mb, l.vb, false)
	}
}

// snapshot copies the parameters of n into dst (allocating it if nil).
func (n *tnet) snapshot(dst [][]float64) [][]float64 {
	if dst == nil {
		for _, l := range n.layers {
			dst = append(dst, make([]float64, l.in*l.out), make([]float64, l.out))
		}
	}
	for i, l := range n.layers {
		copy(dst[2*i], l.W.RawMatrix().Data)
		copy(dst[2*i+1], l.b)
	}
	return dst
}

// restore is the inverse of snapshot.
func (n *tnet) restore(src [][]float64) {
	for i, l := range n.layers {
		copy(l.W.RawMatrix().Data, src[2*i])
		copy(l.b, src[2*i+1])
	}
}

// toMLP rounds the parameters to float32 into the inference layers enc and
// dec (which must have the same shapes).
func (n *tnet) toMLP(enc, dec mlp) {
	all := append(append(mlp{}, enc...), dec...)
	for i, l := range n.layers {
		w := l.W.RawMatrix().Data
		for j, v := range w {
			all[i].W[j] = float32(v)
		}
		for j, v := range l.b {
			all[i].B[j] = float32(v)
		}
	}
}

// fromMLP loads float32 inference parameters into n (tests, fine-tuning).
func (n *tnet) fromMLP(enc, dec mlp) {
	all := append(append(mlp{}, enc...), dec...)
	for i, l := range n.layers {
		w := l.W.RawMatrix().Data
		for j := range w {
			w[j] = float64(all[i].W[j])
		}
		for j := range l.b {
			l.b[j] = float64(all[i].B[j])
		}
	}
}
