package stft

import (
	"fmt"
	"math"
)

// PeriodicHann returns the periodic Hann window of length n,
//
//	w[i] = ½(1 − cos(2πi/n)) = sin²(πi/n),  i = 0, …, n−1,
//
// the form whose shifts by n/k (k ≥ 2) add up to a constant. gonum's
// dsp/window.Hann is the symmetric form with denominator n−1, which does not
// overlap-add to a constant and must not be used for WOLA. The sin² form is
// used because it is exact at i = 0 (0) and i = n/2 (1) and accurate near 0.
// It panics if n < 0.
func PeriodicHann(n int) []float64 {
	w := SqrtHann(n)
	for i, v := range w {
		w[i] = v * v
	}
	return w
}

// SqrtHann returns the square root of the periodic Hann window of length n,
// w[i] = sin(πi/n) (non-negative for 0 ≤ i < n). Used for both analysis and
// synthesis, its square is the periodic Hann window, so the pair overlap-adds
// to a constant at hops n/2, n/4, …. Note w[0] = 0 exactly, which makes the
// pair's Reach n−1 rather than n. It panics if n < 0.
func SqrtHann(n int) []float64 {
	if n < 0 {
		panic("stft: negative window length")
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = math.Sin(math.Pi * float64(i) / float64(n))
	}
	return w
}

// LowDelay returns an asymmetric analysis/synthesis pair after Mauler and
// Martin ("A low delay, variable resolution, perfect reconstruction spectral
// analysis-synthesis system for speech enhancement", EUSIPCO 2007): a long
// analysis window of size frames for frequency resolution, and a synthesis
// window that is zero except on its last synth frames, so that the algorithmic
// latency is about synth frames instead of size. With M = synth/2:
//
//	analysis  w_a[n] = sin(πn / (2(size−M)))        n < size−M  (rising half of a long √Hann)
//	                   sin(π(n−size+2M) / (2M))      n ≥ size−M  (falling half of a short √Hann)
//	synthesis w_s[n] = 0                             n < size−2M
//	                   sin²(π(n−size+2M)/(2M)) / w_a[n]   size−2M ≤ n < size−M
//	                   sin(π(n−size+2M) / (2M))      n ≥ size−M
//
// so that w_a·w_s is the periodic Hann window of length 2M on the last 2M
// frames and zero before; it overlap-adds to a constant at hops 2M/k, k ≥ 2.
// Since the Hann window starts with an exact zero, Reach is synth−1: at 16 kHz,
// LowDelay(512, 64, 128) has an algorithmic latency (Reach) of 127 frames,
// 7.9 ms, with 512-point frequency resolution.
//
// It returns an error if synth is odd, not positive or larger than size. It
// does not validate hop; Config.Validate does.
func LowDelay(size, hop, synth int) (Config, error) {
	if synth <= 0 || synth%2 != 0 || synth > size {
		return Config{}, fmt.Errorf("stft: low-delay synthesis length %d must be even and in [2, %d]", synth, size)
	}
	m := synth / 2
	wa := make([]float64, size)
	ws := make([]float64, size)
	for n := range size {
		k := float64(n - size + 2*m) // position in the short window of length 2M
		if n < size-m {
			wa[n] = math.Sin(math.Pi * float64(n) / float64(2*(size-m)))
		} else {
			wa[n] = math.Sin(math.Pi * k / float64(2*m))
		}
		switch {
		case n < size-2*m:
			ws[n] = 0
		case n < size-m:
			if h := math.Sin(math.Pi * k / float64(2*m)); h != 0 {
				ws[n] = h * h / wa[n]
			} // h = 0 at the window start: ws = 0 (also avoids 0/0 when size = 2M)
		default:
			ws[n] = math.Sin(math.Pi * k / float64(2*m))
		}
	}
	return Config{Size: size, Hop: hop, Analysis: wa, Synthesis: ws}, nil
}
