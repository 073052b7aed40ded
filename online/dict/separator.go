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
	defaultMaxSteps = 4
	defaultCarry    = 0.9
	// defaultPostCarry is PostFilter's carry, and calibCarry the one the
	// training-time calibration measures with (kept at its old value so
	// that a seed still rebuilds the same model bytes).
	defaultPostCarry   = 0.5
	calibCarry         = 0.5
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
	// in the warm start (default 0.9 for Separator, 0.5 for PostFilter);
	// negative means none. With c per hop the correction decays with a
	// time constant of −1/ln c spectra (0.9: ~10 spectra, 150 ms at hop
	// 256): a source's spectrum stays alike over a syllable or a note, so
	// the latent steps of successive spectra add up instead of starting
	// over, which is worth more than extra steps per spectrum (measured in
	// the report of issue #4). On a post-filter's nearly separated outputs
	// a long carry lets the absent classes' codes drift, so it keeps 0.5.
	Carry float64
	// Budget is the time one Separate call may spend on latent steps
	// (see SetBudget); 0 means no limit (MaxSteps steps every time, and a
	// deterministic output).
	Budget time.Duration
	// LabelFrames is the time constant, in spectra, of the running class
	// energies behind Labels and the choice of outputs (default 125).
	LabelFrames float64
	// Reduce is how M outputs are made from more classes (default
	// ReduceGroup).
	Reduce Reduce
}

// Reduce selects how a Separator with fewer outputs M than classes K makes
// its outputs. Every mode fits all K classes.
type Reduce int

const (
	// ReduceGroup merges classes into M outputs, greedily merging the pair
	// of groups whose merge loses least: cost(A, B) = min(E_A, E_B)·(1 − κ_AB),
	// E the running energies, κ_AB the confusability of the groups' classes
	// measured on the validation mixtures (Header.Confusion, mean over
	// pairs). Merging a class that is absent (small E) or that the model
	// cannot tell from the other (large κ, e.g. drum-heavy music and noise)
	// costs little; so a speech + music mixture through a speech/music/noise
	// model gives {speech} and {music, noise}. Output i carries the sum of
	// its classes' masks (outputs add up to the mixture) and is named after
	// its strongest class. A partition is replaced only when the new one
	// costs less than 0.8 of the current one. With M = 1 the strongest class
	// alone is written. The default.
	ReduceGroup Reduce = iota
	// ReduceRenorm writes the M classes with the largest running energy
	// (a class replaces a written one when it is 3 dB stronger) and, for
	// M ≥ 2, renormalises their masks over the written classes: the other
	// classes are taken as absent and their estimated share goes back to
	// the written ones in proportion.
	ReduceRenorm
	// ReduceDrop writes the M classes with the largest running energy and
	// drops the other classes' share.
	ReduceDrop
)

