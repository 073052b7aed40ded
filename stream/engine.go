package stream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/livesep/livesep/internal/ring"
)

// EngineConfig sizes an Engine.
type EngineConfig struct {
	// Spec describes the input: rate, channel count, and MaxFrames, the
	// frames per Process call (the block; for Spectral processors use the hop
	// so that one block is one hop).
	Spec Spec
	// RingFrames is the capacity of the input and the output ring in frames;
	// 0 means 8 blocks. Rounded up to a power of two.
	RingFrames int
}

// Engine moves audio through a Processor in fixed blocks:
//
//	I/O side → input ring → ProcessBlock (deinterleave, Process, interleave) → output ring → I/O side
//
// The I/O side (a device callback, or RunFile's pump) owns Input() and
// Output(); one processing goroutine calls ProcessBlock. Both rings hold
// interleaved frames. ProcessBlock allocates nothing and takes no locks.
type Engine struct {
	p      Processor
	spec   Spec
	outCh  int
	block  int
	period time.Duration // real-time duration of one block

	inW  *ring.Writer
	inR  *ring.Reader
	outW *ring.Writer
	outR *ring.Reader

	src, dst [][]float32
	hist     *Histogram

	blocks atomic.Int64
	late   atomic.Int64
}

// NewEngine prepares p for cfg.Spec and allocates the rings and buffers.
func NewEngine(p Processor, cfg EngineConfig) (*Engine, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("stream: NewEngine: nil Processor")
	}
	cfg.Spec.FixedBlock = true // ProcessBlock always hands over exactly one block
	out, err := p.Prepare(cfg.Spec)
	if err != nil {
		return nil, err
	}
	if out <= 0 {
		return nil, fmt.Errorf("stream: processor has %d output channels", out)
	}
	block := cfg.Spec.MaxFrames
	rf := cfg.RingFrames
	if rf == 0 {
		rf = 8 * block
	}
	if rf < block {
		return nil, fmt.Errorf("stream: ring of %d frames cannot hold one block of %d", rf, block)
	}
	e := &Engine{
		p:      p,
		spec:   cfg.Spec,
		outCh:  out,
		block:  block,
		period: cfg.Spec.Rate.D(block),
		src:    alloc2[float32](cfg.Spec.Channels, block),
		dst:    alloc2[float32](out, block),
		hist:   NewHistogram(),
	}
	e.inW, e.inR = ring.New(rf * cfg.Spec.Channels)
	e.outW, e.outR = ring.New(rf * out)
	return e, nil
}

// Processor is the engine's processor.
func (e *Engine) Processor() Processor { return e.p }

// Spec is the input spec (MaxFrames is the block).
func (e *Engine) Spec() Spec { return e.spec }

// OutChannels is the processor's output channel count.
func (e *Engine) OutChannels() int { return e.outCh }

// Block is the number of frames per Process call.
func (e *Engine) Block() int { return e.block }

// Input is the producer end of the input ring (interleaved frames).
func (e *Engine) Input() *ring.Writer { return e.inW }

// Output is the consumer end of the output ring (interleaved frames).
func (e *Engine) Output() *ring.Reader { return e.outR }

// Histogram holds the per-block processing times.
func (e *Engine) Histogram() *Histogram { return e.hist }

// Blocks is the number of blocks processed.
func (e *Engine) Blocks() int64 { return e.blocks.Load() }

// Late is the number of blocks whose processing took longer than the block
// lasts in real time.
func (e *Engine) Late() int64 { return e.late.Load() }

// Ready reports whether a whole block is waiting in the input ring and the
// output ring has room for its result.
func (e *Engine) Ready() bool {
	return e.inR.Len() >= e.block*e.spec.Channels && e.outW.Free() >= e.block*e.outCh
}

// ProcessBlock processes one block if Ready and reports whether it did.
func (e *Engine) ProcessBlock() bool {
	if !e.Ready() {
		return false
	}
	ch := e.spec.Channels
	a, b := e.inR.Peek(e.block * ch)
	deinterleave(e.src, a, b, ch)
	e.inR.Discard(e.block * ch)

	start := time.Now()
	e.p.Process(e.dst, e.src)
	took := time.Since(start)
	e.hist.Record(took)
	if took > e.period {
		e.late.Add(1)
	}
	e.blocks.Add(1)

	oa, ob := e.outW.Regions(e.block * e.outCh)
	interleave(oa, ob, e.dst)
	e.outW.Commit(e.block * e.outCh)
	return true
}

// deinterleave splits the interleaved frames held in a then b (whole frames
// in all; the split may fall inside a frame, where the ring wraps) into
// dst[c][:frames]. It walks one channel at a time with a stride, so the
// stores are sequential and no sample needs the k/ch, k%ch divisions an
// index-based loop would pay (5 % of an 8-channel engine step when it did).
func deinterleave(dst [][]float32, a, b []float32, ch int) { deinterleaveAt(dst, 0, a, b, ch) }

// deinterleaveAt is deinterleave into dst[c][at:at+frames].
func deinterleaveAt(dst [][]float32, at int, a, b []float32, ch int) {
	frames := (len(a) + len(b)) / ch
	for c, d := range dst[:ch] {
		d = d[at : at+frames]
		na := 0 // frames whose channel-c sample lies in a
		if c < len(a) {
			na = min((len(a)-c+ch-1)/ch, frames)
		}
		for f, i := 0, c; f < na; f, i = f+1, i+ch {
			d[f] = a[i]
		}
		for f, i := na, na*ch+c-len(a); f < frames; f, i = f+1, i+ch {
			d[f] = b[i]
		}
	}
}

// interleave writes the first (len(a)+len(b))/len(src) frames of src into a
// then b, the inverse of deinterleave.
func interleave(a, b []float32, src [][]float32) {
	ch := len(src)
	frames := (len(a) + len(b)) / ch
	for c, s := range src {
		s = s[:frames]
		na := 0
		if c < len(a) {
			na = min((len(a)-c+ch-1)/ch, frames)
		}
		for f, i := 0, c; f < na; f, i = f+1, i+ch {
			a[i] = s[f]
		}
		for f, i := na, na*ch+c-len(a); f < frames; f, i = f+1, i+ch {
			b[i] = s[f]
		}
	}
}

// watchContext turns ctx's cancellation into a flag the processing loop can
// poll without taking ctx's lock on every block. unwatch ends the watcher.
func watchContext(ctx context.Context) (stop *atomic.Bool, unwatch func()) {
	stop = new(atomic.Bool)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop.Store(true)
		case <-done:
		}
	}()
	return stop, func() { close(done) }
}
