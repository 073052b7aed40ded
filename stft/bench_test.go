package stft

import (
	"fmt"
	"testing"
)

const benchRate = 16000 // frames per second, for x-realtime

var benchConfigs = []struct{ size, hop int }{{512, 128}, {1024, 256}}

// reportRealtime reports how many times faster than real time one call
// (one hop of audio at 16 kHz, all channels) ran.
func reportRealtime(b *testing.B, hop int) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(hop)/benchRate/perOp, "x-realtime")
}

func benchPair(b *testing.B, run func(a *Analyzer, s *Synthesizer, spec [][]complex128, hop, out [][]float64)) {
	for _, bc := range benchConfigs {
		for _, channels := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("size=%d/hop=%d/ch=%d", bc.size, bc.hop, channels), func(b *testing.B) {
				c := New(bc.size, bc.hop)
				a, err := NewAnalyzer(c, channels)
				if err != nil {
					b.Fatal(err)
				}
				s, err := NewSynthesizer(c, channels)
				if err != nil {
					b.Fatal(err)
				}
				spec := make([][]complex128, channels)
				hop := make([][]float64, channels)
				out := make([][]float64, channels)
				for ch := range spec {
					spec[ch] = make([]complex128, c.Bins())
					hop[ch] = chirp(c.Hop)
					out[ch] = make([]float64, c.Hop)
				}
				a.Analyze(spec, hop)
				b.ReportAllocs()
				for b.Loop() {
					run(a, s, spec, hop, out)
				}
				reportRealtime(b, c.Hop)
			})
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	benchPair(b, func(a *Analyzer, _ *Synthesizer, spec [][]complex128, hop, _ [][]float64) {
		a.Analyze(spec, hop)
	})
}

func BenchmarkSynthesize(b *testing.B) {
	benchPair(b, func(_ *Analyzer, s *Synthesizer, spec [][]complex128, _, out [][]float64) {
		s.Synthesize(out, spec)
	})
}

func BenchmarkAnalyzeSynthesize(b *testing.B) {
	benchPair(b, func(a *Analyzer, s *Synthesizer, spec [][]complex128, hop, out [][]float64) {
		a.Analyze(spec, hop)
		s.Synthesize(out, spec)
	})
}
