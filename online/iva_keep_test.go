package online

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// crossTalk is, for the 2×2 demixing w (bins × 4) against s's mixing, the
// median over bins of the power ratio of the weaker to the stronger source
// in an output, for the worse of the two outputs (dB), and the fraction of
// bins whose two outputs carry different sources.
func (s *synth) crossTalk(w []complex128) (medianDB, distinct float64) {
	var ratios [2][]float64
	n := 0
	for f := 0; f < s.bins; f++ {
		a := s.a[f] // 2×2, row-major: a[c*2+j]
		var strong [2]int
		for i := 0; i < 2; i++ {
			var g [2]float64
			for j := 0; j < 2; j++ {
				g[j] = abs2(w[4*f+2*i]*a[j] + w[4*f+2*i+1]*a[2+j])
			}
			if g[1] > g[0] {
				strong[i] = 1
			}
			ratios[i] = append(ratios[i], math.Min(g[0], g[1])/math.Max(g[0], g[1]))
		}
		if strong[0] != strong[1] {
			n++
		}
	}
	worst := 0.0
	for _, r := range ratios {
		slices.Sort(r)
		worst = math.Max(worst, r[len(r)/2])
	}
	return 10 * math.Log10(worst), float64(n) / float64(s.bins)
}

// inverseMixing is A_f⁻¹ for every bin, each entry disturbed by noise of
// relative size rel (0: exact).
func (s *synth) inverseMixing(rng *rand.Rand, rel float64) []complex128 {
	w := make([]complex128, 4*s.bins)
	for f := 0; f < s.bins; f++ {
		a := s.a[f]
		det := a[0]*a[3] - a[1]*a[2]
		inv := [4]complex128{a[3] / det, -a[1] / det, -a[2] / det, a[0] / det}
		for k, v := range inv {
			w[4*f+k] = v * (1 + complex(rel*rng.NormFloat64(), rel*rng.NormFloat64()))
		}
	}
	return w
}

// The refinement of a snapshot is a batch aux IVA: from a demixing
// disturbed by 50 % noise (cross-talk about −8 dB), its keepRefineIts
// iterations over 3 s of a synthetic 2×2 mixture (random mixing per bin,
// sources with a shared envelope across bins) must reach the known
// answer: median cross-talk below −25 dB, every bin's outputs carrying
// different sources. The candidates then start from it, each with its own
// row frozen.
func TestKeepRefineSeparates(t *testing.T) {
	const bins = 64
	s := newSynth(5, 2, 2, bins, 200)
	sep := newTestIVA(t, IVAConfig{Track: time.Second}, 2, bins)
	k := sep.track.keep
	if k == nil {
		t.Fatal("kept-row candidates are off for a 2×2 aux IVA")
	}
	frames := len(k.refR) / 2 // keepRefineSec
	if frames > len(s.mix) {
		s = newSynth(5, 2, 2, bins, frames)
	}
	for i := 0; i < frames; i++ {
		k.tick(sep, s.mix[i])
	}
	copy(k.refW, s.inverseMixing(rand.New(rand.NewPCG(9, 9)), 0.5))
	before, _ := s.crossTalk(k.refW)
	k.refX, k.refLeft = k.views[:frames], keepRefineIts
	for k.refLeft > 0 {
		k.refineStep(sep)
	}
	after, distinct := s.crossTalk(k.refW)
	t.Logf("cross-talk: snapshot %.1f dB, refined %.1f dB (%d iterations on %d spectra); distinct sources in %.0f %% of bins",
		before, after, keepRefineIts, frames, 100*distinct)
	if after > -25 || after > before-10 || distinct < 1 {
		t.Errorf("refined cross-talk %.1f dB (snapshot %.1f dB), distinct sources in %.0f %% of bins; want below -25 dB, 10 dB better, all bins",
			after, before, 100*distinct)
	}
	if k.left != k.length || k.episodes.Load() != 1 {
		t.Fatalf("the episode did not start after the refinement: left %d, episodes %d", k.left, k.episodes.Load())
	}
	for i, c := range k.cands {
		if c.frozen != i || !slices.Equal(c.w, k.refW) {
			t.Errorf("candidate %d: frozen row %d, demixing equal to the refined one %v", i, c.frozen, slices.Equal(c.w, k.refW))
		}
	}
}

// A kept row stays exactly as it was while the other row learns by IP1,
// and when the kept row is right the other comes to null its source: with
// row 0 the exact inverse and row 1 noise, 4 s of a synthetic 2×2 mixture
// (whose bins are independent random mixtures, far harder than a room's)
// bring the median cross-talk below −20 dB with the sources in distinct
// outputs in at least 95 % of bins.
func TestKeptRowFrozenOtherLearns(t *testing.T) {
	const bins = 64
	s := newSynth(6, 2, 2, bins, 250)
	c := newTestIVA(t, IVAConfig{}, 2, bins)
	rng := rand.New(rand.NewPCG(3, 3))
	exact := s.inverseMixing(rng, 0)
	copy(c.w, exact)
	for f := 0; f < bins; f++ {
		c.w[4*f+2], c.w[4*f+3] = randComplex(rng, 1, 1)[0], randComplex(rng, 1, 1)[0]
	}
	c.frozen = 0
	start, _ := s.crossTalk(c.w)
	kept := make([]complex128, 0, 2*bins)
	for f := 0; f < bins; f++ {
		kept = append(kept, c.w[4*f], c.w[4*f+1])
	}
	s.run(c, 0, len(s.mix))
	for f := 0; f < bins; f++ {
		if c.w[4*f] != kept[2*f] || c.w[4*f+1] != kept[2*f+1] {
			t.Fatalf("bin %d: the kept row changed from %v to %v", f, kept[2*f:2*f+2], c.w[4*f:4*f+2])
		}
	}
	got, distinct := s.crossTalk(c.w)
	t.Logf("cross-talk with the other row random %.1f dB, after %d spectra %.1f dB; distinct sources in %.0f %% of bins", start, len(s.mix), got, 100*distinct)
	if got > -20 || distinct < 0.95 {
		t.Errorf("cross-talk %.1f dB, distinct in %.0f %% of bins; want below -20 dB and at least 95 %%", got, 100*distinct)
	}
}

func TestEnvCorr(t *testing.T) {
	const bins, n = 16, 400
	rng := rand.New(rand.NewPCG(1, 1))
	same, indep := newEnvCorr(bins), newEnvCorr(bins)
	for range n {
		a := math.Exp(2 * rng.NormFloat64())
		b := math.Exp(2 * rng.NormFloat64())
		ya, yb := randComplex(rng, bins, a), randComplex(rng, bins, b)
		ya2 := randComplex(rng, bins, a)
		same.add([][]complex128{ya, ya2})
		indep.add([][]complex128{ya, yb})
	}
	if c := same.corr(); c < 0.9 {
		t.Errorf("outputs sharing an envelope: correlation %.3f, want above 0.9", c)
	}
	if c := indep.corr(); math.Abs(c) > 0.15 {
		t.Errorf("independent envelopes: correlation %.3f, want within ±0.15", c)
	}
}
