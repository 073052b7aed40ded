package dict

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/livesep/livesep/stream"
)

var zeroTime time.Time

// Defaults of SeparatorConfig.
const (
	defaultMaxSteps    = 4
	defaultCarry       = 0.5
	defaultLabelFrames = 125 // 2 s at 16 kHz, hop 256
)

// SeparatorConfig configures Separator and PostFilter. The zero value of
// every field selects its default.
type SeparatorConfig struct {
	// Sources is M, the number of outputs. 0 means one per model class.
	// With M below the class count all classes still take part in the fit
	// and the M classes with the most (running) energy are written.
	Sources int
	// MaxSteps is the most latent gradient steps per spectrum (default 4);
	// negative means none (encoder warm start only).
	MaxSteps int
	// StepSize is the latent gradient step η; 0 means the model's
	// calibrated value (Header.StepSize).
	StepSize float64
	// MaskPower is p in M_k = Ŝ_k^p / Σ_j Ŝ_j^p; 0 means the model's value.
	MaskPower float64
	// Carry is how much of the previous spectrum's fit correction is kept
	// in the warm start (default 0.5); negative means none.
	Carry float64
	// Budget is the time one Separate call may spend on latent steps
	// (see SetBudget); 0 means no limit (MaxSteps steps every time, and a
	// deterministic output).
	Budget time.Duration
	// LabelFrames is the time constant, in spectra, of the running class
	// energies behind Labels and the choice of outputs (default 125).
	LabelFrames float64
	// Discard, with M below the class count, drops the share of the
	// classes that are not written. By default those classes are taken as
	// absent: the masks are renormalised over the written classes, so the
	// M outputs still add up to the mixture.
	Discard bool
}

func (c *SeparatorConfig) fill(m *Model) error {
	if c.Sources < 0 || c.Sources > len(m.hdr.Classes) {
		return fmt.Errorf("dict: %d sources asked for, but the model has %d classes (%v)", c.Sources, len(m.hdr.Classes), m.hdr.Classes)
	}
	if c.Sources == 0 {
		c.Sources = len(m.hdr.Classes)
	}
	switch {
	case c.MaxSteps == 0:
		c.MaxSteps = defaultMaxSteps
	case c.MaxSteps < 0:
		c.MaxSteps = 0
	case c.MaxSteps > 1000:
		return fmt.Errorf("dict: %d latent steps per spectrum is more than 1000", c.MaxSteps)
	}
	if c.StepSize == 0 {
		c.StepSize = m.hdr.StepSize
	}
	if c.MaskPower == 0 {
		c.MaskPower = m.hdr.MaskPower
	}
	switch {
	case c.Carry == 0:
		c.Carry = defaultCarry
	case c.Carry < 0:
		c.Carry = 0
	}
	if c.LabelFrames == 0 {
		c.LabelFrames = defaultLabelFrames
	}
	switch {
	case !(c.StepSize >= 0) || math.IsInf(c.StepSize, 0):
		return fmt.Errorf("dict: step size %v must be finite and not negative", c.StepSize)
	case !(c.MaskPower > 0 && c.MaskPower <= 8):
		return fmt.Errorf("dict: mask power %v not in (0, 8]", c.MaskPower)
	case !(c.Carry <= 1):
		return fmt.Errorf("dict: carry %v not in [0, 1]", c.Carry)
	case c.Budget < 0:
		return fmt.Errorf("dict: budget %v is negative", c.Budget)
	case !(c.LabelFrames >= 1):
		return fmt.Errorf("dict: label time constant %v spectra is below 1", c.LabelFrames)
	}
	return nil
}

// Label names the class an output carries, with a confidence in [0, 1]:
// the class's share of the output's running energy over all classes.
type Label struct {
	Class      string
	Confidence float64
}

// Stats counts the latent inference work since Prepare or Reset.
type Stats struct {
	Spectra  int64 // spectra processed (per output stream for PostFilter)
	Steps    int64 // latent gradient steps taken in total
	Cut      int64 // spectra whose steps were cut short by the budget
	MinSteps int64 // fewest steps on one spectrum (0 before the first)
	MaxSteps int64 // most steps on one spectrum
}

// MeanSteps is Steps/Spectra (0 before the first spectrum).
func (s Stats) MeanSteps() float64 {
	if s.Spectra == 0 {
		return 0
	}
	return float64(s.Steps) / float64(s.Spectra)
}

// counters are Stats in atomics, so another goroutine may read them while
// Separate runs.
type counters struct {
	spectra, steps, cut, minSteps, maxSteps atomic.Int64
}

func (c *counters) reset() {
	c.spectra.Store(0)
	c.steps.Store(0)
	c.cut.Store(0)
	c.minSteps.Store(0)
	c.maxSteps.Store(0)
}

