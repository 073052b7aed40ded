package dict

import (
	"math"
	"time"
)

// fitDelta is δ in the fit's cost: it keeps √ differentiable at silence and
// sets how little a nearly silent band counts (normalised band units).
const fitDelta = 1e-3

// fitter is the per-stream inference state: the frontend, each class's
// latent code and the decoders' scratch. One fitter serves one mono stream
// (the mixture at mic 1, or one IVA output). Everything is allocated by
// newFitter; step does not allocate.
//
// For spectrum t it
//
//  1. runs the frontend (level-normalised bands X̄, encoder input u_t);
//  2. warm-starts each class's code from its encoder and from the previous
//     spectrum's fitted code: h_k = E_k(u_t) + Carry·(h*_{k,t−1} − E_k(u_{t−1}));
//  3. takes gradient steps on
//     J(h) = Σ_j (√(X̄_j+δ) − √(Y_j+δ))²,  Y_j = Σ_k Ŝ_kj,  Ŝ_k = D_k(h_k)²
//     (D_k gives square-root-compressed band magnitudes, so the sum is
//     taken where sources add — magnitudes — and compared where errors are
//     perceptually even — compressed), backtracking (halving the step and
//     returning to the best code) whenever J grows, until MaxSteps or the
//     deadline;
//  4. forms band masks M_k = (g_k·Ŝ_k)^p / Σ_i (g_i·Ŝ_i)^p from the best
//     code (g = the model's calibrated ClassGains).
type fitter struct {
	m      *Model
	k, b   int // classes, bands
	lat    int
	fe     *frontend
	in     []float32
	encT   *tape // encoders share one shape and run one after another
	decT   []*tape
	h      [][]float32 // current codes
	hAcc   [][]float32 // accepted (best) codes
	gAcc   [][]float32 // gradient at hAcc
	eNow   [][]float32 // E_k(u_t)
	ePrev  [][]float32 // E_k(u_{t−1}) (previous spectrum's warm start)
	cAcc   [][]float32 // D_k(hAcc): compressed magnitudes
	dc     []float32   // ∂J/∂c for one class
	sqX    []float32   // √(X̄+δ)
	y      []float32
	mask   [][]float32 // band masks
	energy []float64   // per class: Σ_j M_kj·b_j², this spectrum

	step     float32
	maxSteps int
	carry    float32
	power    float32
	gains    []float32 // per class g_k (model's ClassGains, or 1)
	started  bool
	lastJ0   float64 // J at the warm start (diagnostics/tests)
	lastJ    float64 // J at the accepted code
	lastStep int     // gradient steps taken for the last spectrum
	lastCut  bool    // the deadline stopped the last spectrum early

	// warmMasks (PostFilter): the masks, and energyW, come from a second
	// chain of codes that takes no latent steps,
	// hW_t = E(u_t) + carry·(hW_{t−1} − E(u_{t−1})), decoded into cW; the
	// fitted codes give energy. enableWarmMasks allocates them.
	warmMasks bool
	hW, cW    [][]float32
	energyW   []float64
}

// enableWarmMasks makes the masks come from the warm-start chain (see
// warmMasks). It allocates; call it before the first run.
func (f *fitter) enableWarmMasks() {
	f.warmMasks = true
	f.hW = alloc2f(f.k, f.lat)
	f.cW = alloc2f(f.k, f.b)
	f.energyW = make([]float64, f.k)
}

func newFitter(m *Model, cfg *SeparatorConfig) *fitter {
	k, b, lat := len(m.hdr.Classes), m.hdr.Bands, m.Latent()
	f := &fitter{
		m: m, k: k, b: b, lat: lat,
		fe:   newFrontend(m),
		in:   make([]float32, m.hdr.inputs()),
		encT: newTape(m.enc[0]),
		h:    alloc2f(k, lat), hAcc: alloc2f(k, lat), gAcc: alloc2f(k, lat),
		eNow: alloc2f(k, lat), ePrev: alloc2f(k, lat),
		cAcc: alloc2f(k, b), mask: alloc2f(k, b),
		dc: make([]float32, b), sqX: make([]float32, b), y: make([]float32, b),
		energy:   make([]float64, k),
		step:     float32(cfg.StepSize),
		maxSteps: cfg.MaxSteps,
		carry:    float32(cfg.Carry),
		power:    float32(cfg.MaskPower),
	}
	for range k {
		f.decT = append(f.decT, newTape(m.dec[0]))
	}
	f.gains = make([]float32, k)
	for c := range f.gains {
		f.gains[c] = 1
		if len(m.hdr.ClassGains) == k {
			f.gains[c] = float32(m.hdr.ClassGains[c])
		}
	}
	return f
}

