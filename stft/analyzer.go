package stft

import (
	"fmt"
	"slices"
)

// Analyzer turns a stream of hops into spectra. It keeps the last Size input
// frames of every channel; each Analyze shifts in Hop new frames, windows the
// Size frames by Analysis and takes their real FFT.
type Analyzer struct {
	size, hop int
	window    []float64
	hist      [][]float64 // per channel, the last Size input frames, oldest first
	frame     []float64   // windowed frame (scratch shared by the channels; fallback FFT path only)
	fft       *realFFT
}

// NewAnalyzer validates c and allocates an Analyzer for channels channels.
// The windows are copied, so later changes to c's slices have no effect.
func NewAnalyzer(c Config, channels int) (*Analyzer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if channels <= 0 {
		return nil, fmt.Errorf("stft: channel count %d must be positive", channels)
	}
	a := &Analyzer{
		size:   c.Size,
		hop:    c.Hop,
		window: slices.Clone(c.Analysis),
		hist:   make([][]float64, channels),
		fft:    newRealFFT(c.Size),
	}
	if !a.fft.packed() {
		a.frame = make([]float64, c.Size)
	}
	for ch := range a.hist {
		a.hist[ch] = make([]float64, c.Size)
	}
	return a, nil
}

// Analyze consumes one hop per channel, hop[ch] holding Hop new frames, and
// writes the spectrum of the last Size frames (windowed by Analysis) to
// dst[ch], which must hold Bins() coefficients:
//
//	dst[ch][k] = Σ_n w_a[n] x_ch[tH+H−N+n] e^{−2πikn/N}
//
// for the t-th call since creation or Reset (t = 0, 1, …), with x = 0 before
// the first input. It does not allocate and panics, with an "stft: " message,
// if the slice counts or lengths are wrong. NaN or Inf input is propagated,
// not repaired; it leaves the history after Size/Hop (rounded up) hops.
func (a *Analyzer) Analyze(dst [][]complex128, hop [][]float64) {
	if len(dst) != len(a.hist) || len(hop) != len(a.hist) {
		badCounts("Analyze", len(dst), len(hop), len(a.hist))
	}
	bins := a.size/2 + 1
	for ch, h := range a.hist {
		if len(hop[ch]) != a.hop {
			badLength("Analyze", "hop", ch, len(hop[ch]), a.hop)
		}
		if len(dst[ch]) != bins {
			badLength("Analyze", "dst", ch, len(dst[ch]), bins)
		}
		copy(h, h[a.hop:])
		copy(h[a.size-a.hop:], hop[ch])
		if a.fft.packed() {
			// Window and pack in one pass: even samples to the real parts,
			// odd samples to the imaginary parts of dst[ch][:Size/2].
			z := dst[ch][:a.size/2]
			w, x := a.window[:2*len(z)], h[:2*len(z)] // one bounds check, not four per j
			for j := range z {
				z[j] = complex(w[2*j]*x[2*j], w[2*j+1]*x[2*j+1])
			}
			a.fft.forwardPacked(dst[ch])
			continue
		}
		for i, w := range a.window {
			a.frame[i] = w * h[i]
		}
		a.fft.forward(dst[ch], a.frame)
	}
}

// Reset clears the history, as if the Analyzer were new.
func (a *Analyzer) Reset() {
	for _, h := range a.hist {
		clear(h)
	}
}

// badCounts and badLength build the panic messages for programming errors.
// They are kept out of line so the hot paths stay small.
//
//go:noinline
func badCounts(method string, got1, got2, want int) {
	panic(fmt.Sprintf("stft: %s: got %d and %d channel slices, want %d", method, got1, got2, want))
}

//go:noinline
func badLength(method, what string, ch, got, want int) {
	panic(fmt.Sprintf("stft: %s: %s[%d] has length %d, want %d", method, what, ch, got, want))
}
