package online_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/livesep/livesep/online"
)

// Scene tracking: two sources on two microphones, and at 20 s the first
// source moves (its mixing column changes in every bin). With Track set, a
// second IVA with a 1 s memory learns alongside; the example prints each
// time the main separator restarted from it. The first restart comes 1 s
// after the move; while the short memory still pulls ahead as it learns the
// new scene, the main one restarts again.
func ExampleIVA_TrackStats() {
	const bins, perSecond = 65, 62.5
	rng := rand.New(rand.NewPCG(2, 2))
	randc := func() complex128 { return complex(rng.NormFloat64(), rng.NormFloat64()) }
	before := make([][4]complex128, bins) // [mic][source], row-major
	after := make([][4]complex128, bins)
	for f := range before {
		before[f] = [4]complex128{randc(), randc(), randc(), randc()}
		after[f] = [4]complex128{randc(), before[f][1], randc(), before[f][3]}
	}
	sep, err := online.NewIVA(online.IVAConfig{Sources: 2, Track: time.Second})
	if err != nil {
		panic(err)
	}
	if _, err := sep.Prepare(2, bins); err != nil {
		panic(err)
	}
	mix := [][]complex128{make([]complex128, bins), make([]complex128, bins)}
	out := [][]complex128{make([]complex128, bins), make([]complex128, bins)}
	for t := 0; t < 30*perSecond; t++ {
		a := before
		if t >= 20*perSecond {
			a = after
		}
		env := [2]float64{math.Exp(1.5 * rng.NormFloat64()), math.Exp(1.5 * rng.NormFloat64())}
		for f := 0; f < bins; f++ {
			s0, s1 := complex(env[0], 0)*randc(), complex(env[1], 0)*randc()
			mix[0][f] = a[f][0]*s0 + a[f][1]*s1
			mix[1][f] = a[f][2]*s0 + a[f][3]*s1
		}
		changes := sep.TrackStats().Changes
		sep.Separate(out, mix)
		if sep.TrackStats().Changes > changes {
			fmt.Printf("change of scene detected at %.0f s\n", float64(t)/perSecond)
		}
	}
	// Output:
	// change of scene detected at 21 s
	// change of scene detected at 24 s
}
