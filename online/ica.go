package online

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/livesep/livesep/stream"
)

// ICAConfig configures ICA, the real-valued time-domain separator of
// instantaneous mixtures. The zero value of every field selects the
// documented default; NewICA fills them in.
type ICAConfig struct {
	// Sources is m, the number of outputs; 0 means one per input channel.
	// With fewer sources than channels the input is first reduced to its
	// m-dimensional principal subspace (tracked online).
	Sources int
	// Block is the number of frames per update of W and α (the ⟨·⟩ of the
	// update rules). It does not add latency: every frame is separated with
	// the W of the moment. Default 64.
	Block int
	// Update selects the learning rule (default UpdateAux; the type is
	// shared with IVA). Both maximise the same likelihood (see ICA):
	//   - UpdateAux: running weighted covariances, forgotten with time
	//     constant Memory, and iterative-projection (auxiliary-function)
	//     updates. No step size; converges in a fraction of a second.
	//   - UpdateNG: the seed's natural gradient on each block, with the
	//     normalised step μ/(1+μ‖I−⟨φ(y)yᵀ⟩‖) and μ annealed from StepSize
	//     to MinStepSize with time constant Anneal.
	Update Update
	// Memory is the time constant of the running statistics (aux weighted
	// covariances, principal-subspace covariance, input power). Default 1 s.
	Memory time.Duration
	// Warmup is the growth of the memory, in blocks per block seen, at the
	// start: the memory is min(Memory, 1+Warmup·(k−1) blocks) after k
	// learnt blocks, so early blocks weighted with a poor W are forgotten
	// quickly. Default 0.5.
	Warmup float64
	// StepSize is μ of the natural gradient at the start (UpdateNG only).
	// Default 0.2.
	StepSize float64
	// MinStepSize is the floor μ decays to (UpdateNG only). Default 0.003.
	MinStepSize float64
	// Anneal is the time constant of μ's decay, counted in learnt audio
	// (UpdateNG only). Default 1 s.
	Anneal time.Duration
	// AlphaStep is μ_α, the step of the α update. With UpdateNG it is
	// annealed in proportion to μ. Default 0.1.
	AlphaStep float64
}

const (
	icaDefaultBlock       = 64
	icaDefaultMemory      = time.Second
	icaDefaultWarmup      = 0.5
	icaDefaultStepSize    = 0.2
	icaDefaultMinStepSize = 0.003
	icaDefaultAnneal      = time.Second
	icaDefaultAlphaStep   = 0.1
	icaMaxChannels        = 32
	icaMaxBlock           = 1 << 16

	// icaAlpha0 is the α of a unit-variance logistic density (variance
	// π²/(3α²)); the initial whitening makes the outputs unit-variance.
	icaAlpha0 = math.Pi / 1.7320508075688772
	// icaWhitenLoad is the diagonal loading, relative to the mean
	// eigenvalue, of the covariance whose inverse square root starts W.
	// The first block often holds one active source only; without loading
	// the silent direction would be amplified without bound.
	icaWhitenLoad = 1e-2
	// icaRidge is the relative loading of the statistics that are inverted
	// on every update (aux V_i, subspace covariance): it keeps a dead or
	// duplicated channel solvable and costs nothing measurable (−180 dB).
	icaRidge = 1e-9
	// icaGate: a block more than 30 dB below the running input power is
	// separated but not learnt from (speech pauses carry no information on
	// the mixing, and the aux weights would favour their noise); so is one
	// more than 30 dB above it (a burst would dominate the statistics for
	// many seconds).
	icaGate    = 1e-3
	icaGateLog = 6.907755278982137 // −ln(icaGate)
	// icaFloor is the mean-square power below which a block is digital
	// silence whatever the running power.
	icaFloor = 1e-20
	// icaAlphaMin and icaAlphaMax bound α_i·rms(y_i); outside, α_i is reset.
	icaAlphaMin = 1e-3
	icaAlphaMax = 1e3
	// icaHadamard is the smallest |det W|/Π‖w_i‖ accepted: below it two
	// outputs are about to extract the same source.
	icaHadamard = 1e-6
)

func (c *ICAConfig) fill() error {
	if c.Sources < 0 || c.Sources > icaMaxChannels {
		return fmt.Errorf("online: ICA sources %d out of range 0..%d", c.Sources, icaMaxChannels)
	}
	if c.Block == 0 {
		c.Block = icaDefaultBlock
	}
	if c.Block < 2 || c.Block > icaMaxBlock {
		return fmt.Errorf("online: ICA block %d frames out of range 2..%d", c.Block, icaMaxBlock)
	}
	if c.Update != UpdateAux && c.Update != UpdateNG {
		return fmt.Errorf("online: ICA update %d unknown (want UpdateAux or UpdateNG)", int(c.Update))
	}
	if c.Memory == 0 {
		c.Memory = icaDefaultMemory
	}
	if c.Memory < 0 {
		return fmt.Errorf("online: ICA memory %v is negative", c.Memory)
	}
	if c.Warmup == 0 {
		c.Warmup = icaDefaultWarmup
	}
	if !(c.Warmup > 0) || math.IsInf(c.Warmup, 0) {
		return fmt.Errorf("online: ICA warmup %v not positive", c.Warmup)
	}
	if c.StepSize == 0 {
		c.StepSize = icaDefaultStepSize
	}
	if !(c.StepSize > 0 && c.StepSize <= 1) {
		return fmt.Errorf("online: ICA step size %v not in (0, 1]", c.StepSize)
	}
	if c.MinStepSize == 0 {
		c.MinStepSize = min(icaDefaultMinStepSize, c.StepSize)
	}
	if !(c.MinStepSize > 0 && c.MinStepSize <= c.StepSize) {
		return fmt.Errorf("online: ICA min step size %v not in (0, step size %v]", c.MinStepSize, c.StepSize)
	}
	if c.Anneal == 0 {
		c.Anneal = icaDefaultAnneal
	}
	if c.Anneal < 0 {
		return fmt.Errorf("online: ICA anneal %v is negative", c.Anneal)
	}
	if c.AlphaStep == 0 {
		c.AlphaStep = icaDefaultAlphaStep
	}
	if !(c.AlphaStep >= 0 && c.AlphaStep <= 1) {
		return fmt.Errorf("online: ICA alpha step %v not in [0, 1]", c.AlphaStep)
	}
	return nil
}

