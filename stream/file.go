package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"
)

// FileOptions tunes RunFile.
type FileOptions struct {
	// Progress, if set, is stored with the number of output frames written
	// so far after every block (for a progress display on another goroutine).
	Progress *atomic.Int64
	// OnEngine, if set, is called with the engine once it is built, before
	// the first block (benchmarks keep it to read the full histogram).
	OnEngine func(*Engine)
}

// clipLevel is the largest 16-bit PCM magnitude: samples at or beyond it are
// counted as clipped input.
const clipLevel = 32767.0 / 32768.0

// RunFile drives src through p and into sink with the same Engine the
// real-time path uses, deterministically and with nothing dropped: the
// pump waits for the processor instead of racing a clock. The processor's
// latency is compensated: Latency() frames of silence are fed after the end
// of src and the first Latency() output frames are discarded, so output frame
// k lines up with input frame k and the sink receives exactly as many frames
// as src gave.
//
// When ctx is cancelled (Ctrl-C), RunFile stops after the current block,
// hands the sink everything already processed, and returns the report so far
// with Interrupted set, and ctx's error. It never closes sink: the caller
// does (and must, also on error) so the files are finalised.
func RunFile(ctx context.Context, src Source, sink Sink, p Processor, opt FileOptions) (*Report, error) {
	spec := src.Spec()
	e, err := NewEngine(p, EngineConfig{Spec: spec})
	if err != nil {
		return nil, err
	}
	if opt.OnEngine != nil {
		opt.OnEngine(e)
	}
	ch, out, block := spec.Channels, e.OutChannels(), e.Block()
	lat := p.Latency()
	rep := &Report{
		Version:  1,
		Rate:     int(spec.Rate),
		Channels: ch,
		Sources:  out,
		Settings: map[string]any{},
		Latency:  NewLatencyReport(lat, block, spec.Rate, true),
	}

	stop, unwatch := watchContext(ctx)
	defer unwatch()

	readBuf := alloc2[float32](ch, block)
	inter := make([]float32, block*ch)
	outInter := make([]float32, block*out)
	outBuf := alloc2[float32](out, block)
	outView := make([][]float32, out)
	readView := make([][]float32, ch)

	var (
		inFrames, written int64
		skip              = int64(lat)
		eof               bool
		padLeft           int64
		zeroReads         int
		clipped           int64
		base              runtimeSample
		haveBase          bool
		samples           = newRuntimeSamples()
		runErr            error
	)
	// The runtime records small allocations per P lazily (when a cached
	// span is returned), so what the caller allocated just before the run
	// would be counted by the first garbage collection during it. Collect
	// once now: the report then counts the run's own allocations only.
	runtime.GC()
	start := time.Now()
	inW, outR := e.Input(), e.Output()

	drain := func() error {
		for outR.Len() >= out {
			k := min(outR.Len()/out, block)
			outR.Read(outInter[:k*out])
			deinterleave(outBuf, outInter[:k*out], nil, out)
			from := int64(0)
			if skip > 0 {
				from = min(skip, int64(k))
				skip -= from
			}
			to := int64(k)
			if lim := inFrames - written; to-from > lim {
				to = from + lim
			}
			if to <= from {
				continue
			}
			for c := range outView {
				outView[c] = outBuf[c][from:to]
			}
			n, err := sink.WriteFrames(outView)
			written += int64(n)
			if err != nil {
				return err
			}
			if opt.Progress != nil {
				opt.Progress.Store(written)
			}
		}
		return nil
	}

	for {
		if stop.Load() {
			rep.Interrupted = true
			runErr = ctx.Err()
			break
		}
		fed := false
		switch {
		case !eof && inW.Free() >= block*ch:
			n, err := src.ReadFrames(readBuf)
			if n > 0 {
				zeroReads = 0
				for c := range readBuf {
					for _, v := range readBuf[c][:n] {
						if v >= clipLevel || v <= -clipLevel {
							clipped++
						}
					}
				}
				for c := range readView {
					readView[c] = readBuf[c][:n]
				}
				interleave(inter[:n*ch], nil, readView)
				inW.Write(inter[:n*ch])
				inFrames += int64(n)
				fed = true
			}
			if errors.Is(err, io.EOF) {
				eof, fed = true, true // a change of state: padding starts next
				padLeft = int64(lat)
				if r := (inFrames + padLeft) % int64(block); r != 0 {
					padLeft += int64(block) - r
				}
			} else if err != nil {
				runErr = err
			} else if n == 0 {
				if zeroReads++; zeroReads > 100 {
					runErr = fmt.Errorf("stream: source returned no frames 100 times: %w", io.ErrNoProgress)
				}
			}
		case eof && padLeft > 0 && inW.Free() >= ch:
			k := min(padLeft, int64(inW.Free()/ch), int64(block))
			clear(inter[:k*int64(ch)])
			inW.Write(inter[:k*int64(ch)])
			padLeft -= k
			fed = true
		}
		if runErr != nil {
			break
		}
		processed := false
		for e.ProcessBlock() {
			processed = true
			if !haveBase {
				base, haveBase = readRuntime(samples), true
			}
		}
		if err := drain(); err != nil {
			runErr = err
			break
		}
		if !fed && !processed {
			if eof && padLeft == 0 {
				break // everything fed has been processed and written
			}
			if eof || inW.Free() < block*ch {
				runErr = errors.New("stream: engine stalled (internal error)")
				break
			}
		}
	}
	// Whatever was processed before a stop or failure still goes to the sink.
	if runErr == nil || rep.Interrupted {
		if err := drain(); err != nil && runErr == nil {
			runErr = err
		}
	}

	wall := time.Since(start)
	if haveBase {
		rep.Runtime = base.delta(readRuntime(samples))
	}
	rep.fillProcessing(e)
	rep.AudioSeconds = float64(inFrames) / float64(spec.Rate)
	rep.WallSeconds = wall.Seconds()
	if rep.AudioSeconds > 0 {
		busy := time.Duration(float64(rep.Processing.MeanUs) * float64(rep.Processing.Blocks) * float64(time.Microsecond))
		rep.RealTimeFactor = busy.Seconds() / rep.AudioSeconds
	}
	rep.Events.ClippedInput = clipped
	if cs, ok := p.(interface{ ClippedSpectra() int64 }); ok {
		rep.Events.ClippedSpectra = cs.ClippedSpectra()
	}
	if nf, ok := p.(interface{ NonFinite() int64 }); ok {
		rep.Events.NonFiniteInput = nf.NonFinite()
	}
	if err := p.Err(); err != nil {
		rep.Events.ProcessorError = err.Error()
	}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	return rep, runErr
}