func (r Reduce) String() string {
	switch r {
	case ReduceGroup:
		return "group"
	case ReduceRenorm:
		return "renorm"
	case ReduceDrop:
		return "drop"
	}
	return fmt.Sprintf("Reduce(%d)", int(r))
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
	if c.Reduce < ReduceGroup || c.Reduce > ReduceDrop {
		return fmt.Errorf("dict: unknown reduce mode %d", int(c.Reduce))
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

// Label names the class an output carries, with a confidence in [0, 1].
// The name is the class whose confusion row (Header.Confusion: the energy
// shares the model gives on streams of that class) best explains the
// output's running class energies, and the confidence its posterior
// probability (see Model.label); for models without a confusion matrix, the
// class with the largest share and that share.
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
	band    []float32 // one renormalised band mask
	avgE    []float64 // running class energies (EMA; only their ratios matter)
	beta    float64
	slot    []int  // top-M modes: output → class
	chosen  []bool // top-M modes: class is written
	owner   []int  // class → output, −1 if not written
	group   []int  // ReduceGroup: class → group of the partition
	over    []float64
	taken   []bool
	trial   []int     // ReduceGroup: candidate partition
	ownE    []float64 // scratch: running energies of one output's classes
	grouped bool      // ReduceGroup: owner holds a partition
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
	s.band = make([]float32, s.m.hdr.Bands)
	s.avgE = make([]float64, K)
	s.chosen = make([]bool, K)
	s.slot = make([]int, s.cfg.Sources)
	s.owner = make([]int, K)
	s.group = make([]int, K)
	s.over = make([]float64, s.cfg.Sources)
	s.taken = make([]bool, s.cfg.Sources)
	s.trial = make([]int, K)
	s.ownE = make([]float64, K)
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
	clear(s.chosen)
	for k := range s.owner {
		s.owner[k] = -1
	}
	for i := range s.slot {
		s.slot[i] = i
		s.chosen[i] = true
		s.owner[i] = i
		s.labels[i].set(i, 0)
	}
	s.grouped = false
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

// ClassNames implements stream.ClassReporter: the model's classes, which
// ClassesTo indexes.
func (s *Separator) ClassNames() []string { return s.m.hdr.Classes }

// ClassesTo implements stream.ClassReporter: the class of every output as
// an index into ClassNames, −1 while undecided. It writes dst (grown if
// short) and reads atomics only, so any goroutine may call it while
// Separate runs.
func (s *Separator) ClassesTo(dst []int) []int { return classesTo(dst, s.labels) }

// classesTo writes each output's class index to dst (grown if short), −1
// while undecided (no confidence yet). Atomics only.
func classesTo(dst []int, ls []labelSlot) []int {
	if cap(dst) < len(ls) {
		dst = make([]int, len(ls))
	}
	dst = dst[:len(ls)]
	for i := range ls {
		dst[i] = -1
		if math.Float64frombits(ls[i].conf.Load()) > 0 {
			dst[i] = int(ls[i].class.Load())
		}
	}
	return dst
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
	renorm := s.cfg.Reduce == ReduceRenorm && len(s.slot) < len(s.owner) && len(s.slot) > 1
	for i, d := range dst {
		if len(d) != s.bins {
			panic("dict: Separator.Separate: dst length does not match Prepare")
		}
		// Output i: Σ of its classes' masks (renormalised over the
		// written classes when some are not written).
		for j := range s.band {
			var own, all float32
			for k, o := range s.owner {
				v := s.f.mask[k][j]
				if o == i {
					own += v
				}
				if o >= 0 {
					all += v
				}
			}
			if renorm {
				if all > 1e-12 {
					own /= all
				} else {
					own = 1 / float32(len(dst)) // no written class here: equal shares
				}
			}
			s.band[j] = own
		}
		s.m.bm.interp(s.binMask, s.band)
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
	for k, e := range s.f.energy {
		s.avgE[k] = s.beta*s.avgE[k] + (1-s.beta)*e
	}
	M, K := len(s.slot), len(s.avgE)
	switch {
	case M == K:
	case s.cfg.Reduce == ReduceGroup && M > 1:
		s.regroup()
	default:
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
			s.owner[s.slot[weak]] = -1
			s.owner[strong] = weak
			s.slot[weak] = strong
		}
	}
	// Each output is named by the label model from the energies of its
	// classes (Model.label).
	for i := range s.labels {
		for k, o := range s.owner {
			s.ownE[k] = 0
			if o == i {
				s.ownE[k] = s.avgE[k]
			}
		}
		s.labels[i].set(s.m.label(s.ownE))
	}
}

// regroup partitions the classes into M groups (ReduceGroup) and gives each
// group the output it overlaps most (by running energy) with before, the
// strongest group choosing first, so outputs keep their source.
func (s *Separator) regroup() {
	M := len(s.slot)
	mergeGroups(s.trial, s.avgE, s.m.hdr.Confusion, M)
	if s.grouped {
		// Hysteresis: keep the current partition unless the new one is
		// clearly cheaper.
		for k, o := range s.owner {
			s.group[k] = o
		}
		if partitionCost(s.trial, s.avgE, s.m.hdr.Confusion) >= 0.8*partitionCost(s.group, s.avgE, s.m.hdr.Confusion) {
			return
		}
	}
	copy(s.group, s.trial)
	first := !s.grouped
	s.grouped = true
	clear(s.taken)
	for range M {
		// The unassigned group with the most energy.
		g, gE := -1, -1.0
		for cand := 0; cand < M; cand++ {
			var e float64
			done := false
			for k, gk := range s.group {
				if gk == cand {
					e += s.avgE[k]
					if s.owner[k] >= M { // marked as assigned this round
						done = true
					}
				}
			}
			if !done && e > gE {
				g, gE = cand, e
			}
		}
		clear(s.over)
		for k, gk := range s.group {
			if gk == g && !first && s.owner[k] >= 0 && s.owner[k] < M {
				s.over[s.owner[k]] += s.avgE[k] + 1e-300
			}
		}
		out := -1
		for o, v := range s.over {
			if !s.taken[o] && (out < 0 || v > s.over[out]) {
				out = o
			}
		}
		s.taken[out] = true
		for k, gk := range s.group {
			if gk == g {
				s.owner[k] = M + out // assigned; decoded below
			}
		}
	}
	for k := range s.owner {
		s.owner[k] -= M
	}
}

// confusability κ of classes a and b: the model's value, or 0 (never
// confused) for models without it.
func confusability(conf [][]float64, a, b int) float64 {
	if len(conf) == 0 {
		return 0
	}
	return (conf[a][b] + conf[b][a]) / 2
}

// groupCost is the cost of merging groups ga and gb of partition group:
// min(E_ga, E_gb)·(1 − mean κ over the class pairs across them).
func groupCost(group []int, e []float64, conf [][]float64, ga, gb int) float64 {
	var ea, eb, kappa float64
	n := 0
	for a, g := range group {
		switch g {
		case ga:
			ea += e[a]
			for b, h := range group {
				if h == gb {
					kappa += confusability(conf, a, b)
					n++
				}
			}
		case gb:
			eb += e[a]
		}
	}
	if n > 0 {
		kappa /= float64(n)
	}
	return min(ea, eb) * (1 - kappa)
}

// mergeGroups writes to group (class → group 0..m−1, numbered in class
// order) the greedy agglomeration of the classes down to m groups by
// groupCost. It does not allocate (at most 16 classes).
func mergeGroups(group []int, e []float64, conf [][]float64, m int) {
	k := len(group)
	for c := range group {
		group[c] = c
	}
	for n := k; n > m; n-- {
		ba, bb, best := -1, -1, math.Inf(1)
		for a := 0; a < k; a++ {
			if !hasGroup(group, a) {
				continue
			}
			for b := a + 1; b < k; b++ {
				if !hasGroup(group, b) {
					continue
				}
				if c := groupCost(group, e, conf, a, b); c < best {
					ba, bb, best = a, b, c
				}
			}
		}
		for c := range group {
			if group[c] == bb {
				group[c] = ba
			}
		}
	}
	var num [maxGroupClasses]int
	for i := range num[:k] {
		num[i] = -1
	}
	next := 0
	for c, g := range group {
		if num[g] < 0 {
			num[g] = next
			next++
		}
		group[c] = num[g]
	}
}

func hasGroup(group []int, g int) bool {
	for _, h := range group {
		if h == g {
			return true
		}
	}
	return false
}

// partitionCost is the total merge cost of a partition: for every group,
// the cost of having merged its classes, Σ over its classes but the
// strongest of E_c·(1 − κ(c, strongest)).
func partitionCost(group []int, e []float64, conf [][]float64) float64 {
	var cost float64
	for c, g := range group {
		lead := c
		for d, h := range group {
			if h == g && e[d] > e[lead] {
				lead = d
			}
		}
		if lead != c {
			cost += e[c] * (1 - confusability(conf, c, lead))
		}
	}
	return cost
}
