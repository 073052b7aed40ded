package dict

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
)

func newSpectral(t testing.TB, sep stream.Separator) *stream.Spectral {
	t.Helper()
	p, err := stream.NewSpectral(stft.New(synSize, synHop), sep)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSeparatorContract runs the stream contract checks (checkContract) on the dictionary
// separator inside stream.Spectral, for 1 and 2 mics (only mic 1 is used)
// and for M = 1 and 2 outputs.
func TestSeparatorContract(t *testing.T) {
	m := tinyModel(t)
	for _, c := range []struct{ mics, sources int }{{1, 2}, {2, 2}, {1, 1}} {
		t.Run("mics="+itoa(c.mics)+"/sources="+itoa(c.sources), func(t *testing.T) {
			sep, err := NewSeparator(m, SeparatorConfig{Sources: c.sources})
			if err != nil {
				t.Fatal(err)
			}
			checkContract(t, newSpectral(t, sep), stream.Spec{Rate: synRate, Channels: c.mics, MaxFrames: 100})
		})
	}
}

func TestSeparatorAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	m := tinyModel(t)
	_, _, mix := synMixture(1)
	x := [][]complex128{spectrumAt(mix, synRate)}
	for _, budget := range []time.Duration{0, time.Millisecond} {
		sep, _ := NewSeparator(m, SeparatorConfig{Budget: budget})
		if _, err := sep.Prepare(1, synSize/2+1); err != nil {
			t.Fatal(err)
		}
		dst := [][]complex128{make([]complex128, synSize/2+1), make([]complex128, synSize/2+1)}
		labels := make([]Label, 2)
		if n := testing.AllocsPerRun(200, func() {
			sep.Separate(dst, x)
			labels = sep.LabelsTo(labels)
			_ = sep.Stats()
		}); n != 0 {
			t.Errorf("budget %v: Separate+LabelsTo+Stats allocated %v times per call; want 0", budget, n)
		}
	}
}

func TestSeparatorPrepareErrors(t *testing.T) {
	m := tinyModel(t)
	sep, _ := NewSeparator(m, SeparatorConfig{})
	_, err := sep.Prepare(1, 513)
	if err == nil || !strings.Contains(err.Error(), "256-point STFT") || !strings.Contains(err.Error(), "--window 256 --hop 64") {
		t.Errorf("wrong bin count: %v", err)
	}
	if _, err := sep.Prepare(0, synSize/2+1); err == nil {
		t.Error("0 mics accepted")
	}
	if _, err := NewSeparator(m, SeparatorConfig{Sources: 3}); err == nil || !strings.Contains(err.Error(), "2 classes") {
		t.Errorf("3 sources from 2 classes: %v", err)
	}
	if _, err := NewSeparator(m, SeparatorConfig{MaskPower: -1}); err == nil {
		t.Error("negative mask power accepted")
	}
}

// TestSeparatorSeparates: the tiny model separates a tone + hiss mixture
// (equal power, 0 dB) by a wide margin, with and without latent steps.
func TestSeparatorSeparates(t *testing.T) {
	m := tinyModel(t)
	tone, hiss, mix := synMixture(11)
	in0 := snrDB(tone, mix, synRate/2)
	for _, steps := range []int{-1, 4} {
		sep, _ := NewSeparator(m, SeparatorConfig{MaxSteps: steps})
		y := runProcessor(t, newSpectral(t, sep), [][]float64{mix})
		g0 := snrDB(tone, y[0], synRate/2) - in0
		g1 := snrDB(hiss, y[1], synRate/2) - snrDB(hiss, mix, synRate/2)
		t.Logf("steps %d: SNR gain tone %.1f dB, hiss %.1f dB; labels %v; %+v", steps, g0, g1, sep.Labels(), sep.Stats())
		// Measured ≈ 10 dB each; 6 dB would already be a clear separation.
		if g0 < 6 || g1 < 6 {
			t.Errorf("steps %d: SNR gains %.1f and %.1f dB; want ≥ 6", steps, g0, g1)
		}
		l := sep.Labels()
		if l[0].Class != "tone" || l[1].Class != "hiss" {
			t.Errorf("labels %v", l)
		}
		checkClassReporter(t, sep, l)
	}
}

// TestSeparatorTopM: with one output, the louder class is written and named.
func TestSeparatorTopM(t *testing.T) {
	m := tinyModel(t)
	tone, hiss, _ := synMixture(12)
	for _, c := range []struct {
		gTone, gHiss float64
		want         string
	}{{1, 0.2, "tone"}, {0.2, 1, "hiss"}} {
		mix := make([]float64, len(tone))
		for i := range mix {
			mix[i] = c.gTone*tone[i] + c.gHiss*hiss[i]
		}
		sep, _ := NewSeparator(m, SeparatorConfig{Sources: 1})
		runProcessor(t, newSpectral(t, sep), [][]float64{mix})
		l := sep.Labels()
		if len(l) != 1 || l[0].Class != c.want {
			t.Errorf("tone ×%g + hiss ×%g: labels %v; want %s", c.gTone, c.gHiss, l, c.want)
		}
	}
}

