package stft

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzConfig builds a Config from the fuzz input, from window families that
// reconstruct for some hops (√Hann, Hann/rectangular, Hann/Hann, rectangular,
// LowDelay), near-misses (one sample of √Hann scaled by 1+10^−e) and random
// windows with samples in [0, 1). Sizes are below 600 (any parity, zero
// included) and hops in [−8, 700), or a divisor-style hop size/k. The
// property: Validate rejects the Config with an "stft: " error, or random
// input comes back, delayed by Latency(), to 1e-9.
func FuzzConfig(f *testing.F) {
	f.Add(uint16(512), uint16(128), uint8(0), uint8(0), uint64(1))
	f.Add(uint16(512), uint16(300), uint8(0), uint8(0), uint64(1))
	f.Add(uint16(256), uint16(0), uint8(0x41), uint8(3), uint64(2))
	f.Add(uint16(512), uint16(64), uint8(5), uint8(63), uint64(3))
	f.Add(uint16(64), uint16(16), uint8(7), uint8(12), uint64(4))
	f.Add(uint16(6), uint16(4), uint8(4), uint8(0), uint64(5))
	f.Add(uint16(8), uint16(2), uint8(6), uint8(0), uint64(6))
	f.Fuzz(func(t *testing.T, sizeIn, hopIn uint16, kind, param uint8, seed uint64) {
		n := int(sizeIn % 600)
		h := int(hopIn%708) - 8
		if kind&0x40 != 0 && n > 0 {
			h = n / (1 + int(param%8))
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		var c Config
		switch kind % 8 {
		case 0:
			c = New(n, h)
		case 1:
			c = Config{n, h, PeriodicHann(n), rect(n)}
		case 2:
			c = Config{n, h, rect(n), PeriodicHann(n)}
		case 3:
			c = Config{n, h, PeriodicHann(n), PeriodicHann(n)}
		case 4:
			c = Config{n, h, rect(n), rect(n)}
		case 5:
			var err error
			if c, err = LowDelay(n, h, 2*(1+int(param)%max(n/2, 1))); err != nil {
				if !strings.HasPrefix(err.Error(), "stft: ") {
					t.Fatalf("LowDelay error without prefix: %v", err)
				}
				return
			}
		case 6:
			c = Config{n, h, make([]float64, n), make([]float64, n)}
			for i := range n {
				c.Analysis[i], c.Synthesis[i] = rng.Float64(), rng.Float64()
			}
		case 7:
			c = New(n, h)
			if n > 0 {
				c.Analysis[int(seed%uint64(n))] *= 1 + math.Pow(10, -float64(param%17))
			}
		}
		if err := c.Validate(); err != nil {
			if !strings.HasPrefix(err.Error(), "stft: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if c.Latency()+c.Hop != c.Reach() || c.Reach() > c.Size || c.Reach() < c.Hop {
			t.Fatalf("size=%d hop=%d: Latency %d, Reach %d inconsistent", c.Size, c.Hop, c.Latency(), c.Reach())
		}
		frames := ((c.Size+c.Hop-1)/c.Hop*3 + 3) * c.Hop
		x := noise(rng, 1, frames)
		out := roundTrip(t, c, x)
		if err := delayError(out, x, c.Latency()); err > 1e-9 {
			t.Fatalf("size=%d hop=%d kind=%d: accepted, but reconstruction error %g > 1e-9", c.Size, c.Hop, kind%8, err)
		}
	})
}
