package dict

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/livesep/livesep/internal/bsseval"
	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/wav"
)

// The dev-set measurements of the default model, run only with
// LIVESEP_DEV=1 (they take ~30 s and need ../shared/data/dev):
//
//	LIVESEP_DEV=1 go test -run Dev -v ./online/dict
//
// They score whole 10 s mixtures with BSS Eval exactly as `live eval`
// does (reference = channel 1 of refJ.wav, improvement over mic 1 of the
// mixture). The model never saw these files (it is trained on
// shared/data/train only).

func devDir(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("LIVESEP_DEV") == "" {
		t.Skip("set LIVESEP_DEV=1 to score the default model on the dev mixtures")
	}
	return filepath.Join(sharedData(t), "dev", "mixtures", name)
}

func readChannels(t *testing.T, path string) [][]float64 {
	t.Helper()
	_, d, err := wav.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(d))
	for c := range d {
		out[c] = make([]float64, len(d[c]))
		for i, v := range d[c] {
			out[c][i] = float64(v)
		}
	}
	return out
}

type devScore struct {
	sdr, sir, dSDR, dSIR []float64
	perm                 []int
}

func (s devScore) mean(x []float64) float64 {
	var m float64
	for _, v := range x {
		m += v
	}
	return m / float64(len(x))
}

func (s devScore) String() string {
	return fmt.Sprintf("SDR %.2f SIR %.2f | ΔSDR %.2f (mean %.2f) ΔSIR %.2f (mean %.2f) perm %v",
		s.sdr, s.sir, s.dSDR, s.mean(s.dSDR), s.dSIR, s.mean(s.dSIR), s.perm)
}

// devRun separates dir/mix.wav with sep at cfg and scores the outputs.
func devRun(t *testing.T, dir string, cfg stft.Config, sep stream.Separator) devScore {
	t.Helper()
	mix := readChannels(t, filepath.Join(dir, "mix.wav"))
	p, err := stream.NewSpectral(cfg, sep)
	if err != nil {
		t.Fatal(err)
	}
	// runProcessor's Spec rate is synRate (16 kHz), the dev files' rate.
	est := runProcessor(t, p, mix)
	var refs [][]float64
	for j := 0; ; j++ {
		path := filepath.Join(dir, fmt.Sprintf("ref%d.wav", j))
		if _, err := os.Stat(path); err != nil {
			break
		}
		refs = append(refs, readChannels(t, path)[0])
	}
	r, err := bsseval.Sources(refs, est)
	if err != nil {
		t.Fatal(err)
	}
	mixes := make([][]float64, len(refs))
	ident := make([]int, len(refs))
	for j := range mixes {
		mixes[j], ident[j] = mix[0], j
	}
	mr, err := bsseval.SourcesPerm(refs, mixes, ident)
	if err != nil {
		t.Fatal(err)
	}
	s := devScore{sdr: r.SDR, sir: r.SIR, perm: r.Perm}
	for j := range refs {
		s.dSDR = append(s.dSDR, r.SDR[j]-mr.SDR[j])
		s.dSIR = append(s.dSIR, r.SIR[j]-mr.SIR[j])
	}
	return s
}

// TestDevDict: `--method dict --sources 2` on the 1-mic speech + music
// mixture.
func TestDevDict(t *testing.T) {
	dir := devDir(t, "dev_sim015_2x1_music")
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	sep, err := NewSeparator(m, SeparatorConfig{Sources: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := devRun(t, dir, m.STFT(), sep)
	t.Logf("dict: %v; labels %v; %+v", s, sep.Labels(), sep.Stats())
	// ref0 is speech, ref1 music (meta.json). The speech output must be
	// named speech; the music output is the {music, noise} group, and
	// the default model confuses the two (Header.Confusion: validation music
	// streams get 37 % noise), so its name is logged, not asserted.
	l := sep.Labels()
	if l[s.perm[0]].Class != "speech" {
		t.Errorf("labels %v with permutation %v: want speech for ref0", l, s.perm)
	}
	if got := s.mean(s.dSDR); got < devDictMinDSDR {
		t.Errorf("mean ΔSDR %.2f dB; the floor set from the measurement is %.2f", got, devDictMinDSDR)
	}
}

// TestDevPostFilter: `--method iva+dict` against `--method iva` on the
// 2×2 speech + music mixture, and the labels of the outputs.
func TestDevPostFilter(t *testing.T) {
	dir := devDir(t, "dev_sim030_2x2_music")
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	newIVA := func() *online.IVA {
		iva, err := online.NewIVA(online.IVAConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return iva
	}
	base := devRun(t, dir, m.STFT(), newIVA())
	t.Logf("iva:      %v", base)
	for _, mode := range []PostMode{PostAssign, PostHard} {
		pf, err := NewPostFilter(newIVA(), m, PostFilterConfig{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		s := devRun(t, dir, m.STFT(), pf)
		l := pf.Labels()
		t.Logf("iva+dict (%v): %v; labels %v; %+v", mode, s, l, pf.Stats())
		if mode != PostAssign {
			continue
		}
		if l[s.perm[0]].Class != "speech" || l[s.perm[1]].Class != "music" {
			t.Errorf("labels %v with permutation %v: want speech for ref0, music for ref1", l, s.perm)
		}
		dSIR := s.mean(s.dSIR) - base.mean(base.dSIR)
		dSDR := s.mean(s.dSDR) - base.mean(base.dSDR)
		t.Logf("iva+dict − iva: ΔSIR %+.2f dB, ΔSDR %+.2f dB", dSIR, dSDR)
		if dSIR < devPostMinSIRGain {
			t.Errorf("SIR gain over IVA %.2f dB; the floor set from the measurement is %.2f", dSIR, devPostMinSIRGain)
		}
		if dSDR < 0 {
			t.Errorf("SDR change over IVA %+.2f dB; the target is not lower", dSDR)
		}
	}
}

// Floors for the dev measurements: the issue #4 targets. Measured with the
// shipped default model (sha256 275b3aa2…, cosine schedule, last epoch's
// averaged weights): dict mean ΔSDR 5.70 dB; iva+dict − iva ΔSIR +2.36 dB,
// ΔSDR −0.01 dB with online.IVA's defaults as of this change — below the
// post-filter targets, which TestDevPostFilter reports as failures. Over
// training seeds 1–4 with these settings: dict 5.57–7.34, ΔSIR +1.06 to
// +2.36 (the former early-stopping schedule: 3.01–5.62 and +2.00 to +3.57;
// its seed-1 model scored 4.36 and +2.60).
const (
	devDictMinDSDR    = 5.0
	devPostMinSIRGain = 3.0
)