// TestSeparatorBudget: a budget too small for one step cuts every spectrum
// short and says so; no budget takes MaxSteps steps every time.
func TestSeparatorBudget(t *testing.T) {
	m := tinyModel(t)
	_, _, mix := synMixture(2)
	sep, _ := NewSeparator(m, SeparatorConfig{MaxSteps: 3})
	runProcessor(t, newSpectral(t, sep), [][]float64{mix})
	s := sep.Stats()
	if s.MinSteps != 3 || s.MaxSteps != 3 || s.Cut != 0 || s.Steps != 3*s.Spectra || s.Spectra == 0 {
		t.Errorf("no budget: %+v", s)
	}
	sep.SetBudget(time.Nanosecond)
	p := newSpectral(t, sep)
	runProcessor(t, p, [][]float64{mix})
	s = sep.Stats()
	if s.Cut != s.Spectra || s.MaxSteps != 0 || s.MeanSteps() != 0 {
		t.Errorf("1 ns budget: %+v; want every spectrum cut before its first step", s)
	}
}

// TestLatentDescent: plain gradient steps with a fixed small step lower J
// at every step; and the fitter's backtracking loop never accepts a worse
// code, even with a step far too large.
func TestLatentDescent(t *testing.T) {
	m := tinyModel(t)
	_, _, mix := synMixture(3)
	cfg := SeparatorConfig{MaxSteps: -1}
	cfg.fill(m)
	f := newFitter(m, &cfg)
	f.run(spectrumAt(mix, synRate), zeroTime)
	copy2(f.h, f.hAcc)
	J := f.decodeAll()
	const eta = 1e-3
	for s := 0; s < 30; s++ {
		f.accept()
		f.gradient()
		for k := range f.h {
			for i := range f.h[k] {
				f.h[k][i] = f.hAcc[k][i] - eta*f.gAcc[k][i]
			}
		}
		Jn := f.decodeAll()
		if !(Jn < J) {
			t.Fatalf("step %d: J went from %.8g to %.8g", s, J, Jn)
		}
		J = Jn
	}
	t.Logf("J after 30 steps of %g: %.6g (start %.6g)", eta, J, f.lastJ0)
	if !(J < f.lastJ0) {
		t.Error("no progress")
	}
	for _, big := range []float64{0.05, 10} {
		cfg := SeparatorConfig{MaxSteps: 8, StepSize: big}
		cfg.fill(m)
		f := newFitter(m, &cfg)
		for end := synHop * 8; end < len(mix); end += synHop * 37 {
			f.run(spectrumAt(mix, end), zeroTime)
			if f.lastJ > f.lastJ0 || math.IsNaN(f.lastJ) {
				t.Fatalf("step %g: J rose from %.6g to %.6g", big, f.lastJ0, f.lastJ)
			}
		}
	}
}

// TestMergeGroups: the merge that loses least — a confusable pair, or an
// absent class — is made first; the result is numbered in class order.
func TestMergeGroups(t *testing.T) {
	conf := [][]float64{{0.9, 0.05, 0.05}, {0.05, 0.6, 0.35}, {0.02, 0.03, 0.95}}
	cases := []struct {
		e    []float64
		m    int
		want []int
	}{
		// speech, music, noise all present: music and noise (κ = 0.19) merge.
		{[]float64{0.3, 0.3, 0.4}, 2, []int{0, 1, 1}},
		// noise absent: it joins whichever costs least (its energy is tiny).
		{[]float64{0.5, 0.5, 0.001}, 2, []int{0, 1, 1}},
		// music absent, speech and noise present: music merges away, into
		// the class it is more confusable with.
		{[]float64{0.5, 0.001, 0.5}, 2, []int{0, 1, 1}},
		// speech absent: it joins music (cost 0.001·0.95 < 0.001·0.965).
		{[]float64{0.001, 0.5, 0.5}, 2, []int{0, 0, 1}},
		{[]float64{0.3, 0.3, 0.4}, 1, []int{0, 0, 0}},
		{[]float64{0.3, 0.3, 0.4}, 3, []int{0, 1, 2}},
	}
	for _, c := range cases {
		got := make([]int, 3)
		mergeGroups(got, c.e, conf, c.m)
		if !slices.Equal(got, c.want) {
			t.Errorf("energies %v into %d: %v; want %v", c.e, c.m, got, c.want)
		}
	}
	// The cost of a partition: {0}{1,2} costs E_1·(1−κ_12) with 2 the lead.
	e := []float64{0.3, 0.3, 0.4}
	if got, want := partitionCost([]int{0, 1, 1}, e, conf), 0.3*(1-0.19); math.Abs(got-want) > 1e-12 {
		t.Errorf("partition cost %v; want %v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { mergeGroups(make3[:], e, conf, 2) }); n != 0 && !raceEnabled {
		t.Errorf("mergeGroups allocated %v times", n)
	}
}

var make3 [3]int