// Numerical events of ICA. Err returns the first one seen, and Events
// counts them all.
var (
	// ErrICANonFinite: an input frame held NaN or Inf; it was output as
	// silence and its block was not learnt from.
	ErrICANonFinite = errors.New("online: ICA input frame not finite; muted and skipped")
	// ErrICASingular: W, its projection back or the statistics became
	// singular or non-finite; ICA re-initialised itself from the next
	// block.
	ErrICASingular = errors.New("online: ICA demixing matrix singular; re-initialised")
	// ErrICAAlpha: a source's α left its sane range and was reset.
	ErrICAAlpha = errors.New("online: ICA alpha out of range; reset")
)

const (
	icaEvNone int32 = iota
	icaEvNonFinite
	icaEvSingular
	icaEvAlpha
)

// ICAEvents counts numerical events since Prepare or Reset.
type ICAEvents struct {
	NonFinite int64 // input frames with NaN/Inf, and output samples that overflowed
	Singular  int64 // re-initialisations (singular or non-finite W)
	Alpha     int64 // α resets
	Silent    int64 // blocks too quiet to learn from (not an error)
	Loud      int64 // blocks too far above the running level to learn from (not an error)
}

// ICA separates instantaneous (memoryless) mixtures x = A s of m sources
// on n ≥ m channels, sample by sample, with the adaptive-α logistic model
// of seed 000. Output i is source i as heard on channel 0 (projection
// back), so outputs keep the loudness and sign they have in the first
// channel. It implements stream.Processor.
//
// # Model
//
// y = W x̃, x̃ = g·x, where g = 1/√(running input power) so that W sees
// unit-order data whatever the input level. Each source has the logistic
// density p_i(y) = α_i σ(α_i y)(1−σ(α_i y)); per block of Block frames
//
//	log L = Σ_i Σ_k log p_i(y_ik) + t·log|det W|
//	φ_i(y) = −∂log p_i/∂y = α_i tanh(α_i y/2)
//	∂log L/∂W = t W^{-T} − φ(Y) X̃ᵀ,   natural gradient (I − ⟨φ(y)yᵀ⟩)·W
//	∂log L/∂α_i = t/α_i − Σ_k y_ik tanh(α_i y_ik/2)
//
// Only α_i·w_i is identifiable; α_i carries output i's scale. α takes the
// seed's gradient step preconditioned by α² (relative, Δα/α = μ_α α g) and
// normalised like the W step, so it stays positive at any data scale.
//
// # Update rules
//
// UpdateNG is the seed's rule: W ← W + μ_k/(1+μ_k‖H‖_F)·H·W with
// H = I − ⟨φ(y)yᵀ⟩ over the block, μ_k annealed from StepSize to
// MinStepSize; an output that is silent in a block (30 dB under its running
// power) keeps its row and α for that block.
//
// UpdateAux (default) maximises the same likelihood by the auxiliary
// function method: since φ(y)/y = α tanh(αy/2)/y decreases in |y|,
// log p(y) ≥ −β(y₀)y²/2 + const with β = φ/y, which gives running weighted
// covariances V_i ← λV_i + (1−λ)⟨β_i(y_i) x̃x̃ᵀ⟩ and, row by row, the exact
// maximiser w_i = (W V_i)^{-1} e_i, w_iᵀV_iw_i = 1 (iterative projection,
// Ono 2011). Its fixed points are those of the natural gradient
// (⟨φ(y)yᵀ⟩ = I); it needs no step size and converges in a fraction of a
// second. λ follows Memory, with the Warmup ramp at the start.
//
// With m < n, both rules work in the m-dimensional principal subspace of a
// running covariance (Jacobi eigendecomposition per block); W's rows are
// projected onto the current subspace each block, so the basis may rotate
// freely. W starts at the (loaded) inverse square root of the first learnt
// block's covariance.
//
// # Latency and real-time contract
//
// Latency is 0: each frame is separated with the W of the moment, and W
// changes only at block boundaries, so the output does not depend on how
// the input is cut into Process calls. Prepare allocates everything;
// Process does not allocate, lock or block, and panics only on mismatched
// slice lengths.
//
// # Numerical events
//
// NaN/Inf input frames are output as silence and their block is not
// learnt; blocks 30 dB below or above the running level are separated but
// not learnt (bursts would otherwise dominate the statistics for seconds);
// a singular or non-finite W (Hadamard ratio |det W|/Π‖w_i‖ < 1e-6) makes
// ICA start again from the next block; α_i·rms(y_i) outside [1e-3, 1e3]
// resets α_i. Each event is counted (Events) and the first is kept (Err).
//
// # Concurrency
//
// Like every Processor, an ICA is driven by one goroutine; Err and Events
// may be called from any goroutine, the other accessors only between
// Process calls.
//
// # Why hand-written
//
// The matrices are tiny (n ≤ 32) and touched once per block; gonum's mat
// allocates and is no fit for the real-time path. The LU solve, the
// Jacobi eigensolver and the products are a few dozen lines each, and the
// tests check them against gonum.
type ICA struct {
	cfg      ICAConfig
	prepared bool
	n, m     int
	rate     stream.Rate

	lam      float64 // forgetting factor per block at full memory
	annealBk float64 // Anneal in blocks

	core icaCore
	out  []float64 // m×n: output matrix diag(p)·W
	xb   []float64 // Block×n, frame-major: the block being filled
	fill int

	tainted   bool    // the block being filled had a non-finite frame
	logPower  float64 // log of the running mean-square input power
	havePower bool
	gain      float64 // 1/√power at the last learnt block: W acts on gain·x
	learnt    int     // blocks learnt since (re)initialisation

	nNonFinite, nSingular, nAlpha, nSilent, nLoud atomic.Int64
	first                                         atomic.Int32
}

