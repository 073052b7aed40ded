package dict

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/livesep/livesep/stream"
)

// leaky is a fake inner separator for two mics: it inverts a known 2×2
// mixing exactly and then adds crosstalk c between the outputs, like an
// IVA that has nearly converged:
//
//	y = [[1, c], [c, 1]]·A⁻¹·x
type leaky struct {
	inv   [2][2]float64
	c     float64
	calls int
}

func newLeaky(a [2][2]float64, c float64) *leaky {
	det := a[0][0]*a[1][1] - a[0][1]*a[1][0]
	return &leaky{c: c, inv: [2][2]float64{{a[1][1] / det, -a[0][1] / det}, {-a[1][0] / det, a[0][0] / det}}}
}

func (l *leaky) Prepare(mics, bins int) (int, error) { return 2, nil }
func (l *leaky) Reset()                              { l.calls = 0 }
func (l *leaky) Err() error                          { return nil }
func (l *leaky) Separate(dst, mix [][]complex128) {
	l.calls++
	for f := range mix[0] {
		s0 := complex(l.inv[0][0], 0)*mix[0][f] + complex(l.inv[0][1], 0)*mix[1][f]
		s1 := complex(l.inv[1][0], 0)*mix[0][f] + complex(l.inv[1][1], 0)*mix[1][f]
		dst[0][f] = s0 + complex(l.c, 0)*s1
		dst[1][f] = s1 + complex(l.c, 0)*s0
	}
}

var testA = [2][2]float64{{1, 0.6}, {0.5, 1}}

func twoMics(s0, s1 []float64) [][]float64 {
	x := [][]float64{make([]float64, len(s0)), make([]float64, len(s0))}
	for i := range s0 {
		x[0][i] = testA[0][0]*s0[i] + testA[0][1]*s1[i]
		x[1][i] = testA[1][0]*s0[i] + testA[1][1]*s1[i]
	}
	return x
}

// TestPostFilterRemovesCrosstalk: the leaky inner separator leaves each
// output ~10.5 dB above the other source (c = 0.3); the post-filter must
// name the outputs and remove much of the crosstalk.
func TestPostFilterRemovesCrosstalk(t *testing.T) {
	m := tinyModel(t)
	tone, hiss, _ := synMixture(21)
	x := twoMics(tone, hiss)
	inner := runProcessor(t, newSpectral(t, newLeaky(testA, 0.3)), x)
	for _, mode := range []PostMode{PostAssign, PostHard} {
		pf, err := NewPostFilter(newLeaky(testA, 0.3), m, PostFilterConfig{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		y := runProcessor(t, newSpectral(t, pf), x)
		from := synRate / 2
		before := []float64{snrDB(tone, inner[0], from), snrDB(hiss, inner[1], from)}
		after := []float64{snrDB(tone, y[0], from), snrDB(hiss, y[1], from)}
		l := pf.Labels()
		t.Logf("%v: SNR before %.1f, %.1f dB; after %.1f, %.1f dB; labels %v; %+v", mode, before[0], before[1], after[0], after[1], l, pf.Stats())
		// Measured: hard +8.6 and +6.7 dB.
		for i := range after {
			if after[i] < before[i]+5 {
				t.Errorf("%v: output %d SNR %.1f → %.1f dB; want ≥ 5 dB better", mode, i, before[i], after[i])
			}
		}
		if l[0].Class != "tone" || l[1].Class != "hiss" || !(l[0].Confidence > 0.5 && l[1].Confidence > 0.5) {
			t.Errorf("%v: labels %v; want tone then hiss, each the majority", mode, l)
		}
	}
}

func TestPostFilterContract(t *testing.T) {
	m := tinyModel(t)
	for _, mode := range []PostMode{PostAssign, PostHard} {
		t.Run(mode.String(), func(t *testing.T) {
			pf, err := NewPostFilter(newLeaky(testA, 0.3), m, PostFilterConfig{Mode: mode, Floor: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			checkContract(t, newSpectral(t, pf), stream.Spec{Rate: synRate, Channels: 2, MaxFrames: 100}, synSize)
		})
	}
}

func TestPostFilterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	m := tinyModel(t)
	tone, hiss, _ := synMixture(1)
	x := twoMics(tone, hiss)
	mix := [][]complex128{spectrumAt(x[0], synRate), spectrumAt(x[1], synRate)}
	pf, _ := NewPostFilter(newLeaky(testA, 0.3), m, PostFilterConfig{Budget: time.Millisecond})
	if _, err := pf.Prepare(2, synSize/2+1); err != nil {
		t.Fatal(err)
	}
	dst := [][]complex128{make([]complex128, synSize/2+1), make([]complex128, synSize/2+1)}
	labels := make([]Label, 2)
	if n := testing.AllocsPerRun(200, func() {
		pf.Separate(dst, mix)
		labels = pf.LabelsTo(labels)
	}); n != 0 {
		t.Errorf("Separate+LabelsTo allocated %v times per call; want 0", n)
	}
}

func TestPostFilterErrors(t *testing.T) {
	m := tinyModel(t)
	if _, err := NewPostFilter(nil, m, PostFilterConfig{}); err == nil {
		t.Error("nil inner accepted")
	}
	if _, err := NewPostFilter(newLeaky(testA, 0), m, PostFilterConfig{Floor: 1}); err == nil {
		t.Error("floor 1 accepted")
	}
	pf, _ := NewPostFilter(newLeaky(testA, 0), m, PostFilterConfig{})
	if _, err := pf.Prepare(2, 513); err == nil || !strings.Contains(err.Error(), "--window 256") {
		t.Errorf("wrong bins: %v", err)
	}
}

// TestPostFilterBudget: the budget is shared by the outputs and cuts steps.
func TestPostFilterBudget(t *testing.T) {
	m := tinyModel(t)
	tone, hiss, _ := synMixture(4)
	x := twoMics(tone, hiss)
	pf, _ := NewPostFilter(newLeaky(testA, 0.3), m, PostFilterConfig{MaxSteps: 2})
	runProcessor(t, newSpectral(t, pf), x)
	s := pf.Stats()
	if s.Steps != 2*s.Spectra || s.Cut != 0 {
		t.Errorf("no budget: %+v", s)
	}
	pf.SetBudget(time.Nanosecond)
	runProcessor(t, newSpectral(t, pf), x)
	if s := pf.Stats(); s.Cut != s.Spectra || s.Steps != 0 || math.IsNaN(s.MeanSteps()) {
		t.Errorf("1 ns budget: %+v", s)
	}
}
