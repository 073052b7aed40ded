package online_test

import (
	"fmt"
	"github.com/livesep/livesep/internal/shareddata"
	"io"
	"path/filepath"
	"testing"

	"github.com/livesep/livesep/internal/bsseval"
	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream/wav"
)

// devMixtures is ../shared/data/dev/mixtures relative to the module root.
func devMixtures(t *testing.T) string { return shareddata.Path(t, "dev", "mixtures") }

func readWAV(t *testing.T, path string) [][]float64 {
	t.Helper()
	r, err := wav.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info := r.Info()
	out := make([][]float64, info.Channels)
	buf := make([][]float32, info.Channels)
	for c := range buf {
		buf[c] = make([]float32, 4096)
	}
	for {
		n, err := r.ReadFrames(buf)
		for c := range out {
			for _, v := range buf[c][:n] {
				out[c] = append(out[c], float64(v))
			}
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// separateFile runs analysis → IVA → synthesis over x and returns the
// sources aligned with the input (the STFT latency removed).
func separateFile(t *testing.T, x [][]float64, sources, size, hop int, c online.IVAConfig) [][]float64 {
	t.Helper()
	cfg := stft.New(size, hop)
	an, err := stft.NewAnalyzer(cfg, len(x))
	if err != nil {
		t.Fatal(err)
	}
	syn, err := stft.NewSynthesizer(cfg, sources)
	if err != nil {
		t.Fatal(err)
	}
	c.Sources = sources
	c.SpectraPerSecond = 16000 / float64(hop)
	sep, err := online.NewIVA(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sep.Prepare(len(x), cfg.Bins()); err != nil {
		t.Fatal(err)
	}
	alloc := func(rows, cols int) [][]float64 {
		out := make([][]float64, rows)
		for i := range out {
			out[i] = make([]float64, cols)
		}
		return out
	}
	allocC := func(rows, cols int) [][]complex128 {
		out := make([][]complex128, rows)
		for i := range out {
			out[i] = make([]complex128, cols)
		}
		return out
	}
	n, lat := len(x[0]), cfg.Latency()
	in, out := alloc(len(x), hop), alloc(sources, hop)
	mix, src := allocC(len(x), cfg.Bins()), allocC(sources, cfg.Bins())
	y := make([][]float64, sources)
	for pos := 0; pos < n+lat; pos += hop {
		for c := range x {
			for k := range in[c] {
				in[c][k] = 0
				if pos+k < n {
					in[c][k] = x[c][pos+k]
				}
			}
		}
		an.Analyze(mix, in)
		sep.Separate(src, mix)
		syn.Synthesize(out, src)
		for i := range y {
			y[i] = append(y[i], out[i]...)
		}
	}
	for i := range y {
		y[i] = y[i][lat : lat+n]
	}
	if err := sep.Err(); err != nil {
		t.Errorf("Err() = %v on a clean recording", err)
	}
	return y
}

// deltaSDR is the mean BSS Eval v3 SDR improvement of est over mic 0 of the
// mixture, on samples [from, to).
func deltaSDR(t *testing.T, refs, est [][]float64, mic0 []float64, from, to int) float64 {
	t.Helper()
	cut := func(x [][]float64) [][]float64 {
		o := make([][]float64, len(x))
		for i := range x {
			o[i] = x[i][from:to]
		}
		return o
	}
	r, err := bsseval.Sources(cut(refs), cut(est))
	if err != nil {
		t.Fatal(err)
	}
	base := make([][]float64, len(refs))
	perm := make([]int, len(refs))
	for i := range base {
		base[i], perm[i] = mic0, i
	}
	b, err := bsseval.SourcesPerm(cut(refs), cut(base), perm)
	if err != nil {
		t.Fatal(err)
	}
	d := 0.0
	for j := range refs {
		d += r.SDR[j] - b.SDR[j]
	}
	return d / float64(len(refs))
}

// TestIVADevMixtures is a regression test on two simulated-room speech
// mixtures at the CLI's default STFT (1024/256), with the default (aux)
// rule. Measured when written (package documentation): whole 10 s ΔSDR
// 4.68 and 3.86 dB, last 5 s 7.05 and 5.99 dB. The bounds leave about 1 dB
// because online IVA's early trajectory is sensitive to rounding (a
// different FMA contraction on another CPU can move it).
func TestIVADevMixtures(t *testing.T) {
	if testing.Short() || ivaRaceEnabled {
		t.Skip("BSS Eval of 10 s recordings; skipped in -short and under -race")
	}
	root := devMixtures(t)
	for _, name := range []string{"dev_sim015_2x2", "dev_sim030_2x2"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			mix := readWAV(t, filepath.Join(dir, "mix.wav"))
			var refs [][]float64
			for j := 0; j < 2; j++ {
				refs = append(refs, readWAV(t, filepath.Join(dir, fmt.Sprintf("ref%d.wav", j)))[0])
			}
			est := separateFile(t, mix, 2, 1024, 256, online.IVAConfig{})
			n := len(mix[0])
			whole := deltaSDR(t, refs, est, mix[0], 0, n)
			last := deltaSDR(t, refs, est, mix[0], n/2, n)
			t.Logf("ΔSDR whole %.2f dB, last 5 s %.2f dB", whole, last)
			if whole < 2.8 || last < 5 {
				t.Errorf("ΔSDR whole %.2f dB (want >= 2.8), last 5 s %.2f dB (want >= 5)", whole, last)
			}
		})
	}
}