func (c *counters) add(f *fitter) {
	n := int64(f.lastStep)
	if c.spectra.Add(1) == 1 || n < c.minSteps.Load() {
		c.minSteps.Store(n)
	}
	if n > c.maxSteps.Load() {
		c.maxSteps.Store(n)
	}
	c.steps.Add(n)
	if f.lastCut {
		c.cut.Add(1)
	}
}

func (c *counters) stats() Stats {
	return Stats{Spectra: c.spectra.Load(), Steps: c.steps.Load(), Cut: c.cut.Load(), MinSteps: c.minSteps.Load(), MaxSteps: c.maxSteps.Load()}
}

// labelSlot is one output's label in atomics: the class index and the
// confidence's float64 bits.
type labelSlot struct {
	class atomic.Int32
	conf  atomic.Uint64
}

func (l *labelSlot) set(k int, c float64) {
	l.class.Store(int32(k))
	l.conf.Store(math.Float64bits(c))
}

var errNonFinite = fmt.Errorf("dict: %w", stream.ErrNonFinite)

// sticky keeps the first numerical error.
type sticky struct {
	nonFinite atomic.Int64
	first     atomic.Pointer[error]
}

func (s *sticky) event(err *error) {
	if s.nonFinite.Add(1) == 1 {
		s.first.CompareAndSwap(nil, err)
	}
}

func (s *sticky) reset() {
	s.nonFinite.Store(0)
	s.first.Store(nil)
}

func (s *sticky) err() error {
	if e := s.first.Load(); e != nil {
		return *e
	}
	return nil
}

// Separator is single-channel separation into the model's classes: a
// stream.Separator that reads mic 1 (mix[0]) and writes one masked spectrum
// per output. Wrap it with stream.NewSpectral(model.STFT(), sep).
type Separator struct {
	m       *Model
	cfg     SeparatorConfig
	f       *fitter
	bins    int
	binMask []float32
	sum     []float32 // per band: 1/Σ of the written classes' masks
	band    []float32 // one renormalised band mask
	avgE    []float64 // running class energies (bias-corrected EMA)
	beta    float64
	betaT   float64
	slot    []int // output → class
	chosen  []bool
	budget  atomic.Int64
	labels  []labelSlot
	cnt     counters
	errs    sticky
}

// NewSeparator checks cfg against the model; Prepare allocates.
func NewSeparator(m *Model, cfg SeparatorConfig) (*Separator, error) {
	if m == nil {
		return nil, errors.New("dict: NewSeparator: nil model")
	}
	if err := cfg.fill(m); err != nil {
		return nil, err
	}
	s := &Separator{m: m, cfg: cfg}
	s.budget.Store(int64(cfg.Budget))
	return s, nil
}

// Config returns the configuration with defaults filled in.
func (s *Separator) Config() SeparatorConfig { return s.cfg }

// checkBins is the Prepare check shared by Separator and PostFilter.
func checkBins(m *Model, bins int) error {
	if want := m.hdr.Size/2 + 1; bins != want {
		return fmt.Errorf("dict: the model was trained on a %d-point STFT (%d bins, hop %d, √Hann window at %d Hz) but the input has %d bins (a %d-point STFT); use --window %d --hop %d",
			m.hdr.Size, want, m.hdr.Hop, m.hdr.Rate, bins, 2*(bins-1), m.hdr.Size, m.hdr.Hop)
	}
	return nil
}

// Prepare implements stream.Separator. It needs at least one mic (only mic
// 1 is used) and the model's bin count.
func (s *Separator) Prepare(mics, bins int) (int, error) {
	if mics < 1 {
		return 0, fmt.Errorf("dict: %d mics; need at least 1", mics)
	}
	if err := checkBins(s.m, bins); err != nil {
		return 0, err
	}
	K := len(s.m.hdr.Classes)
	s.bins = bins
	s.f = newFitter(s.m, &s.cfg)
	s.binMask = make([]float32, bins)
	s.sum = make([]float32, s.m.hdr.Bands)
	s.band = make([]float32, s.m.hdr.Bands)
	s.avgE = make([]float64, K)
	s.chosen = make([]bool, K)
	s.slot = make([]int, s.cfg.Sources)
	s.labels = make([]labelSlot, s.cfg.Sources)
	s.beta = math.Exp(-1 / s.cfg.LabelFrames)
	s.Reset()
	return s.cfg.Sources, nil
}

// Reset implements stream.Separator.
func (s *Separator) Reset() {
	if s.f == nil {
		return
	}
	s.f.reset()
	clear(s.avgE)
	s.betaT = 1
	clear(s.chosen)
	for i := range s.slot {
		s.slot[i] = i
		s.chosen[i] = true
		s.labels[i].set(i, 0)
	}
	s.cnt.reset()
	s.errs.reset()
}