// NewICA validates c, fills in its defaults and returns an ICA ready for
// Prepare.
func NewICA(c ICAConfig) (*ICA, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	return &ICA{cfg: c}, nil
}

// Config returns the configuration with its defaults filled in.
func (p *ICA) Config() ICAConfig { return p.cfg }

// Prepare sizes all state for s.Channels input channels and returns the
// number of sources. It allocates; Process does not.
func (p *ICA) Prepare(s stream.Spec) (int, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	n := s.Channels
	if n > icaMaxChannels {
		return 0, fmt.Errorf("online: ICA supports at most %d channels, got %d", icaMaxChannels, n)
	}
	m := p.cfg.Sources
	if m == 0 {
		m = n
	}
	if m > n {
		return 0, fmt.Errorf("online: ICA with %d sources needs at least %d channels, got %d", m, m, n)
	}
	p.n, p.m, p.rate = n, m, s.Rate
	B := p.cfg.Block
	memBlocks := p.cfg.Memory.Seconds() * float64(s.Rate) / float64(B)
	p.lam = 0
	if memBlocks > 1 {
		p.lam = 1 - 1/memBlocks
	}
	p.annealBk = p.cfg.Anneal.Seconds() * float64(s.Rate) / float64(B)
	p.core.init(n, m, B, p.cfg.Update)
	p.out = make([]float64, m*n)
	p.xb = make([]float64, B*n)
	p.prepared = true
	p.Reset()
	return m, nil
}

// Reset forgets everything learnt (W, α, statistics, input power) and the
// events, and keeps the allocations.
func (p *ICA) Reset() {
	if !p.prepared {
		return
	}
	p.fill = 0
	p.tainted = false
	p.logPower, p.havePower = 0, false
	p.reinit()
	p.nNonFinite.Store(0)
	p.nSingular.Store(0)
	p.nAlpha.Store(0)
	p.nSilent.Store(0)
	p.nLoud.Store(0)
	p.first.Store(icaEvNone)
}

// reinit returns W and α to their start: W = [I 0], so until the first
// learnt block output 0 is channel 0 and the others are silent.
func (p *ICA) reinit() {
	p.learnt = 0
	p.gain = 1
	p.core.identity()
	clear(p.out)
	p.out[0] = 1
}

// Latency is 0: each frame is separated with the current W as it arrives;
// W changes only between frames.
func (p *ICA) Latency() int { return 0 }

// Sources returns m, the number of outputs (valid after Prepare).
func (p *ICA) Sources() int { return p.m }

// Err returns the first numerical event since Prepare or Reset, or nil.
func (p *ICA) Err() error {
	switch p.first.Load() {
	case icaEvNonFinite:
		return ErrICANonFinite
	case icaEvSingular:
		return ErrICASingular
	case icaEvAlpha:
		return ErrICAAlpha
	}
	return nil
}

// Events counts the numerical events since Prepare or Reset.
func (p *ICA) Events() ICAEvents {
	return ICAEvents{
		NonFinite: p.nNonFinite.Load(),
		Singular:  p.nSingular.Load(),
		Alpha:     p.nAlpha.Load(),
		Silent:    p.nSilent.Load(),
		Loud:      p.nLoud.Load(),
	}
}

// DemixingTo copies the current m×n demixing matrix W (y = W x on the raw
// input, so α applies to these y only up to the input normalisation) into dst, allocating it if it is nil or mis-shaped, and returns it.
func (p *ICA) DemixingTo(dst [][]float64) [][]float64 {
	if len(dst) != p.m {
		dst = make([][]float64, p.m)
	}
	for i := range dst {
		if len(dst[i]) != p.n {
			dst[i] = make([]float64, p.n)
		}
		for j := range dst[i] {
			dst[i][j] = p.core.w[i*p.n+j] * p.gain
		}
	}
	return dst
}

// AlphaTo copies the current α (one per source) into dst, allocating it if
// it is too short, and returns it.
func (p *ICA) AlphaTo(dst []float64) []float64 {
	if len(dst) < p.m {
		dst = make([]float64, p.m)
	}
	dst = dst[:p.m]
	copy(dst, p.core.alpha)
	return dst
}

func (p *ICA) event(c *atomic.Int64, code int32, k int64) {
	c.Add(k)
	p.first.CompareAndSwap(icaEvNone, code)
}

