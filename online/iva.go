package online

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/livesep/livesep/stream"
)

var (
	_ stream.Separator           = (*IVA)(nil)
	_ stream.LearningHolder      = (*IVA)(nil)
	_ stream.SceneChangeReporter = (*IVA)(nil)
)

// Update selects the learning rule of IVA. Both rules minimise the same
// negative log-likelihood (the spherical logistic contrast).
type Update int

const (
	// UpdateAux is online auxiliary-function IVA: exponentially forgotten
	// weighted covariances and iterative-projection updates (Ono 2011,
	// Taniguchi et al. 2014). The default.
	UpdateAux Update = iota
	// UpdateNG is the online natural gradient on whitened bins.
	UpdateNG
)

// String returns "aux" or "ng".
func (u Update) String() string {
	switch u {
	case UpdateAux:
		return "aux"
	case UpdateNG:
		return "ng"
	}
	return fmt.Sprintf("Update(%d)", int(u))
}

// ParseUpdate maps "aux" and "ng" to their Update.
func ParseUpdate(s string) (Update, error) {
	switch s {
	case "aux", "":
		return UpdateAux, nil
	case "ng":
		return UpdateNG, nil
	}
	return 0, fmt.Errorf("online: unknown IVA update %q (want aux or ng)", s)
}

// IVAConfig configures IVA. The zero value of every field selects the
// documented default; NewIVA fills them in. Durations are converted to
// spectra with SpectraPerSecond, so the same configuration behaves the same
// at every hop size.
type IVAConfig struct {
	// Sources is m, the number of outputs; 0 means one per microphone.
	// With fewer sources than microphones each bin is first reduced to its
	// m-dimensional principal subspace.
	Sources int
	// Update selects the learning rule (default UpdateAux).
	Update Update
	// SpectraPerSecond is the analysis rate, sample rate / hop. Default
	// 62.5 (16 kHz with a hop of 256).
	SpectraPerSecond float64
	// Memory is the steady-state time constant of the statistics (the aux
	// weighted covariances, the subspace covariance, the silence gate's
	// level): λ = 1 − 1/(Memory·SpectraPerSecond) per spectrum, and ng's
	// step anneals over Memory/4. Default 8 s. On the 10 s test mixtures 4,
	// 8 and 16 s measured within 0.1 dB of each other (static rooms); a
	// shorter memory tracks moving sources.
	Memory time.Duration
	// Warmup is the growth of the memory, in spectra per spectrum learnt,
	// at the start: the memory is min(Memory, 1+Warmup·t) after t spectra.
	// The default 1 averages every spectrum seen so far with equal weight
	// until the steady-state memory is reached.
	Warmup float64
	// Iterations is the number of updates per spectrum (aux: sweeps of
	// iterative projection over the current statistics, each re-weighting
	// the newest spectrum with the latest W; ng: gradient steps).
	// Default 2 (aux, N=2048: 1, 2 and 3 sweeps measured 3.5, 3.6 and
	// 2.2 dB mean ΔSDR: more sweeps over-fit the newest spectrum).
	Iterations int
	// RowWise makes two-source aux IVA update one demixing vector at a
	// time (IP1), as it does for three or more sources, instead of both at
	// once from one generalised eigenproblem (IP2, Ono 2012), which
	// measured 0.7 dB better (package documentation).
	RowWise bool
	// StepSize is μ of the natural gradient at the start (ng only); it is
	// annealed to StepSize/10 with time constant Memory/4. Default 0.01.
	StepSize float64
	// AlphaStep is μ_α, the relative step of the α update. Default 0.01.
	AlphaStep float64
	// WindowHops is how many spectra one input sample reaches: the
	// analysis window over the hop, rounded up. After a channel has been
	// quiet, this many spectra still hold part of the quiet stretch and
	// are not learnt from. Default 4 (hop N/4).
	WindowHops int
	// Track, when non-zero, is the memory of a second IVA that learns
	// beside the main one to detect changes of scene (iva_track.go): when
	// it has predicted the input clearly better for 0.5 s, the main
	// separator restarts from its state and its memory grows again. On
	// still 2-source scenes the output is unchanged; after a talker moves
	// or another starts, separation comes back seconds sooner. It doubles
	// the cost. 1 s measured best; 0 (the default) is off.
	Track time.Duration
	// SubspaceEvery is how often, in spectra, each bin's principal
	// subspace is refreshed when the input is reduced (m < n, or ng), once
	// past the start (every spectrum at first, then less and less often);
	// bins are staggered so the cost is even. Default 16.
	SubspaceEvery int
}