func alloc2f(rows, cols int) [][]float32 {
	flat := make([]float32, rows*cols)
	out := make([][]float32, rows)
	for i := range out {
		out[i] = flat[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return out
}

func (f *fitter) reset() {
	f.fe.reset()
	f.started = false
	for k := range f.h {
		clear(f.h[k])
		clear(f.hAcc[k])
		clear(f.ePrev[k])
		if f.warmMasks {
			clear(f.hW[k])
		}
	}
	clear(f.energy)
	f.lastStep, f.lastCut, f.lastJ, f.lastJ0 = 0, false, 0, 0
}

// decodeAll runs every decoder on f.h and returns J; the decoder tapes hold
// the activations for a backward pass.
func (f *fitter) decodeAll() float64 {
	clear(f.y)
	for k := range f.h {
		c := f.m.dec[k].forward(f.decT[k], f.h[k])
		for j, v := range c {
			f.y[j] += v * v
		}
	}
	var J float64
	for j, v := range f.y {
		r := f.sqX[j] - sqrt32(v+fitDelta)
		J += float64(r * r)
	}
	return J
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// gradient writes ∂J/∂h_k to f.gAcc[k] from the decoder tapes of the last
// decodeAll (at the accepted code):
//
//	∂J/∂c_kj = 2·c_kj·(1 − √(X̄_j+δ)/√(Y_j+δ))
func (f *fitter) gradient() {
	for j, v := range f.y {
		f.y[j] = 1 - f.sqX[j]/sqrt32(v+fitDelta) // reused: y is refilled by decodeAll
	}
	for k := range f.h {
		c := f.decT[k].out[len(f.decT[k].out)-1]
		for j, v := range c {
			f.dc[j] = 2 * v * f.y[j]
		}
		f.m.dec[k].backward(f.decT[k], f.gAcc[k], f.dc)
	}
}

// accept records the current code and decoder outputs as the best so far.
func (f *fitter) accept() {
	for k := range f.h {
		copy(f.hAcc[k], f.h[k])
		copy(f.cAcc[k], f.decT[k].out[len(f.decT[k].out)-1])
	}
}

// run processes one spectrum x. It stops taking steps when time.Now() passes
// deadline (a zero deadline means none). It reports whether x was finite.
func (f *fitter) run(x []complex128, deadline time.Time) bool {
	ok := f.fe.push(f.in, x)
	for j, v := range f.fe.norm {
		f.sqX[j] = sqrt32(v + fitDelta)
	}
	// Warm start.
	for k := range f.h {
		e := f.m.enc[k].forward(f.encT, f.in)
		copy(f.eNow[k], e)
		h := f.h[k]
		if f.started && f.carry != 0 {
			for i := range h {
				h[i] = e[i] + f.carry*(f.hAcc[k][i]-f.ePrev[k][i])
			}
		} else {
			copy(h, e)
		}
		if f.warmMasks {
			hw := f.hW[k]
			if f.started && f.carry != 0 {
				for i := range hw {
					hw[i] = e[i] + f.carry*(hw[i]-f.ePrev[k][i])
				}
			} else {
				copy(hw, e)
			}
			copy(f.cW[k], f.m.dec[k].forward(f.decT[k], hw))
		}
	}
	f.started = true
	J := f.decodeAll()
	f.lastJ0 = J
	f.accept()
	eta := f.step
	steps := 0
	f.lastCut = false
	if f.maxSteps > 0 && eta > 0 {
		f.gradient()
		var t0 time.Time
		timed := !deadline.IsZero()
		if timed {
			t0 = time.Now()
		}
		for steps < f.maxSteps {
			if timed {
				// Stop if one more step (as long as the mean so far) would
				// pass the deadline.
				now := time.Now()
				if steps > 0 {
					per := now.Sub(t0) / time.Duration(steps)
					if now.Add(per).After(deadline) {
						f.lastCut = true
						break
					}
				} else if now.After(deadline) {
					f.lastCut = true
					break
				}
			}
			for k := range f.h {
				h, ha, g := f.h[k], f.hAcc[k], f.gAcc[k]
				for i := range h {
					h[i] = ha[i] - eta*g[i]
				}
			}
			steps++
			Jn := f.decodeAll()
			if Jn <= J && !math.IsNaN(Jn) {
				J = Jn
				f.accept()
				if steps < f.maxSteps {
					f.gradient()
				}
			} else {
				eta *= 0.5
			}
		}
	}
	f.lastStep = steps
	f.lastJ = J
	copy2(f.ePrev, f.eNow)
	f.masks()
	if f.warmMasks {
		f.masksFrom(f.cW)
		f.energiesTo(f.energyW)
	}
	return ok
}

func copy2(dst, src [][]float32) {
	for i := range dst {
		copy(dst[i], src[i])
	}
}

// masks forms M_k = (g_k·Ŝ_k)^p / Σ_i (g_i·Ŝ_i)^p (Ŝ = c²) from the
// accepted outputs, and each class's energy for labelling: the band power
// of the mixture its mask takes, Σ_j M_kj·b_j² (the classes' energies add
// up to the spectrum's).
func (f *fitter) masks() {
	f.masksFrom(f.cAcc)
	f.energiesTo(f.energy)
}

// masksFrom sets f.mask from the decoder outputs cs (compressed magnitudes
// per class).
func (f *fitter) masksFrom(cs [][]float32) {
	p := f.power
	for k := range cs {
		g := f.gains[k]
		for j, c := range cs[k] {
			s := g * c * c
			var w float32
			switch p {
			case 1:
				w = s
			case 2:
				w = s * s
			default:
				w = float32(math.Pow(float64(s), float64(p)))
			}
			f.mask[k][j] = w
		}
	}
	for j := 0; j < f.b; j++ {
		var sum float32
		for k := range f.mask {
			sum += f.mask[k][j]
		}
		if sum > 1e-30 {
			inv := 1 / sum
			for k := range f.mask {
				f.mask[k][j] *= inv
			}
		} else {
			for k := range f.mask {
				f.mask[k][j] = 1 / float32(f.k)
			}
		}
	}
}

// energiesTo sets each class's share of this spectrum's band power,
// Σ_j M_kj·b_j², from f.mask into dst.
func (f *fitter) energiesTo(dst []float64) {
	clear(dst)
	for j, b := range f.fe.band {
		p := float64(b) * float64(b)
		for k := range f.mask {
			dst[k] += float64(f.mask[k][j]) * p
		}
	}
}