// Process separates src (n channels) into dst (m sources). Blocks of any
// length are accepted; W is updated every Block frames.
func (p *ICA) Process(dst, src [][]float32) {
	if !p.prepared {
		panic("online: ICA.Process called before Prepare")
	}
	if len(src) != p.n {
		panic("online: ICA.Process: src channel count differs from Prepare")
	}
	if len(dst) != p.m {
		panic("online: ICA.Process: dst channel count differs from the number of sources")
	}
	frames := len(src[0])
	for _, s := range src {
		if len(s) != frames {
			panic("online: ICA.Process: src channels differ in length")
		}
	}
	for _, d := range dst {
		if len(d) != frames {
			panic("online: ICA.Process: dst length differs from src")
		}
	}
	n, m := p.n, p.m
	for k := 0; k < frames; k++ {
		x := p.xb[p.fill*n : p.fill*n+n]
		ok := true
		for c := range x {
			v := float64(src[c][k])
			if v-v != 0 { // NaN or ±Inf
				ok = false
			}
			x[c] = v
		}
		if !ok {
			clear(x)
			p.tainted = true
			p.event(&p.nNonFinite, icaEvNonFinite, 1)
		}
		for i := 0; i < m; i++ {
			row := p.out[i*n : i*n+n]
			s := 0.0
			for c, xc := range x {
				s += row[c] * xc
			}
			f := float32(s)
			if f-f != 0 { // overflowed float32
				f = 0
				p.event(&p.nNonFinite, icaEvNonFinite, 1)
			}
			dst[i][k] = f
		}
		p.fill++
		if p.fill == p.cfg.Block {
			p.endBlock()
		}
	}
}

// endBlock learns from the block just completed and refreshes the output
// matrix for the frames that follow.
func (p *ICA) endBlock() {
	B := p.cfg.Block
	p.fill = 0
	if p.tainted {
		p.tainted = false
		return
	}
	bp := 0.0
	for _, v := range p.xb {
		bp += v * v
	}
	bp /= float64(len(p.xb))
	if !(bp > icaFloor) {
		p.nSilent.Add(1)
		return
	}
	// The running (log) level moves towards each block's level by at
	// most icaGateLog per block's worth of forgetting: a burst or a dropout
	// moves it little, a real change of level is followed in about a
	// second. Blocks more than 30 dB from it are separated, not learnt.
	lb := math.Log(bp)
	if !p.havePower {
		p.logPower, p.havePower = lb, true
	}
	d := lb - p.logPower
	// Its memory grows like the statistics' (Warmup), so the level of the
	// first blocks, often a breath of noise before speech, is soon left.
	wp := max(1-p.lam, 1/(1+p.cfg.Warmup*float64(p.learnt)))
	p.logPower += wp * max(-icaGateLog, min(icaGateLog, d))
	if d < -icaGateLog {
		p.nSilent.Add(1)
		return
	}
	if d > icaGateLog {
		p.nLoud.Add(1)
		return
	}
	p.learnt++
	// W acts on the input scaled to unit running power, x̃ = g·x with
	// g = 1/√power: the natural gradient then sees outputs of unit order
	// whatever the input level, and the thresholds are absolute. The output
	// matrix does not depend on g (see projection).
	p.gain = math.Exp(-p.logPower / 2)
	for i := range p.xb {
		p.xb[i] *= p.gain
	}
	lam := 0.0
	if p.learnt == 1 {
		p.core.whiten(p.xb, B, icaWhitenLoad)
	} else {
		// memory in blocks: min(1/(1−λ), 1 + Warmup·(k−1))
		mem := 1 + p.cfg.Warmup*float64(p.learnt-1)
		lam = min(p.lam, 1-1/mem)
	}
	mu, muA := 0.0, p.cfg.AlphaStep
	if p.cfg.Update == UpdateNG {
		c := p.cfg
		decay := 0.0
		if p.annealBk > 0 {
			decay = math.Exp(-float64(p.learnt-1) / p.annealBk)
		}
		mu = c.MinStepSize + (c.StepSize-c.MinStepSize)*decay
		muA = c.AlphaStep * mu / c.StepSize
	}
	ok, resets := p.core.update(p.xb, B, lam, mu, muA)
	if resets > 0 {
		p.event(&p.nAlpha, icaEvAlpha, int64(resets))
	}
	if ok {
		// y = W·(g·x) and the image on channel 0 is p_i·y_i/g: the gain
		// cancels, out = diag(p)·W.
		ok = p.core.projection(p.out)
	}
	if !ok {
		p.event(&p.nSingular, icaEvSingular, 1)
		p.reinit()
	}
}

// icaCore holds W, α and the statistics, and does one update on a block
// of frames. The online ICA and FitBatch share it, so the batch result and
// the online step are the same code.
type icaCore struct {
	n, m int
	upd  Update

	w     []float64 // m×n demixing in input coordinates
	alpha []float64 // m
	v     []float64 // m×n×n aux weighted covariances (input coordinates)
	cov   []float64 // n×n input covariance (m < n only)
	q     []float64 // m×n principal-subspace whitening (m < n only)
	qp    []float64 // n×m its pseudo-inverse (m < n only)
	wr    []float64 // m×m demixing in the reduced space (= w when m = n)

	y     []float64 // m×frames outputs of the block
	th    []float64 // m×frames tanh(α_i y_i/2)
	hm    []float64 // m×m: H = I − ⟨φ(y)yᵀ⟩, also scratch
	vz    []float64 // m×m reduced V_i
	lu    []float64 // m×m LU scratch
	tmm   []float64 // m×m scratch
	tmn   []float64 // m×n scratch
	u     []float64 // m
	ga    []float64 // m: (1/t)·∂logL/∂α_i = 1/α_i − ⟨y_i tanh(α_i y_i/2)⟩
	ms    []float64 // m: ⟨y_i²⟩
	pw    []float64 // m: running ⟨y_i²⟩ (UpdateNG)
	quiet []bool    // m: output i silent in this block (UpdateNG)
	jacA  []float64 // n×n Jacobi scratch
	jacV  []float64 // n×n eigenvectors
	eval  []float64 // n
	order []int     // n
	piv   []int     // m
}

