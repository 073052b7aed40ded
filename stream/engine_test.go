package stream_test

import (
	"fmt"
	"testing"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

func newPassEngine(tb testing.TB, ch, n, hop int) *stream.Engine {
	tb.Helper()
	p, err := stream.NewSpectral(stftNew(n, hop), passSep())
	if err != nil {
		tb.Fatal(err)
	}
	e, err := stream.NewEngine(p, stream.EngineConfig{Spec: stream.Spec{Rate: 16000, Channels: ch, MaxFrames: hop}})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// One engine step (deinterleave, Process, time it, interleave) allocates
// nothing once the engine is built.
func TestEngineProcessBlockAllocs(t *testing.T) {
	if streamtest.RaceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	e := newPassEngine(t, 4, 1024, 256)
	in := make([]float32, 256*4)
	out := make([]float32, 256)
	step := func() {
		e.Input().Write(in)
		if !e.ProcessBlock() {
			t.Fatal("ProcessBlock did nothing with a full block waiting")
		}
		e.Output().Read(out)
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Fatalf("engine step allocated %v times; want 0", n)
	}
}

// ProcessBlock waits for a whole block and for room in the output ring.
func TestEngineReady(t *testing.T) {
	e := newPassEngine(t, 2, 512, 128)
	e.Input().Write(make([]float32, 2*127))
	if e.ProcessBlock() {
		t.Fatal("processed a partial block")
	}
	e.Input().Write(make([]float32, 2))
	if !e.ProcessBlock() {
		t.Fatal("did not process a whole block")
	}
	// Fill the input without draining the output: the engine stops when the
	// output ring is full instead of overwriting it.
	blocks := 0
	for {
		e.Input().Write(make([]float32, 2*128))
		if !e.ProcessBlock() {
			break
		}
		blocks++
		if blocks > 1000 {
			t.Fatal("output ring never filled")
		}
	}
	if got := e.Output().Len(); got > e.Output().Cap() {
		t.Fatalf("output ring holds %d > capacity %d", got, e.Output().Cap())
	}
}

// BenchmarkEngineBlock is one hop through the whole engine with the
// passthrough separator: the pipeline's own overhead.
func BenchmarkEngineBlock(b *testing.B) {
	for _, ch := range []int{1, 2, 4, 8} {
		for _, c := range []struct{ n, hop int }{{512, 128}, {1024, 256}} {
			b.Run(fmt.Sprintf("ch=%d/size=%d/hop=%d", ch, c.n, c.hop), func(b *testing.B) {
				e := newPassEngine(b, ch, c.n, c.hop)
				in := make([]float32, c.hop*ch)
				out := make([]float32, c.hop)
				b.ReportAllocs()
				for b.Loop() {
					e.Input().Write(in)
					e.ProcessBlock()
					e.Output().Read(out)
				}
				perHop := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(c.hop)/16000/perHop, "x-realtime")
			})
		}
	}
}
