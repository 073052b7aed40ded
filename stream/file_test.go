package stream_test

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// memSource serves x in reads of at most chunk frames (chunk 1 is the
// misbehaving one-frame-at-a-time source).
type memSource struct {
	x     [][]float32
	pos   int
	chunk int
	spec  stream.Spec
	err   error // returned instead of io.EOF at the end, if set
}

func (s *memSource) Spec() stream.Spec { return s.spec }
func (s *memSource) ReadFrames(dst [][]float32) (int, error) {
	n := min(len(dst[0]), s.chunk, len(s.x[0])-s.pos)
	for c := range dst {
		copy(dst[c][:n], s.x[c][s.pos:s.pos+n])
	}
	s.pos += n
	if s.pos == len(s.x[0]) {
		if s.err != nil {
			return n, s.err
		}
		return n, io.EOF
	}
	return n, nil
}

type memSink struct {
	y      [][]float32
	failAt int // fail once this many frames were written (0: never)
	closed bool
}

var errDiskFull = errors.New("disk full")

func (s *memSink) WriteFrames(src [][]float32) (int, error) {
	if s.y == nil {
		s.y = make([][]float32, len(src))
	}
	n := len(src[0])
	if s.failAt > 0 && len(s.y[0])+n > s.failAt {
		return 0, errDiskFull
	}
	for c := range src {
		s.y[c] = append(s.y[c], src[c]...)
	}
	return n, nil
}
func (s *memSink) Close() error { s.closed = true; return nil }

func passthrough(t *testing.T, n, h int) *stream.Spectral {
	t.Helper()
	p, err := stream.NewSpectral(stft.New(n, h), online.Passthrough{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// RunFile compensates the latency: output frame k equals input frame k of
// mic 1, for every length (including ones that are not a whole number of
// blocks) and for a source that delivers one frame per read.
func TestRunFileAligned(t *testing.T) {
	for _, c := range []struct{ frames, chunk int }{{16000, 1 << 20}, {12345, 1}, {100, 7}, {1, 1}} {
		x := streamtest.Noise(2, c.frames, 3)
		src := &memSource{x: x, chunk: c.chunk, spec: stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 128}}
		sink := &memSink{}
		rep, err := stream.RunFile(context.Background(), src, sink, passthrough(t, 512, 128), stream.FileOptions{})
		if err != nil {
			t.Fatalf("frames=%d chunk=%d: %v", c.frames, c.chunk, err)
		}
		if got := len(sink.y[0]); got != c.frames {
			t.Fatalf("frames=%d: sink got %d frames", c.frames, got)
		}
		worst := 0.0
		for i := range x[0] {
			worst = math.Max(worst, math.Abs(float64(sink.y[0][i]-x[0][i])))
		}
		if worst > 1e-6 {
			t.Errorf("frames=%d chunk=%d: worst |out[k]-in[k]| = %g", c.frames, c.chunk, worst)
		}
		// periodic sqrt-Hann 512/128 in fixed hop blocks: reach 511, stream
		// delay 511-128.
		if rep.Latency.AlgorithmicFrames != 511 || rep.Latency.StreamDelayFrames != 383 || !rep.Latency.CompensatedInFile {
			t.Errorf("latency report %+v", rep.Latency)
		}
		wantBlocks := int64((c.frames + 383 + 127) / 128)
		if rep.Processing.Blocks != wantBlocks || rep.DroppedBlocks != 0 {
			t.Errorf("frames=%d: %d blocks, %d dropped; want %d, 0", c.frames, rep.Processing.Blocks, rep.DroppedBlocks, wantBlocks)
		}
	}
}

// A cancelled run stops early, hands over what was processed, and says so.
func TestRunFileInterrupted(t *testing.T) {
	x := streamtest.Noise(1, 160000, 4)
	src := &memSource{x: x, chunk: 1 << 20, spec: stream.Spec{Rate: 16000, Channels: 1, MaxFrames: 128}}
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := stream.RunFile(ctx, src, sink, passthrough(t, 512, 128), stream.FileOptions{})
	if !errors.Is(err, context.Canceled) || !rep.Interrupted {
		t.Fatalf("err = %v, interrupted = %v; want context.Canceled and true", err, rep.Interrupted)
	}
	if sink.y != nil && len(sink.y[0]) >= len(x[0]) {
		t.Errorf("a run cancelled before it started wrote everything")
	}
}

// Errors from the source and the sink end the run and are returned.
func TestRunFileErrors(t *testing.T) {
	x := streamtest.Noise(1, 5000, 5)
	bad := errors.New("read error")
	src := &memSource{x: x, chunk: 1000, spec: stream.Spec{Rate: 16000, Channels: 1, MaxFrames: 128}, err: bad}
	if _, err := stream.RunFile(context.Background(), src, &memSink{}, passthrough(t, 512, 128), stream.FileOptions{}); !errors.Is(err, bad) {
		t.Errorf("source error: got %v", err)
	}
	src = &memSource{x: x, chunk: 1000, spec: stream.Spec{Rate: 16000, Channels: 1, MaxFrames: 128}}
	rep, err := stream.RunFile(context.Background(), src, &memSink{failAt: 2000}, passthrough(t, 512, 128), stream.FileOptions{})
	if !errors.Is(err, errDiskFull) || rep.Error == "" {
		t.Errorf("sink error: got %v, report error %q", err, rep.Error)
	}
}

// NaN input is replaced, counted and reported; the output stays finite.
func TestRunFileNonFinite(t *testing.T) {
	x := streamtest.Noise(2, 8000, 6)
	x[1][4000] = float32(math.NaN())
	x[0][4001] = float32(math.Inf(1))
	src := &memSource{x: x, chunk: 1 << 20, spec: stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 128}}
	sink := &memSink{}
	rep, err := stream.RunFile(context.Background(), src, sink, passthrough(t, 512, 128), stream.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events.NonFiniteInput != 2 || rep.Events.ProcessorError == "" {
		t.Errorf("events = %+v; want 2 non-finite samples and a processor error", rep.Events)
	}
	for i, v := range sink.y[0] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("output frame %d = %v", i, v)
		}
	}
}
