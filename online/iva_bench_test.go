package online

import (
	"fmt"
	"slices"
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

// BenchmarkIVATrackChange times each spectrum of a tracked 2×2 separator
// (N=1024) through a change of scene: the detection, the restart, the
// refinement of the snapshot for the kept rows (one batch iteration per
// spectrum) and the episode of the two kept-row candidates (three IVAs
// learning). Each iteration replays the same 8 s, the change at 4 s; the
// metrics are per spectrum over the 4 s after the change, as a fraction of
// the 16 ms hop: the mean, the 99th percentile and the maximum.
func BenchmarkIVATrackChange(b *testing.B) {
	const size, hop, change, total = 1024, 256, 250, 500
	bins := size/2 + 1
	s := newSynth(1, 2, 2, bins, total)
	s.remix(change, newSynth(7, 2, 2, bins, 1), 3)
	sep := newTestIVA(b, IVAConfig{SpectraPerSecond: 16000 / float64(hop), Track: time.Second}, 2, bins)
	dst := alloc2c(2, bins)
	times := make([]float64, 0, 1024*(total-change)) // the benchmark's own record, not the separator's
	b.ReportAllocs()
	for b.Loop() {
		sep.Reset()
		for k := 0; k < total; k++ {
			start := time.Now()
			sep.Separate(dst, s.mix[k])
			if k >= change {
				times = append(times, time.Since(start).Seconds())
			}
		}
	}
	if sep.track.keep.episodes.Load() == 0 {
		b.Fatal("no kept-row episode: the change was not detected")
	}
	slices.Sort(times)
	mean := 0.0
	for _, v := range times {
		mean += v
	}
	mean /= float64(len(times))
	period := float64(hop) / 16000
	b.ReportMetric(mean/period, "mean-x-hop")
	b.ReportMetric(times[len(times)*99/100]/period, "p99-x-hop")
	b.ReportMetric(times[len(times)-1]/period, "max-x-hop")
}
