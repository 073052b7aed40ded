package dict

import (
	"math"
	"math/rand/v2"
	"testing"
)

// snrAcc accumulates, per class, the energies that make the mask SNR:
// the class's energy Σ|S_k|², the masked error Σ|M_k X − S_k|² and the
// unprocessed error Σ|X − S_k|², over spectra where ≥ 2 classes are present.
type snrAcc struct {
	sig, errOut, errIn []float64
	binMask            []float32
}

func newSNRAcc(k int) *snrAcc {
	return &snrAcc{sig: make([]float64, k), errOut: make([]float64, k), errIn: make([]float64, k)}
}

func (a *snrAcc) add(bm *bandMap, ex *examples, r int, maskB [][]float32) {
	if !ex.multi[r] {
		return
	}
	if a.binMask == nil {
		a.binMask = make([]float32, bm.bins)
	}
	x := ex.mix[r]
	for k := range maskB {
		bm.interp(a.binMask, maskB[k])
		s := ex.comp[r][k]
		for f, v := range x {
			sv := complex128(s[f])
			xv := complex128(v)
			d := complex(float64(a.binMask[f]), 0)*xv - sv
			a.sig[k] += real(sv)*real(sv) + imag(sv)*imag(sv)
			a.errOut[k] += real(d)*real(d) + imag(d)*imag(d)
			e := xv - sv
			a.errIn[k] += real(e)*real(e) + imag(e)*imag(e)
		}
	}
}

// gain is the mean over classes of 10·log10(errIn/errOut).
func (a *snrAcc) gain() float64 {
	var g float64
	n := 0
	for k := range a.sig {
		if a.sig[k] == 0 || a.errOut[k] == 0 {
			continue
		}
		g += 10 * math.Log10(a.errIn[k]/a.errOut[k])
		n++
	}
	if n == 0 {
		return 0
	}
	return g / float64(n)
}

// TestMaskStatsOracle checks the O(Bands) mask SNR of maskStats against the
// direct bin-by-bin computation (snrAcc) on synthesised validation mixtures
// and random masks.
func TestMaskStatsOracle(t *testing.T) {
	m := tinyModel(t)
	dir := t.TempDir()
	sets, _, err := loadClasses(synFiles(t, dir), func() *TrainConfig { c := tinyConfig(); c.fill(); return &c }())
	if err != nil {
		t.Fatal(err)
	}
	c := tinyConfig()
	c.fill()
	ex := synth(m, sets, &c, rand.New(rand.NewPCG(5, 5)), 6, true, keepAll)
	stats := ex.stats
	if len(stats.rows) == 0 {
		t.Fatal("no multi-class spectra")
	}
	rng := rand.New(rand.NewPCG(6, 6))
	masks := make([][][]float32, ex.n)
	for r := range masks {
		masks[r] = alloc2f(2, m.hdr.Bands)
		for j := range masks[r][0] {
			v := float32(rng.Float64())
			masks[r][0][j], masks[r][1][j] = v, 1-v
		}
	}
	acc := newSNRAcc(2)
	for r := 0; r < ex.n; r++ {
		acc.add(m.bm, ex, r, masks[r])
	}
	want := acc.gain()
	got := stats.gain(func(r int, dst [][]float32) { copy2(dst, masks[r]) })
	if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("maskStats gain %.9f dB, bin-by-bin %.9f dB", got, want)
	}
	t.Logf("gain %.4f dB over %d spectra", got, len(stats.rows))
}
