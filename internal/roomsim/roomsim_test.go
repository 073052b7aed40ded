package roomsim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Without reflections (an RT60 so short that Sabine's α ≥ 1) the response
// is the direct path alone: gain 1/(4πd) at delay d/c, nothing else (the
// delay is a whole number of samples here, where the sinc kernel is exact).
func TestDirectPathOnly(t *testing.T) {
	r := Room{Dim: [3]float64{5, 4, 3}, SabineRT60: 0.01, Rate: 16000}
	if b := r.Reflection(); b != 0 {
		t.Fatalf("reflection %v; want 0 for an RT60 of 10 ms", b)
	}
	const k = 100
	d := SpeedOfSound * k / r.Rate
	h, err := r.Response([3]float64{1 + d, 1, 1}, [3]float64{1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := 1 / (4 * math.Pi * d)
	if math.Abs(h[k]-want) > 1e-12*want {
		t.Errorf("h[%d] = %g; want 1/(4πd) = %g", k, h[k], want)
	}
	rest := 0.0
	for i, v := range h {
		if i != k {
			rest = math.Max(rest, math.Abs(v))
		}
	}
	if rest > 1e-12*want {
		t.Errorf("largest sample off the direct path %g; want 0", rest)
	}
}

// With reflections the energy decays more slowly than Sabine's formula
// says (a shoebox's field is not diffuse); Calibrate finds the parameter
// for a measured decay (geometry of dev_sim030_2x2).
func TestCalibrate(t *testing.T) {
	dim := [3]float64{5, 4, 2.7}
	src, mic := [3]float64{3.0247766994889296, 2.6231843642572428, 1.2153794158741196}, [3]float64{2.1750000000000003, 1.7, 1.1}
	r, err := Calibrate(dim, 16000, 0.3, src, mic)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := r.Response(src, mic)
	got := DecayTime(h, r.Rate)
	t.Logf("0.30 s measured needs a Sabine parameter of %.3f s; decay %.4f s", r.SabineRT60, got)
	if math.Abs(got-0.3) > 0.01*0.3 {
		t.Errorf("calibrated decay %.4f s; want 0.30 s within 1 %%", got)
	}
	// Uncalibrated, the decay is longer than the parameter.
	raw := Room{Dim: dim, SabineRT60: 0.3, Rate: 16000}
	h, _ = raw.Response(src, mic)
	if d := DecayTime(h, raw.Rate); !(d > 0.3) {
		t.Errorf("decay %.3f s for a Sabine parameter of 0.3 s; want longer", d)
	}
}

// DecayTime reads back the slope of an exactly exponential decay.
func TestDecayTime(t *testing.T) {
	const rate, rt = 16000.0, 0.4
	h := make([]float64, int(rate))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range h {
		// amplitude falls 60 dB in rt: energy 10^(−6·t/rt)
		h[i] = rng.NormFloat64() * math.Pow(10, -3*float64(i)/rate/rt)
	}
	if got := DecayTime(h, rate); math.Abs(got-rt) > 0.02*rt {
		t.Errorf("decay time %.4f s; want %.2f s", got, rt)
	}
}

// Convolve equals the direct sum.
func TestConvolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 300)
	h := make([]float64, 70)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range h {
		h[i] = rng.NormFloat64()
	}
	y := Convolve(x, h, 350)
	for n := range y {
		want := 0.0
		for k := range h {
			if n-k >= 0 && n-k < len(x) {
				want += h[k] * x[n-k]
			}
		}
		if math.Abs(y[n]-want) > 1e-9 {
			t.Fatalf("y[%d] = %g; want %g", n, y[n], want)
		}
	}
}

func TestOutsideTheRoom(t *testing.T) {
	r := Room{Dim: [3]float64{5, 4, 3}, SabineRT60: 0.3, Rate: 16000}
	if _, err := r.Response([3]float64{6, 1, 1}, [3]float64{1, 1, 1}); err == nil {
		t.Error("a source outside the room gave no error")
	}
	if _, err := (Room{Dim: [3]float64{5, 4, 3}, Rate: 16000}).Response([3]float64{2, 1, 1}, [3]float64{1, 1, 1}); err == nil {
		t.Error("RT60 0 gave no error")
	}
}
