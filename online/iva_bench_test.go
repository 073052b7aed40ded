package online

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkIVASeparate measures one Separate call (one spectrum) after a
// warm-up, for the mic×source shapes and window sizes of the issue. The
// x-realtime metric is the processing time per spectrum divided by the hop
// duration at 16 kHz with hop N/4: 0.01 means 1 % of one core.
func BenchmarkIVASeparate(b *testing.B) {
	for _, u := range []Update{UpdateAux, UpdateNG} {
		for _, sh := range []struct{ n, m int }{{2, 2}, {3, 3}, {4, 4}, {8, 4}} {
			for _, size := range []int{512, 1024, 2048} {
				name := fmt.Sprintf("%v/mics=%d/sources=%d/N=%d", u, sh.n, sh.m, size)
				b.Run(name, func(b *testing.B) {
					bins := size/2 + 1
					hop := size / 4
					sep := newTestIVA(b, IVAConfig{Sources: sh.m, Update: u, SpectraPerSecond: 16000 / float64(hop)}, sh.n, bins)
					benchSeparate(b, sep, newSynth(1, sh.n, sh.m, bins, 64), hop)
				})
			}
		}
	}
}

// BenchmarkIVASeparateTracked is BenchmarkIVASeparate for two sources with
// scene tracking (IVAConfig.Track, the command line's default for two
// sources): two IVAs and the scores of both, about twice the cost.
func BenchmarkIVASeparateTracked(b *testing.B) {
	for _, sh := range []struct{ n, m int }{{2, 2}, {4, 2}} {
		for _, size := range []int{512, 1024, 2048} {
			b.Run(fmt.Sprintf("mics=%d/sources=%d/N=%d", sh.n, sh.m, size), func(b *testing.B) {
				bins := size/2 + 1
				hop := size / 4
				sep := newTestIVA(b, IVAConfig{Sources: sh.m, SpectraPerSecond: 16000 / float64(hop), Track: time.Second}, sh.n, bins)
				benchSeparate(b, sep, newSynth(1, sh.n, sh.m, bins, 128), hop) // 128: past the tracker's warm-up
			})
		}
	}
}

// benchSeparate times sep.Separate on s's spectra, cycled, after one pass
// over them as warm-up, and reports the cost as a fraction of real time at
// 16 kHz with the given hop.
func benchSeparate(b *testing.B, sep *IVA, s *synth, hop int) {
	dst := alloc2c(sep.Sources(), s.bins)
	for _, x := range s.mix {
		sep.Separate(dst, x)
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		sep.Separate(dst, s.mix[k%len(s.mix)])
		k++
	}
	perSpectrum := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perSpectrum/(float64(hop)/16000), "x-realtime")
}
