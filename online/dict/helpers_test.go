package dict

import (
	"github.com/livesep/livesep/internal/shareddata"

	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/wav"
)

// The synthetic two-class world of the tests, at 16 kHz with a 256-point
// STFT (129 bins):
//
//   - "tone": a harmonic complex (f0 150–400 Hz, 6 harmonics with 1/h
//     amplitudes) whose pitch jumps every 0.2 s — energy below ~2.4 kHz;
//   - "hiss": noise band-passed to 2.5–6 kHz by a cascade of one-pole
//     filters, its level modulated at 3 Hz.
//
// The two overlap little in frequency, so a model that has learnt them must
// separate their mixtures by several dB; it proves training and separation
// work without needing the shared data set.
const (
	synRate = 16000
	synSize = 256
	synHop  = 64
)

func synTone(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	seg := synRate / 5
	var phase [6]float64
	for s := 0; s < n; s += seg {
		f0 := 150 + 250*rng.Float64()
		for i := s; i < min(s+seg, n); i++ {
			var v float64
			for h := range phase {
				phase[h] += 2 * math.Pi * f0 * float64(h+1) / synRate
				v += math.Sin(phase[h]) / float64(h+1)
			}
			x[i] = float32(0.2 * v)
		}
	}
	return x
}

func synHiss(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	var hp, lp1, lp2, prev float64
	for i := range x {
		w := rng.NormFloat64()
		// High-pass (one-pole, ~2.5 kHz) then two low-passes (~6 kHz).
		hp = 0.4 * (hp + w - prev)
		prev = w
		lp1 += 0.9 * (hp - lp1)
		lp2 += 0.9 * (lp1 - lp2)
		mod := 0.6 + 0.4*math.Sin(2*math.Pi*3*float64(i)/synRate)
		x[i] = float32(0.3 * mod * lp2)
	}
	return x
}

// synFiles writes two files per class (2 s each) to dir and returns the
// classes for Train.
func synFiles(t testing.TB, dir string) []ClassFiles {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	var out []ClassFiles
	for _, c := range []struct {
		name string
		gen  func(*rand.Rand, int) []float32
	}{{"tone", synTone}, {"hiss", synHiss}} {
		cf := ClassFiles{Class: c.name}
		for i := 0; i < 2; i++ {
			p := filepath.Join(dir, c.name+string(rune('a'+i))+".wav")
			if err := wav.WriteFile(p, synRate, wav.Float32, [][]float32{c.gen(rng, 2*synRate)}); err != nil {
				t.Fatal(err)
			}
			cf.Files = append(cf.Files, p)
		}
		out = append(out, cf)
	}
	return out
}

// tinyConfig is a small, fast training configuration for the synthetic
// classes (a second or two, even under -race).
func tinyConfig() TrainConfig {
	return TrainConfig{
		Seed: 3, Rate: synRate, Size: synSize, Hop: synHop,
		Bands: 16, Lags: []int{0, 1}, EncHidden: []int{16}, Latent: 4, DecHidden: []int{16},
		Epochs: 8, Segments: 24, SegmentFrames: 32, ValSegments: 16, Single: 0.5, Batch: 32,
		LearnRate: 1e-2, Patience: 8, Reverb: -1, GainDB: 6,
		StepSize: 0.05, MaskPower: 1, CalibSteps: 2,
	}
}

var tiny struct {
	once  sync.Once
	m     *Model
	hist  *History
	bytes []byte
	err   error
}

// tinyModel trains the tiny model once per test binary.
func tinyModel(t testing.TB) *Model {
	t.Helper()
	tiny.once.Do(func() {
		dir, err := os.MkdirTemp("", "dict-syn-")
		if err != nil {
			tiny.err = err
			return
		}
		defer os.RemoveAll(dir)
		tiny.m, tiny.hist, tiny.err = Train(context.Background(), synFiles(t, dir), tinyConfig(), nil)
		if tiny.err == nil {
			tiny.bytes, tiny.err = tiny.m.MarshalBinary()
		}
	})
	if tiny.err != nil {
		t.Fatalf("training the tiny model: %v", tiny.err)
	}
	return tiny.m
}

// synMixture returns 3 s of tone and hiss (at equal power) and their sum.
func synMixture(seed uint64) (tone, hiss, mix []float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	n := 3 * synRate
	a, b := synTone(rng, n), synHiss(rng, n)
	var ea, eb float64
	for i := range a {
		ea += float64(a[i]) * float64(a[i])
		eb += float64(b[i]) * float64(b[i])
	}
	g := math.Sqrt(ea / eb)
	tone, hiss, mix = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range a {
		tone[i], hiss[i] = float64(a[i]), g*float64(b[i])
		mix[i] = tone[i] + hiss[i]
	}
	return
}

// sharedData finds ../shared/data from the module root, or skips.
func sharedData(t testing.TB) string { return shareddata.Path(t) }

// snrDB is 10·log10(Σref² / Σ(est−ref)²) over [from, len).
func snrDB(ref, est []float64, from int) float64 {
	var s, e float64
	for i := from; i < len(ref); i++ {
		s += ref[i] * ref[i]
		d := est[i] - ref[i]
		e += d * d
	}
	return 10 * math.Log10(s/e)
}

func itoa(i int) string { return strconv.Itoa(i) }

// spectrumAt returns the synSize-point STFT spectrum of x whose last hop
// ends at frame end (a multiple of synHop).
func spectrumAt(x []float64, end int) []complex128 {
	an, _ := stft.NewAnalyzer(stft.New(synSize, synHop), 1)
	dst := [][]complex128{make([]complex128, synSize/2+1)}
	for p := max(0, end-2*synSize); p+synHop <= end; p += synHop {
		an.Analyze(dst, [][]float64{x[p : p+synHop]})
	}
	return dst[0]
}

// runProcessor prepares p for len(x) channels and runs x through it in
// blocks of 100 frames, compensating its latency: output frame i lines up
// with input frame i.
func runProcessor(t testing.TB, p stream.Processor, x [][]float64) [][]float64 {
	t.Helper()
	const block = 100
	out, err := p.Prepare(stream.Spec{Rate: synRate, Channels: len(x), MaxFrames: block})
	if err != nil {
		t.Fatal(err)
	}
	n, lat := len(x[0]), p.Latency()
	res := make([][]float64, out)
	src := make([][]float32, len(x))
	dst := make([][]float32, out)
	for c := range src {
		src[c] = make([]float32, block)
	}
	for c := range dst {
		dst[c] = make([]float32, block)
	}
	for pos := 0; pos < n+lat; pos += block {
		for c := range src {
			for i := range src[c] {
				src[c][i] = 0
				if pos+i < n {
					src[c][i] = float32(x[c][pos+i])
				}
			}
		}
		p.Process(dst, src)
		for c := range dst {
			for _, v := range dst[c] {
				res[c] = append(res[c], float64(v))
			}
		}
	}
	for c := range res {
		res[c] = res[c][lat : lat+n]
	}
	return res
}