const (
	defaultSpectraPerSecond = 62.5
	defaultMemory           = 8 * time.Second
	defaultWarmup           = 1
	defaultIterations       = 2
	defaultStepSize         = 0.01
	defaultAlphaStep        = 0.01
	defaultSubspaceEvery    = 16
	defaultWindowHops       = 4
	subspaceWarm            = 8 // spectra that only train the subspace
	maxIVAMics              = 8
)

func (c *IVAConfig) fill() error {
	if c.Sources < 0 || c.Sources > maxIVAMics {
		return fmt.Errorf("online: IVA sources %d out of range 0..%d", c.Sources, maxIVAMics)
	}
	if c.Update != UpdateAux && c.Update != UpdateNG {
		return fmt.Errorf("online: unknown IVA update %d", int(c.Update))
	}
	if c.SpectraPerSecond == 0 {
		c.SpectraPerSecond = defaultSpectraPerSecond
	}
	if !(c.SpectraPerSecond > 0) || math.IsInf(c.SpectraPerSecond, 0) {
		return fmt.Errorf("online: IVA spectra per second %v not positive", c.SpectraPerSecond)
	}
	if c.Memory == 0 {
		c.Memory = defaultMemory
	}
	if c.Memory < 0 || c.Memory.Seconds()*c.SpectraPerSecond < 2 {
		return fmt.Errorf("online: IVA memory %v is shorter than 2 spectra", c.Memory)
	}
	if c.Warmup == 0 {
		c.Warmup = defaultWarmup
	}
	if !(c.Warmup > 0) || math.IsInf(c.Warmup, 0) {
		return fmt.Errorf("online: IVA warmup %v not positive", c.Warmup)
	}
	if c.Iterations == 0 {
		c.Iterations = defaultIterations
	}
	if c.Iterations < 1 || c.Iterations > 16 {
		return fmt.Errorf("online: IVA iterations %d out of range 1..16", c.Iterations)
	}
	if c.StepSize == 0 {
		c.StepSize = defaultStepSize
	}
	if !(c.StepSize > 0 && c.StepSize < 1) {
		return fmt.Errorf("online: IVA step size %v not in (0, 1)", c.StepSize)
	}
	if c.AlphaStep == 0 {
		c.AlphaStep = defaultAlphaStep
	}
	if !(c.AlphaStep > 0 && c.AlphaStep < 1) {
		return fmt.Errorf("online: IVA alpha step %v not in (0, 1)", c.AlphaStep)
	}
	if c.WindowHops == 0 {
		c.WindowHops = defaultWindowHops
	}
	if c.WindowHops < 1 {
		return fmt.Errorf("online: IVA window of %d hops; need >= 1", c.WindowHops)
	}
	if c.SubspaceEvery == 0 {
		c.SubspaceEvery = defaultSubspaceEvery
	}
	if c.SubspaceEvery < 1 {
		return fmt.Errorf("online: IVA subspace refresh every %d spectra; need >= 1", c.SubspaceEvery)
	}
	if c.Track < 0 || (c.Track > 0 && c.Track.Seconds()*c.SpectraPerSecond < 2) {
		return fmt.Errorf("online: IVA tracking memory %v is shorter than 2 spectra", c.Track)
	}
	return nil
}

// memory is the steady-state memory in spectra.
func (c *IVAConfig) memory() float64 { return c.Memory.Seconds() * c.SpectraPerSecond }

// Numerical events of IVA. Err returns the first one seen (wrapped), and
// Events counts them all.
var (
	// ErrIVANonFinite: a spectrum held NaN or Inf; it was separated with
	// those entries set to 0 and not learnt from.
	ErrIVANonFinite = errors.New("online: IVA input spectrum not finite; zeroed and skipped")
	// ErrIVASingular: a bin's demixing matrix or statistics became singular
	// or non-finite; that bin was reset.
	ErrIVASingular = errors.New("online: IVA demixing matrix singular; bin reset")
	// ErrIVAAlpha: a source's α left its sane range and was reset.
	ErrIVAAlpha = errors.New("online: IVA alpha out of range; reset")
)

// IVAEvents counts numerical events since Prepare or Reset.
type IVAEvents struct {
	NonFinite int64 // spectra with NaN/Inf input
	Singular  int64 // bin resets (singular or non-finite W, V or projection)
	Alpha     int64 // α resets
	Silent    int64 // spectra too quiet (or too large to square) to learn from; not an error
	Quiet     int64 // spectra not learnt from because one channel was quiet; not an error
	Held      int64 // spectra not learnt from on request (HoldLearning: clipped input); not an error
	Excluded  int   // channels currently excluded as dead
}

