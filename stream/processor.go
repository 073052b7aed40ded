package stream

import (
	"fmt"
	"time"
)

// Rate is a sample rate in frames per second. D and N convert between
// frame counts and durations.
type Rate int

// D is the duration of n frames at rate r.
func (r Rate) D(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(r))
}

// N is the number of whole frames that fit in d at rate r.
func (r Rate) N(d time.Duration) int {
	return int(int64(d) * int64(r) / int64(time.Second))
}

// Spec is fixed between Prepare and the next Prepare (JUCE dsp::ProcessSpec).
type Spec struct {
	Rate      Rate
	Channels  int // input channels seen by Process
	MaxFrames int // largest block Process will be given
	// FixedBlock promises that every Process call gets exactly MaxFrames
	// frames (the Engine does). A processor may then use less latency: a
	// Spectral whose hop equals the block needs no extra buffering.
	FixedBlock bool
}

// Validate reports a Spec that no processor can be prepared for.
func (s Spec) Validate() error {
	switch {
	case s.Rate <= 0:
		return fmt.Errorf("stream: sample rate %d Hz is not positive", s.Rate)
	case s.Channels <= 0:
		return fmt.Errorf("stream: %d channels; need at least 1", s.Channels)
	case s.MaxFrames <= 0:
		return fmt.Errorf("stream: MaxFrames %d is not positive", s.MaxFrames)
	}
	return nil
}

// Processor is one stage of the real-time path.
//
// The engine calls Prepare once, then Process many times from a single
// goroutine. Process never allocates, blocks, takes locks or returns an error;
// numerical trouble is counted and reported by Err.
type Processor interface {
	// Prepare sizes every buffer Process will touch. It may allocate and may
	// fail. It returns the output channel count (m sources for a separator).
	Prepare(s Spec) (outChannels int, err error)
	// Process reads src and writes dst; every src[c] and dst[c] has the same
	// length n, with 0 <= n <= s.MaxFrames. It must not allocate, block, take
	// locks, panic on signal values (NaN/Inf), or keep src or dst after it
	// returns.
	Process(dst, src [][]float32)
	// Reset forgets signal history (overlap buffers, adaptive state) and
	// keeps its allocations.
	Reset()
	// Latency is the delay in frames from an input sample to its effect on
	// the output: an impulse at input frame k peaks at output frame
	// k+Latency().
	Latency() int
	// Err reports the first numerical failure seen since Prepare or Reset.
	Err() error
}

// Separator turns one mixture spectrum [mic][bin] into one source spectrum
// [source][bin]. It is the spectral stage between stft analysis and
// synthesis; Spectral wraps it, with an stft.Config, into a Processor.
// Package online holds the implementations.
type Separator interface {
	// Prepare sizes all state for the given microphone and bin counts and
	// returns the number of sources Separate will write. It may allocate.
	Prepare(mics, bins int) (sources int, err error)
	// Separate reads mix[mic][bin] and writes dst[source][bin]. It does not
	// allocate, block or take locks, and never panics on NaN/Inf input:
	// such events are repaired locally, counted, and reported by Err.
	Separate(dst, mix [][]complex128)
	// Reset forgets adaptive state and keeps allocations.
	Reset()
	// Err reports the first numerical failure since Prepare or Reset.
	Err() error
}

// LearningHolder is implemented by adaptive separators that can separate a
// spectrum without learning from it. Spectral calls HoldLearning just before
// Separate for every spectrum whose analysis window holds clipped input
// (samples at or beyond ClipLevel): clipping is not a linear mixture of the
// sources, so what such spectra would teach the separator is wrong, and a
// separator that remembers seconds of statistics would keep the damage for
// seconds after the clipping ends. The hold applies to the next Separate
// call only.
type LearningHolder interface {
	HoldLearning()
}

// ClipLevel is the magnitude at or above which an input sample counts as
// clipped: full scale less 0.1 % (PCM16's largest value is 0.99997).
const ClipLevel = 0.999
