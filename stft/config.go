package stft

import (
	"fmt"
	"math"
)

// MaxSize is the largest Size accepted by Validate (2^20 frames, 65 s at 16 kHz).
const MaxSize = 1 << 20

// wolaTolerance is the largest relative deviation of the overlap-added window
// product accepted by Validate. A deviation δ scales reconstructed samples by
// up to 1±δ; 1e-10 keeps that well below the 1e-9 reconstruction target.
const wolaTolerance = 1e-10

// maxGain bounds how much the window pair may amplify rounding error: the
// ratio max|w_a|·max|w_s|·⌈N/H⌉ / |C| (C the overlap-add constant). It is 2
// for √Hann at hop N/4. A pair above it reconstructs in exact arithmetic but
// loses that many times more digits to FFT rounding, so it is rejected.
const maxGain = 1e4

// Config describes a streaming STFT: frame size, hop and the window pair.
type Config struct {
	Size                int       // N: FFT length = analysis window length; even
	Hop                 int       // H: frames per hop, 1 ≤ H ≤ N
	Analysis, Synthesis []float64 // w_a, w_s: windows of length Size
}

// New returns the default configuration: periodic √Hann for both analysis and
// synthesis. It reconstructs at hops size/2, size/4, …; Validate checks.
func New(size, hop int) Config {
	return Config{Size: size, Hop: hop, Analysis: SqrtHann(size), Synthesis: SqrtHann(size)}
}

// Bins returns the number of spectral coefficients per frame, Size/2+1.
func (c Config) Bins() int { return c.Size/2 + 1 }

// leadingZeros returns the number of leading exact zeros of the synthesis
// window (Size if it is all zeros).
func (c Config) leadingZeros() int {
	for i, v := range c.Synthesis {
		if v != 0 {
			return i
		}
	}
	return len(c.Synthesis)
}

// Reach returns the synthesis window's reach: Size minus the number of
// leading exact zeros of Synthesis, i.e. the number of frames from the oldest
// sample a synthesised frame can change to the newest. Frame positions with
// w_s = 0 never receive anything from a later frame, so a sample is finished
// as soon as it has slid into them; that is what makes Latency = Reach − Hop
// minimal. Reach is Size for a window with w_s[0] ≠ 0 (e.g. rectangular),
// Size−1 for periodic √Hann and Hann (w[0] = 0 exactly), and synth−1 for
// LowDelay.
//
// Reach is also the algorithmic latency of a hop-blocked real-time stream:
// the first sample of a hop waits Hop frames for the hop to fill, then
// Latency() more frames, which is Reach in total.
func (c Config) Reach() int { return c.Size - c.leadingZeros() }

// Latency returns the delay, in frames, of Analyze followed directly by
// Synthesize: input frame k comes out as output frame k+Latency(). It is
// Reach()−Hop (≥ 0 for a valid Config): Size−Hop for a window with
// w_s[0] ≠ 0, Size−Hop−1 for periodic √Hann, and Latency()+Hop ≤ Size in
// general. Output frames before Latency() are zero (the stream before the
// first input is taken as silence).
func (c Config) Latency() int { return max(c.Reach()-c.Hop, 0) }

// Validate checks the configuration. It returns an error, prefixed "stft: ",
// if Size is not even and in [2, MaxSize], if Hop is not in [1, Size], if a
// window has the wrong length or a non-finite sample, or if the pair does not
// reconstruct: the overlap-added product
//
//	C(n) = Σ_m w_a[n−mH]·w_s[n−mH]
//
// must be the same non-zero constant for every n (to a relative deviation of
// 1e-10; the error reports the worst deviation found), and the pair must not
// amplify rounding error by more than 1e4 (see maxGain). Hop need not divide
// Size; the check decides.
func (c Config) Validate() error {
	n, h := c.Size, c.Hop
	switch {
	case n <= 0:
		return fmt.Errorf("stft: size %d must be positive", n)
	case n%2 != 0:
		return fmt.Errorf("stft: size %d must be even", n)
	case n > MaxSize:
		return fmt.Errorf("stft: size %d exceeds the maximum %d", n, MaxSize)
	case h <= 0 || h > n:
		return fmt.Errorf("stft: hop %d must be in [1, size %d]", h, n)
	case len(c.Analysis) != n:
		return fmt.Errorf("stft: analysis window has %d samples, want size %d", len(c.Analysis), n)
	case len(c.Synthesis) != n:
		return fmt.Errorf("stft: synthesis window has %d samples, want size %d", len(c.Synthesis), n)
	}
	var maxA, maxS float64
	for i := range n {
		a, s := c.Analysis[i], c.Synthesis[i]
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return fmt.Errorf("stft: analysis window sample %d is %v", i, a)
		}
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("stft: synthesis window sample %d is %v", i, s)
		}
		maxA, maxS = max(maxA, math.Abs(a)), max(maxS, math.Abs(s))
	}
	cst, dev := c.wola()
	if cst == 0 || math.IsNaN(cst) || math.IsInf(cst, 0) {
		return fmt.Errorf("stft: windows overlap-add to %v at hop %d", cst, h)
	}
	if dev > wolaTolerance || math.IsNaN(dev) {
		return fmt.Errorf("stft: windows do not overlap-add to a constant at hop %d (worst deviation %.3g%%)", h, 100*dev)
	}
	if g := maxA * maxS * float64((n+h-1)/h) / math.Abs(cst); g > maxGain {
		return fmt.Errorf("stft: window pair amplifies rounding error %.3g times at hop %d (limit %g)", g, h, maxGain)
	}
	return nil
}

// wola returns the mean overlap-add constant C = mean_r Σ_{p≡r (mod H)} w_a[p]w_s[p]
// and the worst relative deviation max_r |C(r) − C| / |C|. Off the hot path:
// it allocates H floats.
func (c Config) wola() (cst, dev float64) {
	sums := make([]float64, c.Hop)
	for p := range c.Size {
		sums[p%c.Hop] += c.Analysis[p] * c.Synthesis[p]
	}
	for _, s := range sums {
		cst += s
	}
	cst /= float64(c.Hop)
	for _, s := range sums {
		dev = max(dev, math.Abs(s-cst)/math.Abs(cst))
	}
	return cst, dev
}