// IVA is online independent vector analysis: a complex m×n demixing matrix
// per frequency bin, coupled across bins through each source's norm, so one
// source stays in one output in every bin without permutation alignment.
// It implements stream.Separator. See the package documentation for the
// maths.
type IVA struct {
	cfg  IVAConfig
	n, m int // mics, sources
	bins int
	red  bool // input is reduced/whitened by q

	// Per-bin state, flat: bin f's block starts at f·size.
	w     []complex128 // m×m demixing of the reduced input
	v     []complex128 // m × (m×m) weighted covariances (aux); NG: unused
	cov   []complex128 // n×n mixture covariance (red)
	eig   []complex128 // n×n eigenbasis of cov (red)
	q     []complex128 // m×n reduction Λ^{-1/2}Eᴴ (red)
	qlam  []float64    // m selected eigenvalues (red)
	scale []complex128 // m projection-back factors
	binv  []complex128 // m×m W⁻¹ (aux with m > 2), kept up to date by ipBin
	vinv  []complex128 // m × (m×m) kept (V_i+εI)⁻¹ (aux with m > 2; iva_fast.go)
	z     []complex128 // m reduced input of the current spectrum
	y     []complex128 // m outputs of the current spectrum

	alpha []float64
	r     []float64
	wt    []float64 // current weight per source
	wtOld []float64
	x     []complex128 // n sanitised input of one bin

	// scratch for the small linear algebra
	sa, sb, sc []complex128
	su, sr     []complex128

	t        int     // spectra learnt from
	subWarm  int     // spectra that only train the subspace, before W learns
	power    float64 // slow average of spectrum power, for the silence gate
	conv     float64 // smoothed relative change of W; < 0 before the first update
	alphaPub []atomic.Uint64
	convPub  atomic.Uint64
	chans    channelTrack // quiet and excluded channels (iva_channels.go)
	held     bool         // HoldLearning was called for the next spectrum
	track    *tracker     // scene tracking (Track > 0), else nil
	frozen   int          // the kept demixing row that does not learn (iva_keep.go); −1: none
	heldN    atomic.Int64

	nonFinite, singular, alphaEv, silent atomic.Int64
	first                                atomic.Pointer[error]
}

// NewIVA validates c, fills in its defaults and returns an IVA to be
// prepared with Prepare.
func NewIVA(c IVAConfig) (*IVA, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	return &IVA{cfg: c}, nil
}

// Config returns the configuration with defaults filled in.
func (s *IVA) Config() IVAConfig { return s.cfg }

// Prepare implements stream.Separator: it allocates all state for mics
// microphones and bins frequency bins and returns the number of sources.
func (s *IVA) Prepare(mics, bins int) (int, error) {
	if mics < 1 || mics > maxIVAMics {
		return 0, fmt.Errorf("online: IVA supports 1..%d microphones, got %d", maxIVAMics, mics)
	}
	if bins < 1 {
		return 0, fmt.Errorf("online: IVA needs at least 1 bin, got %d", bins)
	}
	m := s.cfg.Sources
	if m == 0 {
		m = mics
	}
	if m > mics {
		return 0, fmt.Errorf("online: IVA cannot separate %d sources from %d microphones", m, mics)
	}
	n := mics
	s.n, s.m, s.bins = n, m, bins
	s.red = m < n || s.cfg.Update == UpdateNG
	s.subWarm = 0
	if s.red {
		s.subWarm = subspaceWarm
	}
	s.w = make([]complex128, bins*m*m)
	s.v, s.binv, s.vinv = nil, nil, nil
	if s.cfg.Update == UpdateAux {
		s.v = make([]complex128, bins*m*m*m)
		if m > 2 {
			s.binv = make([]complex128, bins*m*m)
			s.vinv = make([]complex128, bins*m*m*m)
		}
	}
	if s.red {
		s.cov = make([]complex128, bins*n*n)
		s.eig = make([]complex128, bins*n*n)
		s.q = make([]complex128, bins*m*n)
		s.qlam = make([]float64, bins*m)
	} else {
		s.cov, s.eig, s.q, s.qlam = nil, nil, nil, nil
	}
	s.scale = make([]complex128, bins*m)

	s.z = make([]complex128, bins*m)
	s.y = make([]complex128, bins*m)
	s.alpha = make([]float64, m)
	s.r = make([]float64, m)
	s.wt = make([]float64, m)
	s.wtOld = make([]float64, m)
	s.x = make([]complex128, n)
	k := max(n, m)
	s.sa = make([]complex128, k*k)
	s.sb = make([]complex128, k*k)
	s.sc = make([]complex128, k*k)
	s.su = make([]complex128, k)
	s.sr = make([]complex128, k)
	s.alphaPub = make([]atomic.Uint64, m)
	s.prepareChannels()
	if err := s.prepareTrack(); err != nil {
		return 0, err
	}
	s.Reset()
	return m, nil
}