func (c *icaCore) init(n, m, frames int, upd Update) {
	c.n, c.m, c.upd = n, m, upd
	c.w = make([]float64, m*n)
	c.alpha = make([]float64, m)
	if upd == UpdateAux {
		c.v = make([]float64, m*n*n)
	}
	c.cov = make([]float64, n*n)
	c.q = make([]float64, m*n)
	c.qp = make([]float64, n*m)
	c.wr = make([]float64, m*m)
	c.y = make([]float64, m*frames)
	c.th = make([]float64, m*frames)
	c.hm = make([]float64, m*m)
	c.vz = make([]float64, m*m)
	c.lu = make([]float64, m*m)
	c.tmm = make([]float64, m*m)
	c.tmn = make([]float64, m*n)
	c.u = make([]float64, m)
	c.ga = make([]float64, m)
	c.ms = make([]float64, m)
	c.pw = make([]float64, m)
	c.quiet = make([]bool, m)
	c.jacA = make([]float64, n*n)
	c.jacV = make([]float64, n*n)
	c.eval = make([]float64, n)
	c.order = make([]int, n)
	c.piv = make([]int, m)
}

// identity sets W = [I 0], α = α0 and clears the statistics.
func (c *icaCore) identity() {
	clear(c.w)
	for i := 0; i < c.m; i++ {
		c.w[i*c.n+i] = 1
	}
	for i := range c.alpha {
		c.alpha[i] = icaAlpha0
	}
	clear(c.v)
	clear(c.cov)
	clear(c.pw)
	clear(c.quiet)
}

// covTo writes (1/t)·Σ x xᵀ of the frame-major block x (t×n) into dst.
func icaCovTo(dst, x []float64, n, t int) {
	clear(dst)
	for k := 0; k < t; k++ {
		xk := x[k*n : k*n+n]
		for a := 0; a < n; a++ {
			xa := xk[a]
			row := dst[a*n : a*n+n]
			for b := a; b < n; b++ {
				row[b] += xa * xk[b]
			}
		}
	}
	inv := 1 / float64(t)
	for a := 0; a < n; a++ {
		for b := a; b < n; b++ {
			dst[a*n+b] *= inv
			dst[b*n+a] = dst[a*n+b]
		}
	}
}

// eig diagonalises the symmetric n×n matrix a (copied) loaded by
// load·trace/n, leaving eigenvalues in c.eval, eigenvectors in the columns
// of c.jacV and c.order sorted by decreasing eigenvalue. It reports false
// if the trace is not positive and finite.
func (c *icaCore) eig(a []float64, load float64) bool {
	n := c.n
	tr := 0.0
	for i := 0; i < n; i++ {
		tr += a[i*n+i]
	}
	if !(tr > 0) || math.IsInf(tr, 0) {
		return false
	}
	copy(c.jacA, a)
	for i := 0; i < n; i++ {
		c.jacA[i*n+i] += load * tr / float64(n)
	}
	icaJacobi(c.jacA, c.jacV, n)
	for i := 0; i < n; i++ {
		c.eval[i] = math.Max(c.jacA[i*n+i], icaRidge*tr/float64(n))
		c.order[i] = i
	}
	for i := 1; i < n; i++ { // insertion sort, decreasing
		for j := i; j > 0 && c.eval[c.order[j]] > c.eval[c.order[j-1]]; j-- {
			c.order[j], c.order[j-1] = c.order[j-1], c.order[j]
		}
	}
	return true
}

// whiten starts W from the (loaded) inverse square root of the block's
// covariance: symmetric C^{-1/2} when m = n, the principal-subspace
// whitening Λ_m^{-1/2}E_mᵀ when m < n. α and the statistics restart.
func (c *icaCore) whiten(x []float64, t int, load float64) {
	n, m := c.n, c.m
	c.identity()
	icaCovTo(c.cov, x, n, t)
	if !c.eig(c.cov, load) {
		return
	}
	V := c.jacV
	if m == n {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for k := 0; k < n; k++ {
					s += V[i*n+k] * V[j*n+k] / math.Sqrt(c.eval[k])
				}
				c.w[i*n+j] = s
			}
		}
		return
	}
	for i := 0; i < m; i++ {
		k := c.order[i]
		g := 1 / math.Sqrt(c.eval[k])
		for j := 0; j < n; j++ {
			c.w[i*n+j] = V[j*n+k] * g
		}
	}
}

// subspace refreshes q, qp from c.cov (m < n only).
func (c *icaCore) subspace() bool {
	n, m := c.n, c.m
	if !c.eig(c.cov, icaRidge) {
		return false
	}
	V := c.jacV
	for i := 0; i < m; i++ {
		k := c.order[i]
		s := math.Sqrt(c.eval[k])
		for j := 0; j < n; j++ {
			c.q[i*n+j] = V[j*n+k] / s
			c.qp[j*m+i] = V[j*n+k] * s
		}
	}
	return true
}

