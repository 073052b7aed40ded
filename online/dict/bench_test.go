package dict

import (
	"fmt"
	"testing"
	"time"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// hopBench runs p on one hop of noise per iteration and reports the time
// per hop as a fraction of the hop's duration (x-realtime).
func hopBench(b *testing.B, p stream.Processor, mics, hop, rate int) {
	b.Helper()
	out, err := p.Prepare(stream.Spec{Rate: stream.Rate(rate), Channels: mics, MaxFrames: hop})
	if err != nil {
		b.Fatal(err)
	}
	// A second of noise, fed hop by hop, so the separator sees varied input.
	x := streamtest.Noise(mics, rate, 1)
	src := make([][]float32, mics)
	dst := make([][]float32, out)
	for c := range dst {
		dst[c] = make([]float32, hop)
	}
	pos := 0
	b.ReportAllocs()
	for b.Loop() {
		for c := range src {
			src[c] = x[c][pos : pos+hop]
		}
		p.Process(dst, src)
		if pos += hop; pos+hop > rate {
			pos = 0
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Duration(hop)*time.Second/time.Duration(rate)), "x-realtime")
}

// BenchmarkSeparator is `--method dict` per hop with the default model at
// its window (1024, hop 256, 16 kHz): STFT analysis, the fit, the masks and
// synthesis of M outputs, for several latent step counts.
func BenchmarkSeparator(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	cfg := m.STFT()
	for _, sources := range []int{2, 3} {
		for _, steps := range []int{-1, 2, 4, 8} {
			b.Run(fmt.Sprintf("sources=%d/steps=%d", sources, max(steps, 0)), func(b *testing.B) {
				sep, err := NewSeparator(m, SeparatorConfig{Sources: sources, MaxSteps: steps, StepSize: 0.05})
				if err != nil {
					b.Fatal(err)
				}
				p, err := stream.NewSpectral(cfg, sep)
				if err != nil {
					b.Fatal(err)
				}
				hopBench(b, p, 1, cfg.Hop, m.Rate())
			})
		}
	}
}

// BenchmarkSeparate is the separator alone (no STFT), per spectrum.
func BenchmarkSeparate(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	bins := m.STFT().Bins()
	for _, steps := range []int{-1, 4} {
		b.Run(fmt.Sprintf("steps=%d", max(steps, 0)), func(b *testing.B) {
			sep, _ := NewSeparator(m, SeparatorConfig{Sources: 2, MaxSteps: steps, StepSize: 0.05})
			if _, err := sep.Prepare(1, bins); err != nil {
				b.Fatal(err)
			}
			x := streamtest.Noise(1, bins*2, 2)
			mix := [][]complex128{make([]complex128, bins)}
			for i := range mix[0] {
				mix[0][i] = complex(float64(x[0][2*i]), float64(x[0][2*i+1])) * 10
			}
			dst := [][]complex128{make([]complex128, bins), make([]complex128, bins)}
			b.ReportAllocs()
			for b.Loop() {
				sep.Separate(dst, mix)
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(16*time.Millisecond), "x-realtime")
		})
	}
}

// BenchmarkPostFilter is `--method iva+dict` per hop for a 2×2 mixture:
// online IVA (auxiliary-function update) followed by the dictionary
// post-filter on both outputs, against IVA alone.
func BenchmarkPostFilter(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	cfg := m.STFT()
	for _, steps := range []int{-2, -1, 2, 4} {
		name := fmt.Sprintf("iva+dict/steps=%d", max(steps, 0))
		if steps == -2 {
			name = "iva"
		}
		b.Run(name, func(b *testing.B) {
			iva, err := online.NewIVA(online.IVAConfig{})
			if err != nil {
				b.Fatal(err)
			}
			var sep stream.Separator = iva
			if steps > -2 {
				if sep, err = NewPostFilter(iva, m, PostFilterConfig{MaxSteps: steps, StepSize: 0.05}); err != nil {
					b.Fatal(err)
				}
			}
			p, err := stream.NewSpectral(cfg, sep)
			if err != nil {
				b.Fatal(err)
			}
			hopBench(b, p, 2, cfg.Hop, m.Rate())
		})
	}
}
