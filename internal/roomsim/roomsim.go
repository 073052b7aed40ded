// Package roomsim simulates the impulse response of a shoebox room from a
// point source to a microphone by the image-source method (Allen & Berkley,
// 1979), with one frequency-independent wall reflection coefficient set from
// a reverberation time by Sabine's formula, and fractional delays by a
// Hann-windowed sinc. A shoebox's field is not diffuse (waves along an axis
// meet few walls), so the simulated decay is slower than Sabine's formula
// says; Calibrate finds the parameter that gives a wanted measured decay.
// (The dev mixtures' meta.json lists 0.198 s of pyroomacoustics parameter
// for their 0.30 s; here the same room needs 0.249 s. The parameter is not
// comparable across implementations; the measured decay is.)
//
// It exists for tests that need scenes the shared recordings do not hold:
// a talker who walks to another spot in the same room (issue #7). The dev
// mixtures were made with pyroomacoustics, which has no Go counterpart;
// the method is short, and its results are checked against the physics it
// encodes (direct-path delay and 1/(4πd) gain, Sabine decay) in the tests.
package roomsim

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// SpeedOfSound in m/s.
const SpeedOfSound = 343.0

// sincHalf is the half-length in samples of the fractional-delay kernel.
const sincHalf = 20

// Room is a shoebox: Dim in metres, Rate in Hz, and SabineRT60 in seconds,
// the reverberation time Sabine's formula gives for the walls' absorption
// (the parameter, not the simulated decay: see DecayTime and Calibrate).
type Room struct {
	Dim        [3]float64
	SabineRT60 float64
	Rate       float64
}

// Reflection is the wall pressure reflection coefficient β for the room's
// SabineRT60: α = 0.161·V/(S·RT60), β = √(1−α) (0 when α ≥ 1).
func (r Room) Reflection() float64 {
	v := r.Dim[0] * r.Dim[1] * r.Dim[2]
	s := 2 * (r.Dim[0]*r.Dim[1] + r.Dim[0]*r.Dim[2] + r.Dim[1]*r.Dim[2])
	a := 0.161 * v / (s * r.SabineRT60)
	if a >= 1 {
		return 0
	}
	return math.Sqrt(1 - a)
}

// Response is the impulse response from src to mic, 2·SabineRT60 long (at
// least long enough for the direct path). Positions are in metres and must
// lie inside the room.
func (r Room) Response(src, mic [3]float64) ([]float64, error) {
	for k := range 3 {
		if !(src[k] > 0 && src[k] < r.Dim[k] && mic[k] > 0 && mic[k] < r.Dim[k]) {
			return nil, errors.New("roomsim: source or microphone outside the room")
		}
	}
	if !(r.SabineRT60 > 0 && r.Rate > 0) {
		return nil, errors.New("roomsim: RT60 and rate must be positive")
	}
	direct := math.Sqrt(sq(src[0]-mic[0]) + sq(src[1]-mic[1]) + sq(src[2]-mic[2]))
	n := max(int(r.SabineRT60*r.Rate*2), int(direct/SpeedOfSound*r.Rate)+2*sincHalf)
	h := make([]float64, n)
	beta := r.Reflection()
	maxd := float64(n) / r.Rate * SpeedOfSound
	nImg := int(maxd/math.Min(r.Dim[0], math.Min(r.Dim[1], r.Dim[2]))) + 2
	// Image (n, p) along an axis sits at (1−2p)·s + 2n·L and has met
	// |n−p| + |n| walls on the way.
	for nx := -nImg; nx <= nImg; nx++ {
		for px := range 2 {
			dx := float64(1-2*px)*src[0] + 2*float64(nx)*r.Dim[0] - mic[0]
			if math.Abs(dx) > maxd {
				continue
			}
			ex := abs(nx-px) + abs(nx)
			for ny := -nImg; ny <= nImg; ny++ {
				for py := range 2 {
					dy := float64(1-2*py)*src[1] + 2*float64(ny)*r.Dim[1] - mic[1]
					if dx*dx+dy*dy > maxd*maxd {
						continue
					}
					ey := abs(ny-py) + abs(ny)
					for nz := -nImg; nz <= nImg; nz++ {
						for pz := range 2 {
							dz := float64(1-2*pz)*src[2] + 2*float64(nz)*r.Dim[2] - mic[2]
							d := math.Sqrt(dx*dx + dy*dy + dz*dz)
							if d > maxd {
								continue
							}
							ez := abs(nz-pz) + abs(nz)
							refl := ex + ey + ez
							g := 1 / (4 * math.Pi * d)
							if refl > 0 {
								if beta == 0 {
									continue
								}
								g *= math.Pow(beta, float64(refl))
							}
							addDelayed(h, d/SpeedOfSound*r.Rate, g)
						}
					}
				}
			}
		}
	}
	return h, nil
}