// Reset implements stream.Separator: it forgets all adaptation (W = I,
// statistics cleared, α unset) and clears the events and Err.
func (s *IVA) Reset() {
	if s.w == nil {
		return
	}
	m, n := s.m, s.n
	for f := 0; f < s.bins; f++ {
		s.resetBin(f)
		if s.red {
			c := s.cov[f*n*n : (f+1)*n*n]
			e := s.eig[f*n*n : (f+1)*n*n]
			clear(c)
			clear(e)
			for i := 0; i < n; i++ {
				e[i*n+i] = 1
			}
			// Until the first eigen-refresh, pass the first m mics through.
			q := s.q[f*m*n : (f+1)*m*n]
			clear(q)
			for i := 0; i < m; i++ {
				q[i*n+i] = 1
				s.qlam[f*m+i] = 1
			}
		}
	}
	clear(s.alpha)
	s.t = 0
	s.frozen = -1
	s.resetChannels()
	s.held = false
	s.heldN.Store(0)
	s.power = 0
	s.conv = -1 // unset: Convergence reports 1 until the first update
	s.convPub.Store(math.Float64bits(1))
	for i := range s.alphaPub {
		s.alphaPub[i].Store(0)
	}
	s.nonFinite.Store(0)
	s.singular.Store(0)
	s.alphaEv.Store(0)
	s.silent.Store(0)
	s.first.Store(nil)
	if s.track != nil {
		s.track.reset()
	}
}

// resetBin sets bin f's demixing to the identity and clears its weighted
// covariances.
func (s *IVA) resetBin(f int) {
	m := s.m
	w := s.w[f*m*m : (f+1)*m*m]
	clear(w)
	for i := 0; i < m; i++ {
		w[i*m+i] = 1
	}
	if s.v != nil {
		clear(s.v[f*m*m*m : (f+1)*m*m*m])
	}
	if s.binv != nil {
		b := s.binv[f*m*m : (f+1)*m*m]
		clear(b)
		for i := 0; i < m; i++ {
			b[i*m+i] = 1
		}
	}
}

// HoldLearning implements stream.LearningHolder: the next spectrum is
// separated with the current demixing but not learnt from.
func (s *IVA) HoldLearning() { s.held = true }

// Err implements stream.Separator: the first numerical event since Prepare
// or Reset, or nil.
func (s *IVA) Err() error {
	if e := s.first.Load(); e != nil {
		return *e
	}
	if s.track != nil {
		return s.track.fast.Err()
	}
	return nil
}

// Events returns the event counts since Prepare or Reset. It may be called
// from any goroutine.
func (s *IVA) Events() IVAEvents {
	return IVAEvents{
		NonFinite: s.nonFinite.Load(),
		Singular:  s.singular.Load(),
		Alpha:     s.alphaEv.Load(),
		Silent:    s.silent.Load(),
		Quiet:     s.chans.quiet.Load(),
		Held:      s.heldN.Load(),
		Excluded:  int(s.chans.nDeadPub.Load()),
	}
}

// Sources is m, valid after Prepare.
func (s *IVA) Sources() int { return s.m }

// AlphaTo copies the current α of each source into dst (len ≥ Sources) and
// returns dst[:Sources]. 0 means not yet set. It may be called from any
// goroutine (a monitor); it does not allocate.
func (s *IVA) AlphaTo(dst []float64) []float64 {
	dst = dst[:len(s.alphaPub)]
	for i := range dst {
		dst[i] = math.Float64frombits(s.alphaPub[i].Load())
	}
	return dst
}

// Convergence is the relative change of the demixing per spectrum,
// (1/F)·Σ_f ‖ΔW_f‖²/‖W_f‖², smoothed over about 50 spectra; 1 before the
// first update. It falls by orders of magnitude while IVA settles (with
// the default warm-up each spectrum moves the statistics by 1/t, so aux
// falls roughly as 1/t², to about 1e-5 after 10 s of speech at
// 62.5 spectra/s; ng to about 5e-5), so a monitor should watch its trend
// rather than a fixed threshold. It may be called from any goroutine.
func (s *IVA) Convergence() float64 { return math.Float64frombits(s.convPub.Load()) }

var (
	errIVANonFinite = ErrIVANonFinite
	errIVASingular  = ErrIVASingular
	errIVAAlpha     = ErrIVAAlpha
)

func (s *IVA) event(c *atomic.Int64, e *error) {
	c.Add(1)
	s.first.CompareAndSwap(nil, e)
}
