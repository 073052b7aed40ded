package online

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/livesep/livesep/stream"
)

// BenchmarkICAProcess times Process on 256-frame blocks at 16 kHz of a
// running Laplacian mixture (so W is learnt on every internal block), and
// reports how many times faster than real time it runs.
func BenchmarkICAProcess(b *testing.B) {
	const (
		rate   = 16000
		frames = 256
		total  = 64 * frames
	)
	for _, upd := range []Update{UpdateAux, UpdateNG} {
		for _, sz := range []struct{ n, m int }{{2, 2}, {3, 3}, {4, 4}, {8, 4}} {
			b.Run(fmt.Sprintf("%s/%dmics_%dsrc", upd, sz.n, sz.m), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				_, _, x := icaTestMix(rng, sz.n, sz.m, total, "laplace")
				src := make([][]float32, sz.n)
				for c := range src {
					src[c] = make([]float32, total)
					for k := range src[c] {
						src[c][k] = float32(0.05 * x[c][k])
					}
				}
				p, err := NewICA(ICAConfig{Sources: sz.m, Update: upd})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Prepare(stream.Spec{Rate: rate, Channels: sz.n, MaxFrames: frames}); err != nil {
					b.Fatal(err)
				}
				dst := make([][]float32, sz.m)
				for i := range dst {
					dst[i] = make([]float32, frames)
				}
				in := make([][]float32, sz.n)
				off := 0
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					for c := range in {
						in[c] = src[c][off : off+frames]
					}
					p.Process(dst, in)
					off = (off + frames) % total
				}
				perBlock := time.Since(start).Seconds() / float64(b.N)
				b.ReportMetric(float64(frames)/rate/perBlock, "x-realtime")
			})
		}
	}
}

// BenchmarkICAFitBatch times one batch iteration over 1 s of a 2×2 mixture.
func BenchmarkICAFitBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	_, _, x := icaTestMix(rng, 2, 2, 16000, "laplace")
	for _, upd := range []Update{UpdateAux, UpdateNG} {
		b.Run(upd.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := (ICAConfig{Update: upd}).FitBatch(x, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