// DecayTime is the reverberation time of the impulse response h measured
// as ISO 3382 T20: the Schroeder backward integral of h², its −5 to −25 dB
// part fitted by least squares and extrapolated to 60 dB. NaN if h does
// not decay by 25 dB.
func DecayTime(h []float64, rate float64) float64 {
	e := make([]float64, len(h))
	acc := 0.0
	for i := len(h) - 1; i >= 0; i-- {
		acc += h[i] * h[i]
		e[i] = acc
	}
	var sx, sy, sxx, sxy, n float64
	for i, v := range e {
		db := 10 * math.Log10(v/e[0])
		if db > -5 || db < -25 {
			continue
		}
		x := float64(i) / rate
		sx, sy, sxx, sxy, n = sx+x, sy+db, sxx+x*x, sxy+x*db, n+1
	}
	if n < 2 {
		return math.NaN()
	}
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx) // dB per second
	return -60 / slope
}

// Calibrate returns the room (dim, rate) whose response from src to mic
// decays with DecayTime rt60 (within 1 %), by bisection on SabineRT60.
func Calibrate(dim [3]float64, rate, rt60 float64, src, mic [3]float64) (Room, error) {
	lo, hi := 0.1*rt60, rt60
	r := Room{Dim: dim, Rate: rate}
	for range 30 {
		r.SabineRT60 = (lo + hi) / 2
		h, err := r.Response(src, mic)
		if err != nil {
			return Room{}, err
		}
		got := DecayTime(h, rate)
		if math.Abs(got-rt60) <= 0.01*rt60 {
			return r, nil
		}
		if got > rt60 || math.IsNaN(got) { // NaN: no 25 dB of decay within the response
			hi = r.SabineRT60
		} else {
			lo = r.SabineRT60
		}
	}
	return Room{}, errors.New("roomsim: no wall absorption gives that reverberation time")
}

// addDelayed adds g·δ(t − at) to h, band-limited: a Hann-windowed sinc
// over ±sincHalf samples.
func addDelayed(h []float64, at, g float64) {
	t0 := int(math.Floor(at))
	for k := t0 - sincHalf + 1; k <= t0+sincHalf; k++ {
		if k < 0 || k >= len(h) {
			continue
		}
		u := float64(k) - at
		w := 0.5 * (1 + math.Cos(math.Pi*u/sincHalf))
		s := 1.0
		if u != 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		h[k] += g * w * s
	}
}

// Convolve returns the first n samples of x * h (by FFT).
func Convolve(x, h []float64, n int) []float64 {
	size := 1
	for size < len(x)+len(h) {
		size <<= 1
	}
	fft := fourier.NewFFT(size)
	a := make([]float64, size)
	copy(a, x)
	b := make([]float64, size)
	copy(b, h)
	A := fft.Coefficients(nil, a)
	B := fft.Coefficients(nil, b)
	for i := range A {
		A[i] *= B[i]
	}
	y := fft.Sequence(nil, A)
	out := make([]float64, n)
	for i := range out {
		if i < len(y) {
			out[i] = y[i] / float64(size)
		}
	}
	return out
}

func sq(x float64) float64 { return x * x }

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
