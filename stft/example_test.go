package stft_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/livesep/livesep/stft"
)

// A round trip through analysis and synthesis: the output is the input
// delayed by Latency() frames.
func Example() {
	cfg := stft.New(512, 128) // √Hann, 32 ms frames, 8 ms hops at 16 kHz
	an, err := stft.NewAnalyzer(cfg, 1)
	if err != nil {
		panic(err)
	}
	syn, err := stft.NewSynthesizer(cfg, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println("bins:", cfg.Bins(), "latency:", cfg.Latency(), "reach:", cfg.Reach())

	rng := rand.New(rand.NewPCG(1, 1))
	in := make([]float64, 40*cfg.Hop)
	for i := range in {
		in[i] = rng.Float64()*2 - 1
	}
	out := make([]float64, len(in))
	spec := [][]complex128{make([]complex128, cfg.Bins())} // allocate once
	for off := 0; off < len(in); off += cfg.Hop {
		an.Analyze(spec, [][]float64{in[off : off+cfg.Hop]})
		// ... a separator would modify spec here ...
		syn.Synthesize([][]float64{out[off : off+cfg.Hop]}, spec)
	}
	var worst float64
	for k := cfg.Latency(); k < len(out); k++ {
		worst = max(worst, math.Abs(out[k]-in[k-cfg.Latency()]))
	}
	fmt.Println("max error < 1e-12:", worst < 1e-12)
	// Output:
	// bins: 257 latency: 383 reach: 511
	// max error < 1e-12: true
}

// An asymmetric pair: 512-point analysis, 7.9 ms algorithmic latency at 16 kHz.
func ExampleLowDelay() {
	cfg, err := stft.LowDelay(512, 64, 128)
	if err != nil {
		panic(err)
	}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	fmt.Printf("latency %d frames, reach %d frames = %.1f ms at 16 kHz\n",
		cfg.Latency(), cfg.Reach(), 1000*float64(cfg.Reach())/16000)
	// Output:
	// latency 63 frames, reach 127 frames = 7.9 ms at 16 kHz
}

func ExampleConfig_Validate() {
	fmt.Println(stft.New(512, 128).Validate())
	fmt.Println(stft.New(512, 300).Validate())
	// Output:
	// <nil>
	// stft: windows do not overlap-add to a constant at hop 300 (worst deviation 17.2%)
}