// update learns from the frame-major block x (t×n): the running
// statistics are forgotten by lam (0 = this block only), then W and α take
// one step (mu is the natural-gradient μ, unused by aux; muA is μ_α). It
// reports whether W stayed finite, and how many α were reset.
func (c *icaCore) update(x []float64, t int, lam, mu, muA float64) (ok bool, resets int) {
	n, m := c.n, c.m
	reduced := m < n
	// 1. Reduced space: wr = W·Q⁺ and W ← wr·Q (W's rows projected onto
	// the current principal subspace).
	if reduced {
		icaCovTo(c.jacA, x, n, t) // jacA is free until eig
		for i := range c.cov {
			c.cov[i] = lam*c.cov[i] + (1-lam)*c.jacA[i]
		}
		if !c.subspace() {
			return false, 0
		}
		icaMulTo(c.wr, c.w, c.qp, m, n, m)
		icaMulTo(c.w, c.wr, c.q, m, m, n)
	} else {
		copy(c.wr, c.w)
	}
	// 2. Outputs of the block, and the statistics both rules need.
	y := c.y[:m*t]
	for k := 0; k < t; k++ {
		xk := x[k*n : k*n+n]
		for i := 0; i < m; i++ {
			row := c.w[i*n : i*n+n]
			s := 0.0
			for j, xj := range xk {
				s += row[j] * xj
			}
			y[i*t+k] = s
		}
	}
	for i := 0; i < m; i++ {
		yi := y[i*t : i*t+t]
		s2 := 0.0
		for _, v := range yi {
			s2 += v * v
		}
		c.ms[i] = s2 / float64(t)
		// α's range check against the output's scale, before α is used:
		// only α_i·w_i matters, so α_i·rms(y_i) is what must stay sane.
		a, rms := c.alpha[i], math.Sqrt(c.ms[i])
		if !(a > 0) || math.IsInf(a, 0) || rms > 0 && !(a*rms >= icaAlphaMin && a*rms <= icaAlphaMax) {
			c.alpha[i] = icaAlpha0
			if rms > 0 {
				c.alpha[i] = icaAlpha0 / rms
			}
			resets++
		}
		ti := c.th[i*t : i*t+t]
		icaTanhTo(ti, yi, c.alpha[i])
		c.ga[i] = icaAlphaGrad(c.alpha[i], yi, ti)
	}
	// 3. The W step.
	switch c.upd {
	case UpdateNG:
		icaNaturalTo(c.hm, y, c.th[:m*t], c.alpha, m, t)
		// An output more than 30 dB below its running power is a source
		// that is silent in this block: its row learns nothing (its φ is
		// noise times a large α, and the step would throw its row around).
		for i := 0; i < m; i++ {
			c.quiet[i] = c.pw[i] > 0 && c.ms[i] < icaGate*c.pw[i]
			if c.pw[i] == 0 || lam == 0 {
				c.pw[i] = c.ms[i]
			} else {
				c.pw[i] = lam*c.pw[i] + (1-lam)*c.ms[i]
			}
			if c.quiet[i] {
				clear(c.hm[i*m : i*m+m])
			}
		}
		hn := 0.0
		for _, h := range c.hm {
			hn += h * h
		}
		step := mu / (1 + mu*math.Sqrt(hn))
		icaMulTo(c.tmm, c.hm, c.wr, m, m, m)
		for i := range c.wr {
			c.wr[i] += step * c.tmm[i]
		}
	case UpdateAux:
		for i := 0; i < m; i++ {
			c.accumulate(i, x, y[i*t:i*t+t], c.th[i*t:i*t+t], t, lam)
		}
		for i := 0; i < m; i++ {
			if !c.project(i) {
				return false, 0
			}
		}
	}
	// 4. The α step.
	for i := 0; i < m; i++ {
		if c.quiet[i] {
			continue
		}
		a := c.alpha[i]
		// The seed's gradient scaled by α² (the natural gradient for a
		// scale parameter, so the step is relative: Δα/α = μ_α·α·g) and
		// normalised like the W step so that α stays positive.
		h := muA * a * c.ga[i]
		a *= 1 + h/(1+math.Abs(h))
		if !(a > 0) || math.IsInf(a, 0) {
			a = icaAlpha0
			resets++
		}
		c.alpha[i] = a
	}
	// 5. Back to input coordinates.
	if reduced {
		icaMulTo(c.w, c.wr, c.q, m, m, n)
	} else {
		copy(c.w, c.wr)
	}
	for _, v := range c.w {
		if v-v != 0 {
			return false, resets
		}
	}
	return true, resets
}

// accumulate adds the block's weighted covariance of source i to V_i:
// V_i ← lam·V_i + (1−lam)·⟨β_i(y_i) x xᵀ⟩, β(y) = φ(y)/y.
func (c *icaCore) accumulate(i int, x, yi, ti []float64, t int, lam float64) {
	n := c.n
	V := c.v[i*n*n : (i+1)*n*n]
	for k := range V {
		V[k] *= lam
	}
	a := c.alpha[i]
	g := (1 - lam) / float64(t)
	for k := 0; k < t; k++ {
		b := g * icaWeightTanh(a, yi[k], ti[k])
		xk := x[k*n : k*n+n]
		for r := 0; r < n; r++ {
			bx := b * xk[r]
			row := V[r*n : r*n+n]
			for s := r; s < n; s++ {
				row[s] += bx * xk[s]
			}
		}
	}
	for r := 0; r < n; r++ {
		for s := r + 1; s < n; s++ {
			V[s*n+r] = V[r*n+s]
		}
	}
}

