package stream

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/livesep/livesep/stft"
)

// ErrNonFinite is the sticky error a processor reports after it has seen NaN
// or Inf input and replaced it.
var ErrNonFinite = errors.New("non-finite (NaN/Inf) input replaced by silence")

// Spectral is the time-domain Processor around a spectral Separator:
// it cuts the input into hops, analyses each hop (stft.Analyzer), lets the
// Separator turn the mixture spectrum into source spectra, and synthesises
// them by weighted overlap-add (stft.Synthesizer).
//
// Process accepts any block length. Input is collected into hops, and output
// is served from a FIFO primed with Hop−1 frames of silence, which is exactly
// enough for every block size; so Latency() is Config.Latency()+Hop−1 =
// Config.Reach()−1 frames (N−2 for the periodic sqrt-Hann window of N).
// When the Spec promises FixedBlock with MaxFrames equal to the hop (as the
// Engine does), no priming is needed and Latency() is Config.Latency() =
// Reach−Hop: with the hop's own collection time, the synthesis window's
// reach in all, as DESIGN.md states.
type Spectral struct {
	cfg stft.Config
	sep Separator

	mics, sources int
	an            *stft.Analyzer
	syn           *stft.Synthesizer

	hopIn  [][]float64    // [mic][Hop] collected input
	fill   int            // frames in hopIn
	mix    [][]complex128 // [mic][bin]
	srcs   [][]complex128 // [source][bin]
	hopOut [][]float64    // [source][Hop] synthesised

	fifo       [][]float64 // [source][2·Hop] circular output queue
	fifoStart  int
	fifoLen    int
	prime      int            // frames of silence the FIFO starts with
	holder     LearningHolder // sep, if it can hold learning; else nil
	clipHops   int            // spectra still to come whose window holds a clipped sample
	clipped    atomic.Int64   // spectra analysed with clipped input
	nonFinite  atomic.Int64
	hops       atomic.Int64
	firstError atomic.Pointer[error]
}

// NewSpectral wraps sep with the STFT configuration cfg. Prepare does the
// allocation.
func NewSpectral(cfg stft.Config, sep Separator) (*Spectral, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sep == nil {
		return nil, errors.New("stream: NewSpectral: nil Separator")
	}
	h, _ := sep.(LearningHolder)
	return &Spectral{cfg: cfg, sep: sep, holder: h}, nil
}

// Config is the STFT configuration.
func (p *Spectral) Config() stft.Config { return p.cfg }

// Separator is the wrapped separator.
func (p *Spectral) Separator() Separator { return p.sep }

// Prepare implements Processor.
func (p *Spectral) Prepare(s Spec) (int, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	bins := p.cfg.Bins()
	m, err := p.sep.Prepare(s.Channels, bins)
	if err != nil {
		return 0, err
	}
	if m <= 0 {
		return 0, fmt.Errorf("stream: separator returned %d sources", m)
	}
	p.mics, p.sources = s.Channels, m
	p.prime = p.cfg.Hop - 1
	if s.FixedBlock && s.MaxFrames == p.cfg.Hop {
		p.prime = 0
	}
	if p.an, err = stft.NewAnalyzer(p.cfg, s.Channels); err != nil {
		return 0, err
	}
	if p.syn, err = stft.NewSynthesizer(p.cfg, m); err != nil {
		return 0, err
	}
	hop := p.cfg.Hop
	p.hopIn = alloc2[float64](s.Channels, hop)
	p.mix = alloc2[complex128](s.Channels, bins)
	p.srcs = alloc2[complex128](m, bins)
	p.hopOut = alloc2[float64](m, hop)
	p.fifo = alloc2[float64](m, 2*hop)
	p.Reset()
	return m, nil
}

