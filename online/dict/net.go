package dict

import (
	"fmt"
	"math"
)

// Act is a layer's activation function.
type Act uint8

// Activations. The decoder's last layer is Softplus so that its output, the
// square-root-compressed band magnitude, is non-negative.
const (
	Linear Act = iota
	ReLU
	Tanh
	Softplus
)

var actNames = [...]string{Linear: "linear", ReLU: "relu", Tanh: "tanh", Softplus: "softplus"}

func (a Act) String() string {
	if int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

func parseAct(s string) (Act, error) {
	for i, n := range actNames {
		if n == s {
			return Act(i), nil
		}
	}
	return 0, fmt.Errorf("unknown activation %q", s)
}

// layer is one dense layer y = act(W x + b), W stored row-major (Out × In).
// Inference uses the float32 copies; training keeps float64 masters.
type layer struct {
	In, Out int
	Act     Act
	W, B    []float32
}

// softplus32 is log(1+e^x), computed without overflow.
func softplus32(x float32) float32 {
	if x > 20 {
		return x
	}
	if x < -20 {
		return float32(math.Exp(float64(x)))
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// sigmoid32 is softplus' derivative 1/(1+e^−x).
func sigmoid32(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// forward computes pre = W x + b and out = act(pre). pre may be nil when the
// caller does not need it for a backward pass.
func (l *layer) forward(out, pre, x []float32) {
	in := l.In
	x = x[:in]
	out = out[:l.Out]
	w := l.W[:l.Out*in]
	for o := range out {
		row := w[o*in : o*in+in]
		a := l.B[o] + dot32(row, x)
		if pre != nil {
			pre[o] = a
		}
		switch l.Act {
		case ReLU:
			a = max(a, 0)
		case Tanh:
			a = float32(math.Tanh(float64(a)))
		case Softplus:
			a = softplus32(a)
		}
		out[o] = a
	}
}

// backward turns dOut = ∂J/∂out into ∂J/∂x (written to dx) given the layer's
// pre-activation pre and output out of the forward pass. dOut is
// overwritten with ∂J/∂pre.
func (l *layer) backward(dx, dOut, pre, out []float32) {
	in := l.In
	dOut = dOut[:l.Out]
	switch l.Act {
	case ReLU:
		for o, p := range pre[:l.Out] {
			if p <= 0 {
				dOut[o] = 0
			}
		}
	case Tanh:
		for o, y := range out[:l.Out] {
			dOut[o] *= 1 - y*y
		}
	case Softplus:
		for o, p := range pre[:l.Out] {
			dOut[o] *= sigmoid32(p)
		}
	}
	dx = dx[:in]
	clear(dx)
	w := l.W[:l.Out*in]
	for o, g := range dOut {
		if g == 0 {
			continue
		}
		axpy32(dx, g, w[o*in:o*in+in])
	}
}

// mlp is a stack of layers; enc and dec of one class are two mlps.
type mlp []layer

func (n mlp) in() int  { return n[0].In }
func (n mlp) out() int { return n[len(n)-1].Out }

// params counts the weights and biases.
func (n mlp) params() int {
	s := 0
	for _, l := range n {
		s += l.In*l.Out + l.Out
	}
	return s
}

// maxWidth is the widest layer input or output.
func (n mlp) maxWidth() int {
	w := 0
	for _, l := range n {
		w = max(w, l.In, l.Out)
	}
	return w
}

// tape holds one mlp's activations for a backward pass.
type tape struct {
	pre, out [][]float32 // per layer
	g0, g1   []float32   // gradient scratch of the widest layer
}

func newTape(n mlp) *tape {
	t := &tape{pre: make([][]float32, len(n)), out: make([][]float32, len(n))}
	for i, l := range n {
		t.pre[i] = make([]float32, l.Out)
		t.out[i] = make([]float32, l.Out)
	}
	w := n.maxWidth()
	t.g0, t.g1 = make([]float32, w), make([]float32, w)
	return t
}

// forward runs x through n, recording into t; the result is t.out[last].
func (n mlp) forward(t *tape, x []float32) []float32 {
	for i := range n {
		n[i].forward(t.out[i], t.pre[i], x)
		x = t.out[i]
	}
	return x
}

// backward turns dy = ∂J/∂y (len n.out()) into ∂J/∂x, written to dx, using
// the activations recorded by the last forward. dy is left unchanged.
func (n mlp) backward(t *tape, dx, dy []float32) {
	g := t.g0[:len(dy)]
	copy(g, dy)
	for i := len(n) - 1; i >= 0; i-- {
		next := t.g1[:n[i].In]
		if i == 0 {
			next = dx[:n[i].In]
		}
		n[i].backward(next, g, t.pre[i], t.out[i])
		g = t.g0[:n[i].In]
		if i > 0 {
			copy(g, next)
		}
	}
}

// dot32 is Σ a_i·b_i over len(a) (b at least as long), with four
// accumulators so the additions pipeline.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 8 {
		x, y := a[:8:8], b[:8:8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
		a, b = a[8:], b[8:]
	}
	for i, v := range a {
		s0 += v * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy32 is dst_i += g·x_i over len(x) (dst at least as long).
func axpy32(dst []float32, g float32, x []float32) {
	dst = dst[:len(x)]
	for len(x) >= 4 {
		d, s := dst[:4:4], x[:4:4]
		d[0] += g * s[0]
		d[1] += g * s[1]
		d[2] += g * s[2]
		d[3] += g * s[3]
		dst, x = dst[4:], x[4:]
	}
	for i, v := range x {
		dst[i] += g * v
	}
}