// Err implements stream.Separator: the first NaN/Inf input seen since
// Prepare or Reset (such bins are output as 0).
func (s *Separator) Err() error { return s.errs.err() }

// SetBudget sets the time one Separate call may spend on latent steps; 0
// removes the limit. It may be called from any goroutine. With a budget the
// step count, and so the output, depends on timing.
func (s *Separator) SetBudget(d time.Duration) { s.budget.Store(int64(max(d, 0))) }

// Stats returns the step counters; safe from any goroutine.
func (s *Separator) Stats() Stats { return s.cnt.stats() }

// Labels returns the class of every output with its confidence. It
// allocates the result; LabelsTo does not.
func (s *Separator) Labels() []Label { return s.LabelsTo(nil) }

// LabelsTo writes the labels to dst (grown if short) and returns it. It
// reads atomics only, so any goroutine may call it while Separate runs.
func (s *Separator) LabelsTo(dst []Label) []Label {
	return labelsTo(dst, s.labels, s.m.hdr.Classes)
}

func labelsTo(dst []Label, ls []labelSlot, classes []string) []Label {
	if cap(dst) < len(ls) {
		dst = make([]Label, len(ls))
	}
	dst = dst[:len(ls)]
	for i := range ls {
		dst[i] = Label{Class: classes[ls[i].class.Load()], Confidence: math.Float64frombits(ls[i].conf.Load())}
	}
	return dst
}

func deadline(budget time.Duration) time.Time {
	if budget <= 0 {
		return zeroTime
	}
	return time.Now().Add(budget)
}

// Separate implements stream.Separator.
func (s *Separator) Separate(dst, mix [][]complex128) {
	if len(mix) < 1 || len(mix[0]) != s.bins || len(dst) != len(s.slot) {
		panic("dict: Separator.Separate: slice counts or lengths do not match Prepare")
	}
	x := mix[0]
	if !s.f.run(x, deadline(time.Duration(s.budget.Load()))) {
		s.errs.event(&errNonFinite)
	}
	s.cnt.add(s.f)
	s.track()
	renorm := len(s.slot) < len(s.chosen) && !s.cfg.Discard
	if renorm {
		// M_k / Σ_{written} M_i, band by band.
		for j := range s.sum {
			var t float32
			for _, k := range s.slot {
				t += s.f.mask[k][j]
			}
			if t > 1e-12 {
				s.sum[j] = 1 / t
			} else {
				s.sum[j] = 0
			}
		}
	}
	for i, k := range s.slot {
		d := dst[i]
		if len(d) != s.bins {
			panic("dict: Separator.Separate: dst length does not match Prepare")
		}
		band := s.f.mask[k]
		if renorm {
			for j, v := range band {
				if t := s.sum[j]; t > 0 {
					s.band[j] = v * t
				} else {
					s.band[j] = 1 / float32(len(s.slot)) // no written class here: equal shares
				}
			}
			band = s.band
		}
		s.m.bm.interp(s.binMask, band)
		applyMask(d, x, s.binMask)
	}
}

// applyMask writes m·x to dst, and 0 where x is not finite.
func applyMask(dst, x []complex128, m []float32) {
	for f, v := range x {
		if math.IsNaN(real(v)) || math.IsNaN(imag(v)) || math.IsInf(real(v), 0) || math.IsInf(imag(v), 0) {
			dst[f] = 0
			continue
		}
		g := float64(m[f])
		dst[f] = complex(g*real(v), g*imag(v))
	}
}

// track updates the running class energies, the output choice and the
// labels.
func (s *Separator) track() {
	s.betaT *= s.beta
	var total float64
	for k, e := range s.f.energy {
		s.avgE[k] = s.beta*s.avgE[k] + (1-s.beta)*e
		total += s.avgE[k]
	}
	if len(s.slot) < len(s.avgE) {
		// Swap the weakest written class for the strongest unwritten one
		// when it is 3 dB stronger (hysteresis keeps outputs stable).
		weak, strong := -1, -1
		for i, k := range s.slot {
			if weak < 0 || s.avgE[k] < s.avgE[s.slot[weak]] {
				weak = i
			}
		}
		for k, c := range s.chosen {
			if !c && (strong < 0 || s.avgE[k] > s.avgE[strong]) {
				strong = k
			}
		}
		if strong >= 0 && s.avgE[strong] > 2*s.avgE[s.slot[weak]] {
			s.chosen[s.slot[weak]] = false
			s.chosen[strong] = true
			s.slot[weak] = strong
		}
	}
	for i, k := range s.slot {
		c := 0.0
		if total > 0 {
			c = s.avgE[k] / total
		}
		s.labels[i].set(k, c)
	}
}
