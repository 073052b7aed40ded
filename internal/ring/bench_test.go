package ring

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

const benchRate = 16000 // frames per second, for x-realtime

// reportRealtime reports how many times faster than real time one op moving
// frames frames at 16 kHz ran.
func reportRealtime(b *testing.B, frames int) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(frames)/benchRate/perOp, "x-realtime")
}

var blockShapes = []struct{ frames, channels int }{{64, 1}, {256, 2}, {256, 4}, {1024, 8}}

// BenchmarkWriteRead writes one interleaved block and reads it back on one
// goroutine (the copy cost without cross-core traffic).
func BenchmarkWriteRead(b *testing.B) {
	for _, s := range blockShapes {
		b.Run(fmt.Sprintf("%dx%d", s.frames, s.channels), func(b *testing.B) {
			n := s.frames * s.channels
			w, r := New(4 * n)
			in, out := make([]float32, n), make([]float32, n)
			b.ReportAllocs()
			for b.Loop() {
				w.Write(in)
				r.Read(out)
			}
			reportRealtime(b, s.frames)
		})
	}
}

// BenchmarkRegionsPeek does the same through the zero-copy calls.
func BenchmarkRegionsPeek(b *testing.B) {
	for _, s := range blockShapes {
		b.Run(fmt.Sprintf("%dx%d", s.frames, s.channels), func(b *testing.B) {
			n := s.frames * s.channels
			w, r := New(3 * n) // rounds to 4n; 3n-sized room is irrelevant, blocks wrap
			in, out := make([]float32, n), make([]float32, n)
			b.ReportAllocs()
			for b.Loop() {
				a, c := w.Regions(n)
				copy(c, in[copy(a, in):])
				w.Commit(n)
				a, c = r.Peek(n)
				copy(out[copy(out, a):], c)
				r.Discard(n)
			}
			reportRealtime(b, s.frames)
		})
	}
}

// BenchmarkSPSC moves 256x4 blocks from a producer goroutine to the consumer
// (the benchmark goroutine): the cross-core cost including cache-line
// transfers. Both sides yield when they cannot proceed.
func BenchmarkSPSC(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2")
	}
	const frames, channels = 256, 4
	n := frames * channels
	w, r := New(8 * n)
	var stop sync.WaitGroup
	done := make(chan struct{})
	stop.Add(1)
	go func() {
		defer stop.Done()
		in := make([]float32, n)
		for {
			select {
			case <-done:
				return
			default:
			}
			if w.Free() >= n {
				w.Write(in)
			} else {
				runtime.Gosched()
			}
		}
	}()
	out := make([]float32, n)
	b.ReportAllocs()
	for b.Loop() {
		for got := 0; got < n; {
			k := r.Read(out[got:])
			if k == 0 {
				runtime.Gosched()
			}
			got += k
		}
	}
	reportRealtime(b, frames)
	b.StopTimer()
	close(done)
	stop.Wait()
}
