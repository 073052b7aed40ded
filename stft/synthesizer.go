package stft

import "fmt"

// Synthesizer turns a stream of spectra back into hops by weighted
// overlap-add. Each Synthesize inverse-FFTs one spectrum per channel, windows
// it by Synthesis, adds it into an accumulator and emits the oldest Hop
// finished frames, scaled by 1/(N·C) (N for the unnormalised inverse FFT,
// C the overlap-add constant of the pair).
type Synthesizer struct {
	size, hop int
	lead      int       // leading zeros of Synthesis: frame positions that never change an output
	window    []float64 // Synthesis[lead:], length Reach
	scale     float64   // 1/(N·C)
	acc       [][]float64
	frame     []float64 // inverse FFT output (scratch shared by the channels)
	fft       *realFFT
}

// NewSynthesizer validates c and allocates a Synthesizer for channels
// channels. The windows are copied, so later changes to c's slices have no
// effect.
func NewSynthesizer(c Config, channels int) (*Synthesizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if channels <= 0 {
		return nil, fmt.Errorf("stft: channel count %d must be positive", channels)
	}
	cst, _ := c.wola()
	lead := c.leadingZeros()
	s := &Synthesizer{
		size:   c.Size,
		hop:    c.Hop,
		lead:   lead,
		window: append([]float64(nil), c.Synthesis[lead:]...),
		scale:  1 / (float64(c.Size) * cst),
		acc:    make([][]float64, channels),
		frame:  make([]float64, c.Size),
		fft:    newRealFFT(c.Size),
	}
	// Validate guarantees Reach ≥ Hop: every residue mod Hop needs a
	// non-zero w_s sample at or after lead.
	for ch := range s.acc {
		s.acc[ch] = make([]float64, c.Size-lead)
	}
	return s, nil
}

// Synthesize consumes one spectrum per channel, spec[ch] holding Bins()
// coefficients (the imaginary parts of bins 0 and Size/2 are ignored, as the
// signal is real), and writes Hop finished output frames to dst[ch].
//
// Frame t's inverse transform covers stream positions tH+H−N … tH+H−1. The
// accumulator holds positions from tH+H−N+lead on, where lead is the number
// of leading zeros of w_s: no later frame can change them, so the oldest Hop
// of them are final and are emitted, giving the minimal delay
// Latency() = Reach()−Hop. For spectra straight from an Analyzer with the same
// Config, dst is the input delayed by Latency() frames.
//
// It does not allocate and panics, with an "stft: " message, if the slice
// counts or lengths are wrong. A NaN or Inf in a spectrum poisons the frames
// it overlaps and leaves the accumulator after Reach()/Hop (rounded up) hops.
func (s *Synthesizer) Synthesize(dst [][]float64, spec [][]complex128) {
	if len(dst) != len(s.acc) || len(spec) != len(s.acc) {
		badCounts("Synthesize", len(dst), len(spec), len(s.acc))
	}
	bins := s.size/2 + 1
	reach := len(s.window)
	for ch, acc := range s.acc {
		if len(spec[ch]) != bins {
			badLength("Synthesize", "spec", ch, len(spec[ch]), bins)
		}
		if len(dst[ch]) != s.hop {
			badLength("Synthesize", "dst", ch, len(dst[ch]), s.hop)
		}
		s.fft.inverse(s.frame, spec[ch])
		y := s.frame[s.lead:]
		y = y[:len(s.window)]
		for i, w := range s.window {
			acc[i] += w * y[i]
		}
		out := dst[ch]
		for i := range out {
			out[i] = acc[i] * s.scale
		}
		copy(acc, acc[s.hop:])
		clear(acc[reach-s.hop:])
	}
}

// Reset clears the overlap-add accumulator, as if the Synthesizer were new.
func (s *Synthesizer) Reset() {
	for _, a := range s.acc {
		clear(a)
	}
}
