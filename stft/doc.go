// Package stft implements streaming short-time Fourier analysis and weighted
// overlap-add (WOLA) synthesis with perfect reconstruction.
//
// A Config fixes the frame size N, the hop H and the analysis/synthesis
// window pair; New gives the default periodic √Hann pair, LowDelay an
// asymmetric low-latency pair. An Analyzer turns H new frames per channel into
// N/2+1 spectral coefficients per channel; a Synthesizer turns spectra back
// into H frames per channel. Analyze followed directly by Synthesize
// reproduces the input delayed by Config.Latency frames (to about 1e-15 for
// inputs of order 1).
//
// # Real-time contract
//
// NewAnalyzer and NewSynthesizer validate the Config and allocate everything.
// Analyze and Synthesize do not allocate, block or take locks; they panic,
// with an "stft: " message, only on mismatched slice counts or lengths, which
// is a programming error. They do not inspect the data: NaN or Inf input is
// passed through, not repaired (counting and repairing is the caller's job),
// and it cannot stay forever. An Analyzer forgets a sample after ⌈N/H⌉ hops
// and a Synthesizer forgets a spectrum after ⌈Reach/H⌉ hops, so the pair's
// output is finite again ⌈N/H⌉−1+⌈Reach/H⌉ hops after the last bad input
// hop (7 for √Hann at N=512, H=128).
//
// # Concurrency
//
// An Analyzer or Synthesizer is used by one goroutine at a time: each owns a
// gonum fourier.FFT, whose work buffers are not safe for concurrent use.
// Separate instances are independent. A Config is a value; constructors copy
// its windows.
//
// # Latency
//
// Frame t (the t-th Analyze call, from 0) covers stream positions
// tH+H−N … tH+H−1. A Synthesizer can emit a position as soon as no later
// frame can change it. Positions that fall under the leading zeros of w_s in
// every later frame are final, so with lead leading zeros the synthesis
// window's reach is Reach = N−lead and the stream delay is
//
//	Latency = Reach − H,
//
// which is the minimum possible. It is N−H for a window with w_s[0] ≠ 0,
// N−H−1 for periodic √Hann and Hann (w[0] = 0 exactly), and synth−1−H for
// LowDelay. In a hop-blocked real-time stream, the first sample of a hop
// also waits H frames for its hop to fill, so the algorithmic latency is
// Latency+H = Reach: 511 frames (31.9 ms at 16 kHz) for √Hann at N=512, and
// 127 frames (7.9 ms) for LowDelay(512, 64, 128). Device buffers and
// processing time come on top, and the stream layer reports them.
//
// # Maths
//
// Analysis of hop t, channel c:
//
//	X_t[c][k] = Σ_{n=0}^{N−1} w_a[n] x_c[tH+H−N+n] e^{−2πikn/N},  k = 0 … N/2
//
// with x_c = 0 before the first input. Synthesis takes the unnormalised
// inverse transform of each spectrum (gonum's Sequence, Hermitian extension),
//
//	x̃_t[c][n] = Σ_{k=0}^{N−1} X_t[c][k] e^{2πikn/N},
//
// weights it by w_s and adds it at the same positions:
//
//	y_c[s] = (1/(N·C)) Σ_t w_s[n] x̃_t[c][n],  n = s − (tH+H−N).
//
// Without modification of X this gives y = x when the window product
// overlap-adds to a constant,
//
//	C = Σ_m w_a[n−mH]·w_s[n−mH]  for every n,
//
// which Config.Validate checks numerically (relative deviation ≤ 1e-10) and
// whose value Synthesize divides by. √Hann·√Hann = Hann overlap-adds to N/(2H)
// at H = N/2, N/4, …. Validate also rejects pairs that amplify FFT rounding
// by more than 1e4 (max|w_a|·max|w_s|·⌈N/H⌉/|C|, which is 2 for √Hann at
// H = N/4): reconstruction error grows with that gain times the FFT's
// rounding error, and FuzzConfig checks that accepted pairs stay within 1e-9.
//
// # Why hand-written
//
// gonum's dsp/window.Hann is the symmetric window (denominator N−1), which
// does not overlap-add to a constant; WOLA needs the periodic one, and gonum
// offers no √Hann and no asymmetric low-latency pairs. The FFT itself is
// gonum's fourier.FFT (real, FFTPACK, no allocation with a preallocated
// dst), which costs a few percent of one core even for 8 channels; the STFT
// framing and the overlap-add bookkeeping around it are a few dozen lines.
package stft