// project is the iterative-projection step for row i: with U = V_i in the
// reduced space, w_i = (W U)^{-1} e_i, scaled so that w_iᵀ U w_i = 1. It is
// the exact maximiser over w_i of the auxiliary function that touches the
// log-likelihood at the current W (Ono 2011).
func (c *icaCore) project(i int) bool {
	n, m := c.n, c.m
	V := c.v[i*n*n : (i+1)*n*n]
	U := c.vz
	if m < n {
		icaMulTo(c.tmn, c.q, V, m, n, n)
		icaMulTransTo(U, c.tmn, c.q, m, n, m)
	} else {
		copy(U, V)
	}
	tr := 0.0
	for k := 0; k < m; k++ {
		tr += U[k*m+k]
	}
	if !(tr > 0) || math.IsInf(tr, 0) {
		return false
	}
	for k := 0; k < m; k++ {
		U[k*m+k] += icaRidge * tr / float64(m)
	}
	icaMulTo(c.tmm, c.wr, U, m, m, m)
	clear(c.u)
	c.u[i] = 1
	if _, ok := icaSolve(c.tmm, c.u, c.lu, c.piv, m, false); !ok {
		return false
	}
	qf := 0.0
	for r := 0; r < m; r++ {
		s := 0.0
		for k := 0; k < m; k++ {
			s += U[r*m+k] * c.u[k]
		}
		qf += c.u[r] * s
	}
	if !(qf > 0) || math.IsInf(qf, 0) {
		return false
	}
	g := 1 / math.Sqrt(qf)
	for k := 0; k < m; k++ {
		c.wr[i*m+k] = c.u[k] * g
	}
	return true
}

// projection writes out = diag(p)·W, p = row 0 of W⁺ (= (Q⁺ W_r^{-1})_0),
// so that output i is source i's image on channel 0. It reports false when
// W is near singular.
func (c *icaCore) projection(out []float64) bool {
	n, m := c.n, c.m
	for k := 0; k < m; k++ {
		if m < n {
			c.u[k] = c.qp[k] // row 0 of Q⁺
		} else {
			c.u[k] = 0
		}
	}
	if m == n {
		c.u[0] = 1
	}
	// Solve W_rᵀ p = u.
	det, ok := icaSolve(c.wr, c.u, c.lu, c.piv, m, true)
	if !ok {
		return false
	}
	h := math.Abs(det)
	for i := 0; i < m; i++ {
		s := 0.0
		for k := 0; k < m; k++ {
			s += c.wr[i*m+k] * c.wr[i*m+k]
		}
		h /= math.Sqrt(s)
	}
	if !(h > icaHadamard) {
		return false
	}
	for i := 0; i < m; i++ {
		p := c.u[i]
		if p-p != 0 {
			return false
		}
		for j := 0; j < n; j++ {
			out[i*n+j] = p * c.w[i*n+j]
		}
	}
	return true
}

// icaScore is φ(y) = −∂log p/∂y = α·tanh(αy/2) for the logistic density
// p(y) = α σ(αy)(1−σ(αy)).
func icaScore(alpha, y float64) float64 { return alpha * math.Tanh(alpha*y/2) }

// icaWeight is β(y) = φ(y)/y, the auxiliary-function weight; it decreases
// in |y| and tends to α²/2 at 0.
func icaWeight(alpha, y float64) float64 {
	return icaWeightTanh(alpha, y, math.Tanh(alpha*y/2))
}

// icaWeightTanh is icaWeight given th = tanh(αy/2), which the update has
// already computed for the score.
func icaWeightTanh(alpha, y, th float64) float64 {
	u := alpha * y / 2
	if math.Abs(u) < 1e-4 {
		return alpha * alpha / 2 * (1 - u*u/3)
	}
	return alpha * th / y
}

// icaTanhTo writes th[k] = tanh(α·y[k]/2): φ = α·th, and the α gradient
// and the aux weights reuse it.
func icaTanhTo(th, y []float64, alpha float64) {
	for k, v := range y {
		th[k] = math.Tanh(alpha * v / 2)
	}
}

// icaLogDensity is log p(y) = log α + log σ'(αy), written to be exact for
// large |αy|: log σ'(u) = −|u| − 2·log(1+e^{−|u|}).
func icaLogDensity(alpha, y float64) float64 {
	u := math.Abs(alpha * y)
	return math.Log(alpha) - u - 2*math.Log1p(math.Exp(-u))
}

// icaAlphaGrad is (1/t)·∂logL/∂α = 1/α − ⟨y·tanh(αy/2)⟩ over the t
// outputs y of one source, th = tanh(αy/2) (seed 000: t/α + Σ(1−2σ(αy))·y,
// divided by t).
func icaAlphaGrad(alpha float64, y, th []float64) float64 {
	s := 0.0
	for k, v := range y {
		s += v * th[k]
	}
	return 1/alpha - s/float64(len(y))
}

// icaNaturalTo writes H = I − ⟨φ(y)yᵀ⟩ for the outputs y (m×t,
// source-major) with th = tanh(αy/2) laid out alike: the natural gradient
// is H·W.
func icaNaturalTo(h, y, th, alpha []float64, m, t int) {
	clear(h)
	for i := 0; i < m; i++ {
		a := alpha[i]
		ti := th[i*t : i*t+t]
		hi := h[i*m : i*m+m]
		for k, tk := range ti {
			f := a * tk
			for j := 0; j < m; j++ {
				hi[j] += f * y[j*t+k]
			}
		}
	}
	inv := 1 / float64(t)
	for i := range h {
		h[i] = -h[i] * inv
	}
	for i := 0; i < m; i++ {
		h[i*m+i]++
	}
}

// icaMulTo writes dst = a·b for a (r×k) and b (k×c), all row-major.
func icaMulTo(dst, a, b []float64, r, k, c int) {
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += a[i*k+l] * b[l*c+j]
			}
			dst[i*c+j] = s
		}
	}
}

// icaMulTransTo writes dst = a·bᵀ for a (r×k) and b (c×k).
func icaMulTransTo(dst, a, b []float64, r, k, c int) {
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += a[i*k+l] * b[j*k+l]
			}
			dst[i*c+j] = s
		}
	}
}

