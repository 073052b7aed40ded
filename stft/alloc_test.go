package stft

import "testing"

func newTestPair(t *testing.T, c Config, channels int) (*Analyzer, *Synthesizer, [][]complex128, [][]float64, [][]float64) {
	t.Helper()
	a, err := NewAnalyzer(c, channels)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSynthesizer(c, channels)
	if err != nil {
		t.Fatal(err)
	}
	spec := make([][]complex128, channels)
	hop := make([][]float64, channels)
	out := make([][]float64, channels)
	for ch := range spec {
		spec[ch] = make([]complex128, c.Bins())
		hop[ch] = make([]float64, c.Hop)
		out[ch] = make([]float64, c.Hop)
		for i := range hop[ch] {
			hop[ch][i] = float64(i%7) - 3
		}
	}
	return a, s, spec, hop, out
}

func TestAnalyzeAllocs(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	for _, c := range []Config{New(512, 128), ld, New(1000, 250)} { // 1000: the FFTPACK fallback
		a, _, spec, hop, _ := newTestPair(t, c, 4)
		if n := testing.AllocsPerRun(100, func() { a.Analyze(spec, hop) }); n != 0 {
			t.Fatalf("Analyze allocated %v times per call; want 0", n)
		}
		if n := testing.AllocsPerRun(100, a.Reset); n != 0 {
			t.Fatalf("Analyzer.Reset allocated %v times per call; want 0", n)
		}
	}
}

func TestSynthesizeAllocs(t *testing.T) {
	ld, _ := LowDelay(512, 64, 128)
	for _, c := range []Config{New(512, 128), ld, New(1000, 250)} { // 1000: the FFTPACK fallback
		_, s, spec, _, out := newTestPair(t, c, 4)
		if n := testing.AllocsPerRun(100, func() { s.Synthesize(out, spec) }); n != 0 {
			t.Fatalf("Synthesize allocated %v times per call; want 0", n)
		}
		if n := testing.AllocsPerRun(100, s.Reset); n != 0 {
			t.Fatalf("Synthesizer.Reset allocated %v times per call; want 0", n)
		}
	}
}
