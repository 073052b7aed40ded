package dict

import (
	"math"
	"math/cmplx"
)

// frontend turns one complex STFT spectrum into the model's features; the
// training code and the separators run the very same code, so what the
// encoder sees at run time is what it saw in training.
//
// Per spectrum t:
//
//	b_j   = band magnitude (bandMap.analyze of |X_f|)
//	L_t   = bias-corrected exponential mean of mean_j b_j, time constant
//	        LevelFrames spectra (Adam's correction: E_t/(1−β^t))
//	b̄_j   = b_j / (L_t + EpsAbs)                 level-normalised bands
//	ℓ_j   = log(b̄_j + EpsRel)                    encoder features
//	u_t   = [ℓ_{t−d_0}, ℓ_{t−d_1}, …]               encoder input (d = Lags, d_0 = 0)
//	τ_j   = log((p_j + e)/(b_j + e)), e = EpsRel·L_t  tonality (Tonal models):
//	        p_j the largest bin magnitude nearest band j, appended to u_t
//
// τ is near 0 for a flat (noise-like) band and grows with a dominant
// partial: it carries the fine structure that the bands average away, which
// is what tells a harmonic instrument from broadband noise.
//
//	μ_j, σ_j  running mean and standard deviation of ℓ_j over SlowFrames
//	          spectra (EMA), appended for Slow models
//
// μ and σ summarise the last second or so of each band cheaply: stationary
// noise has a small σ, speech a large one at its syllable rate, music
// sustains partials (μ) and repeats its rhythm.
//
// Dividing by the running level makes the model blind to the input gain
// (up to the tiny EpsAbs), so one model serves quiet and loud recordings.
type frontend struct {
	bm         *bandMap
	depth      int   // history length in spectra: last lag + 1
	lags       []int // delays of the encoder input
	bands      int
	beta       float64 // EMA factor of the level, exp(−1/LevelFrames)
	epsAbs     float64
	epsRel     float32
	ema, betaT float64 // running mean and β^t
	hist       []float32
	head       int // index of the newest frame in hist (frames of size bands)
	mag        []float32
	band       []float32 // b_j of the last spectrum
	norm       []float32 // b̄_j of the last spectrum
	peak       []float32 // per band: largest nearest-bin magnitude (Tonal)
	tonal      bool
	slow       bool
	slowBeta   float32
	mu, m2     []float32 // per band: EMA of ℓ and of ℓ² (Slow), bias-corrected by slowW
	slowW      float32
	level      float64 // L_t + EpsAbs of the last spectrum
	frames     int
}

func newFrontend(m *Model) *frontend {
	f := &frontend{
		bm: m.bm, bands: m.hdr.Bands,
		lags: m.hdr.Lags, depth: m.hdr.Lags[len(m.hdr.Lags)-1] + 1,
		beta:   math.Exp(-1 / m.hdr.LevelFrames),
		epsAbs: m.hdr.EpsAbs, epsRel: float32(m.hdr.EpsRel),
		hist:  make([]float32, (m.hdr.Lags[len(m.hdr.Lags)-1]+1)*m.hdr.Bands),
		mag:   make([]float32, m.bm.bins),
		band:  make([]float32, m.hdr.Bands),
		norm:  make([]float32, m.hdr.Bands),
		peak:  make([]float32, m.hdr.Bands),
		tonal: m.hdr.Tonal,
		slow:  m.hdr.SlowFrames > 0,
		mu:    make([]float32, m.hdr.Bands),
		m2:    make([]float32, m.hdr.Bands),
	}
	if f.slow {
		f.slowBeta = float32(math.Exp(-1 / m.hdr.SlowFrames))
	}
	f.reset()
	return f
}

// reset forgets the level and the context; the context starts as silence
// (log EpsRel), exactly as at the start of every training segment.
func (f *frontend) reset() {
	f.ema, f.betaT = 0, 1
	silence := float32(math.Log(float64(f.epsRel)))
	for i := range f.hist {
		f.hist[i] = silence
	}
	f.head = 0
	f.frames = 0
	clear(f.mu)
	clear(f.m2)
	f.slowW = 0
}

// push analyses spectrum x (Bins() coefficients), updates the level and the
// context, and writes the encoder input u_t (len(Lags)·Bands values, in
// the order of Lags) to in. It returns false if x held NaN/Inf, in which case
// the spectrum is treated as silence.
func (f *frontend) push(in []float32, x []complex128) bool {
	ok := true
	for i, v := range x[:len(f.mag)] {
		a := cmplx.Abs(v)
		if !(a <= math.MaxFloat32) { // NaN or Inf or out of float32 range
			a, ok = 0, false
		}
		f.mag[i] = float32(a)
	}
	f.pushMag(in)
	return ok
}

// pushMag is push on the bin magnitudes already in f.mag.
func (f *frontend) pushMag(in []float32) {
	f.bm.analyze(f.band, f.mag)
	var mean float64
	for _, v := range f.band {
		mean += float64(v)
	}
	mean /= float64(f.bands)
	f.ema = f.beta*f.ema + (1-f.beta)*mean
	f.betaT *= f.beta
	f.level = f.ema/(1-f.betaT) + f.epsAbs
	inv := float32(1 / f.level)
	f.head--
	if f.head < 0 {
		f.head = f.depth - 1
	}
	row := f.hist[f.head*f.bands : (f.head+1)*f.bands]
	for j, v := range f.band {
		n := v * inv
		f.norm[j] = n
		row[j] = float32(math.Log(float64(n + f.epsRel)))
	}
	f.frames++
	for i, d := range f.lags {
		r := f.head + d
		if r >= f.depth {
			r -= f.depth
		}
		copy(in[i*f.bands:(i+1)*f.bands], f.hist[r*f.bands:(r+1)*f.bands])
	}
	off := len(f.lags) * f.bands
	if f.tonal {
		f.bm.peaks(f.peak, f.mag)
		e := f.epsRel * float32(f.level)
		t := in[off : off+f.bands]
		for j, p := range f.peak {
			t[j] = float32(math.Log(float64((p + e) / (f.band[j] + e))))
		}
		off += f.bands
	}
	if f.slow {
		b := f.slowBeta
		f.slowW = b*f.slowW + (1 - b)
		inv := 1 / f.slowW
		mu, sd := in[off:off+f.bands], in[off+f.bands:off+2*f.bands]
		for j, l := range row {
			f.mu[j] = b*f.mu[j] + (1-b)*l
			f.m2[j] = b*f.m2[j] + (1-b)*l*l
			m := f.mu[j] * inv
			mu[j] = m
			sd[j] = sqrt32(max(f.m2[j]*inv-m*m, 0) + 1e-4)
		}
	}
}
