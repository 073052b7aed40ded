package online_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stream"
)

// Two Laplacian sources mixed instantaneously onto two channels are
// separated in one causal pass; the example prints the improvement in
// signal-to-interference ratio on channel 0 over the last second.
func ExampleICA() {
	const rate, seconds = 16000, 4
	rng := rand.New(rand.NewPCG(1, 1))
	T := rate * seconds
	s := [2][]float64{make([]float64, T), make([]float64, T)}
	for i := range s {
		for k := range s[i] {
			v := 0.05 * rng.ExpFloat64()
			if rng.IntN(2) == 0 {
				v = -v
			}
			s[i][k] = v
		}
	}
	A := [2][2]float64{{1, 0.6}, {0.5, 1}}
	x := [][]float32{make([]float32, T), make([]float32, T)}
	for c := range x {
		for k := range x[c] {
			x[c][k] = float32(A[c][0]*s[0][k] + A[c][1]*s[1][k])
		}
	}

	ica, err := online.NewICA(online.ICAConfig{})
	if err != nil {
		panic(err)
	}
	m, err := ica.Prepare(stream.Spec{Rate: rate, Channels: 2, MaxFrames: 256})
	if err != nil {
		panic(err)
	}
	y := make([][]float32, m)
	for i := range y {
		y[i] = make([]float32, T)
	}
	for k := 0; k < T; k += 256 {
		ica.Process([][]float32{y[0][k : k+256], y[1][k : k+256]},
			[][]float32{x[0][k : k+256], x[1][k : k+256]})
	}

	// SIR of z = c0·s0 + c1·s1 over the last second, for the source z
	// carries most of: c is the least-squares fit of z on (s0, s1).
	sir := func(z []float32) float64 {
		var g00, g01, g11, b0, b1 float64
		for k := T - rate; k < T; k++ {
			g00 += s[0][k] * s[0][k]
			g01 += s[0][k] * s[1][k]
			g11 += s[1][k] * s[1][k]
			b0 += float64(z[k]) * s[0][k]
			b1 += float64(z[k]) * s[1][k]
		}
		det := g00*g11 - g01*g01
		c0, c1 := (g11*b0-g01*b1)/det, (g00*b1-g01*b0)/det
		e0, e1 := c0*c0*g00, c1*c1*g11
		return 10 * math.Log10(math.Max(e0, e1)/math.Min(e0, e1))
	}
	gain := (sir(y[0])+sir(y[1]))/2 - sir(x[0])
	fmt.Printf("SIR gain on channel 0: %.0f dB (rounded to 10 dB)\n", math.Round(gain/10)*10)
	// Output:
	// SIR gain on channel 0: 50 dB (rounded to 10 dB)
}