// icaSolve solves a·x = b (or aᵀ·x = b when trans) for the m×m matrix a by
// LU with partial pivoting in the scratch lu/piv, overwriting b with x. It
// returns det(a) and false when a pivot vanishes relative to a's size.
func icaSolve(a, b, lu []float64, piv []int, m int, trans bool) (float64, bool) {
	scale := 0.0
	for r := 0; r < m; r++ {
		for c := 0; c < m; c++ {
			v := a[r*m+c]
			if trans {
				v = a[c*m+r]
			}
			lu[r*m+c] = v
			scale = math.Max(scale, math.Abs(v))
		}
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return 0, false
	}
	tiny := scale * 1e-14
	det := 1.0
	for c := 0; c < m; c++ {
		p := c
		for r := c + 1; r < m; r++ {
			if math.Abs(lu[r*m+c]) > math.Abs(lu[p*m+c]) {
				p = r
			}
		}
		piv[c] = p
		if !(math.Abs(lu[p*m+c]) > tiny) {
			return 0, false
		}
		if p != c {
			det = -det
			for k := 0; k < m; k++ {
				lu[c*m+k], lu[p*m+k] = lu[p*m+k], lu[c*m+k]
			}
			b[c], b[p] = b[p], b[c]
		}
		d := lu[c*m+c]
		det *= d
		for r := c + 1; r < m; r++ {
			f := lu[r*m+c] / d
			if f == 0 {
				continue
			}
			lu[r*m+c] = f
			for k := c + 1; k < m; k++ {
				lu[r*m+k] -= f * lu[c*m+k]
			}
			b[r] -= f * b[c]
		}
	}
	for r := m - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < m; k++ {
			s -= lu[r*m+k] * b[k]
		}
		b[r] = s / lu[r*m+r]
	}
	return det, true
}

// icaJacobi diagonalises the symmetric n×n matrix a in place by cyclic
// Jacobi rotations (its diagonal ends as the eigenvalues) and writes the
// eigenvectors into the columns of v. n ≤ 32 and a few sweeps: cheaper
// and simpler than a general eigensolver, and allocation-free.
func icaJacobi(a, v []float64, n int) {
	clear(v)
	for i := 0; i < n; i++ {
		v[i*n+i] = 1
	}
	for sweep := 0; sweep < 50; sweep++ {
		off, diag := 0.0, 0.0
		for p := 0; p < n; p++ {
			diag += a[p*n+p] * a[p*n+p]
			for q := p + 1; q < n; q++ {
				off += a[p*n+q] * a[p*n+q]
			}
		}
		if off <= 1e-30*diag {
			return
		}
		for p := 0; p < n; p++ {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if apq == 0 {
					continue
				}
				theta := (a[q*n+q] - a[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				cs := 1 / math.Sqrt(t*t+1)
				sn := t * cs
				for k := 0; k < n; k++ {
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p] = cs*akp - sn*akq
					a[k*n+q] = sn*akp + cs*akq
				}
				for k := 0; k < n; k++ {
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k] = cs*apk - sn*aqk
					a[q*n+k] = sn*apk + cs*aqk
				}
				for k := 0; k < n; k++ {
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p] = cs*vkp - sn*vkq
					v[k*n+q] = sn*vkp + cs*vkq
				}
			}
		}
	}
}

// FitBatch runs the batch version of c's update rule on the whole of x
// (n channels × t samples; ⟨·⟩ is the mean over all samples) for iters
// iterations, starting from the whitening of x, and returns the m×n
// demixing matrix W (y = W x) and α. For UpdateNG the step is the
// normalised μ = StepSize/(1+StepSize·‖H‖), without annealing. It
// allocates and is meant for tests and offline use.
func (c ICAConfig) FitBatch(x [][]float64, iters int) (W [][]float64, alpha []float64, err error) {
	if err := c.fill(); err != nil {
		return nil, nil, err
	}
	n := len(x)
	if n == 0 || n > icaMaxChannels {
		return nil, nil, fmt.Errorf("online: ICA FitBatch needs 1..%d channels, got %d", icaMaxChannels, n)
	}
	t := len(x[0])
	if t < 2 {
		return nil, nil, fmt.Errorf("online: ICA FitBatch needs at least 2 samples, got %d", t)
	}
	m := c.Sources
	if m == 0 {
		m = n
	}
	if m > n {
		return nil, nil, fmt.Errorf("online: ICA with %d sources needs at least %d channels, got %d", m, m, n)
	}
	if iters < 0 {
		return nil, nil, fmt.Errorf("online: ICA FitBatch iterations %d is negative", iters)
	}
	xf := make([]float64, t*n)
	for ch, xc := range x {
		if len(xc) != t {
			return nil, nil, fmt.Errorf("online: ICA FitBatch channel %d has %d samples, channel 0 has %d", ch, len(xc), t)
		}
		for k, v := range xc {
			if v-v != 0 {
				return nil, nil, fmt.Errorf("online: ICA FitBatch channel %d sample %d is %v", ch, k, v)
			}
			xf[k*n+ch] = v
		}
	}
	var core icaCore
	core.init(n, m, t, c.Update)
	core.whiten(xf, t, icaRidge)
	for it := 0; it < iters; it++ {
		ok, _ := core.update(xf, t, 0, c.StepSize, c.AlphaStep)
		if !ok {
			return nil, nil, fmt.Errorf("online: ICA FitBatch: W became singular at iteration %d", it)
		}
	}
	W = make([][]float64, m)
	for i := range W {
		W[i] = append([]float64(nil), core.w[i*n:(i+1)*n]...)
	}
	return W, append([]float64(nil), core.alpha...), nil
}

var _ stream.Processor = (*ICA)(nil)