func alloc2[T any](rows, cols int) [][]T {
	flat := make([]T, rows*cols)
	out := make([][]T, rows)
	for i := range out {
		out[i] = flat[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return out
}

// Reset implements Processor.
func (p *Spectral) Reset() {
	if p.an == nil {
		return
	}
	p.an.Reset()
	p.syn.Reset()
	p.sep.Reset()
	p.fill = 0
	for c := range p.fifo {
		clear(p.fifo[c])
	}
	p.fifoStart = 0
	p.fifoLen = p.prime // the silence that makes any block size work
	p.nonFinite.Store(0)
	p.clipHops = 0
	p.clipped.Store(0)
	p.hops.Store(0)
	p.firstError.Store(nil)
}

// Latency implements Processor.
func (p *Spectral) Latency() int { return p.cfg.Latency() + p.prime }

// Err implements Processor: the first non-finite input seen, or the
// separator's sticky error.
func (p *Spectral) Err() error {
	if e := p.firstError.Load(); e != nil {
		return *e
	}
	return p.sep.Err()
}

// NonFinite is the number of NaN/Inf input samples replaced by 0.
func (p *Spectral) NonFinite() int64 { return p.nonFinite.Load() }

// ClippedSpectra is the number of spectra since Prepare or Reset whose
// analysis window held a clipped input sample (|x| ≥ ClipLevel). Each was
// separated as usual, and the separator, if a LearningHolder, was told not
// to learn from it. It may be called from any goroutine.
func (p *Spectral) ClippedSpectra() int64 { return p.clipped.Load() }

// Hops is the number of hops analysed since Reset.
func (p *Spectral) Hops() int64 { return p.hops.Load() }

var errNonFinite = fmt.Errorf("stream: %w", ErrNonFinite)

// Process implements Processor.
func (p *Spectral) Process(dst, src [][]float32) {
	if len(src) != p.mics || len(dst) != p.sources {
		panic("stream: Spectral.Process: channel count mismatch")
	}
	n := 0
	if len(src) > 0 {
		n = len(src[0])
	}
	for _, s := range src {
		if len(s) != n {
			panic("stream: Spectral.Process: ragged src")
		}
	}
	for _, d := range dst {
		if len(d) != n {
			panic("stream: Spectral.Process: dst length differs from src")
		}
	}
	hop := p.cfg.Hop
	for pos := 0; pos < n; {
		k := min(hop-p.fill, n-pos)
		clip := false
		for c, s := range src {
			s := s[pos : pos+k]
			in := p.hopIn[c][p.fill : p.fill+len(s)]
			for i, v := range s {
				if !finite32(v) {
					v = 0
					p.countNonFinite()
				}
				clip = clip || v >= ClipLevel || v <= -ClipLevel
				in[i] = float64(v)
			}
		}
		if clip {
			// The sample is in this hop's analysis window and the next
			// ones, ⌈Size/Hop⌉ in all.
			p.clipHops = (p.cfg.Size + hop - 1) / hop
		}
		p.fill += k
		if p.fill == hop {
			p.runHop()
			p.fill = 0
		}
		p.pop(dst, pos, k)
		pos += k
	}
}

// finite32 reports whether v is neither NaN nor ±Inf, with one subtraction:
// v−v is 0 for every finite v and NaN otherwise.
func finite32(v float32) bool { return v-v == 0 }

// countNonFinite counts one replaced input sample and keeps the first as the
// sticky error. Out of line: it runs only on bad input.
//
//go:noinline
func (p *Spectral) countNonFinite() {
	if p.nonFinite.Add(1) == 1 {
		p.firstError.CompareAndSwap(nil, &errNonFinite)
	}
}

// runHop analyses the collected hop, separates, synthesises and queues the
// result.
func (p *Spectral) runHop() {
	p.an.Analyze(p.mix, p.hopIn)
	if p.clipHops > 0 {
		p.clipHops--
		p.clipped.Add(1)
		if p.holder != nil {
			p.holder.HoldLearning()
		}
	}
	p.sep.Separate(p.srcs, p.mix)
	p.syn.Synthesize(p.hopOut, p.srcs)
	size := len(p.fifo[0])
	w := p.fifoStart + p.fifoLen
	for c, out := range p.hopOut {
		q := p.fifo[c]
		for i, v := range out {
			j := w + i
			if j >= size {
				j -= size
			}
			q[j] = v
		}
	}
	p.fifoLen += len(p.hopOut[0])
	p.hops.Add(1)
}

// pop moves k frames from the FIFO into dst[·][pos:pos+k].
func (p *Spectral) pop(dst [][]float32, pos, k int) {
	size := len(p.fifo[0])
	for c, d := range dst {
		q := p.fifo[c]
		j := p.fifoStart
		for i := pos; i < pos+k; i++ {
			v := q[j]
			if v-v != 0 { // NaN or ±Inf (see finite32)
				v = 0 // a separator bug must not reach the speakers
			}
			d[i] = float32(v)
			if j++; j == size {
				j = 0
			}
		}
	}
	p.fifoStart = (p.fifoStart + k) % size
	p.fifoLen -= k
}
