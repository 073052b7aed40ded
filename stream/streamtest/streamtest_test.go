package streamtest

import (
	"errors"
	"math"
	"math/cmplx"
	"testing"

	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
)

// delay is a linear processor: every channel delayed by d frames.
type delay struct {
	d    int
	buf  [][]float32 // per channel, ring of d frames
	pos  int
	nonf bool
}

func (p *delay) Prepare(s stream.Spec) (int, error) {
	p.buf = alloc(s.Channels, p.d)
	p.Reset()
	return s.Channels, nil
}

func (p *delay) Process(dst, src [][]float32) {
	n := len(src[0])
	for i := 0; i < n; i++ {
		for c := range src {
			v := src[c][i]
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				v, p.nonf = 0, true
			}
			if p.d == 0 {
				dst[c][i] = v
				continue
			}
			dst[c][i] = p.buf[c][p.pos]
			p.buf[c][p.pos] = v
		}
		if p.d > 0 {
			p.pos = (p.pos + 1) % p.d
		}
	}
}

func (p *delay) Reset() {
	for c := range p.buf {
		clear(p.buf[c])
	}
	p.pos, p.nonf = 0, false
}

func (p *delay) Latency() int { return p.d }

func (p *delay) Err() error {
	if p.nonf {
		return errors.New("delay: NaN/Inf input")
	}
	return nil
}

// TestCheckProcessorDelay: a plain delay line keeps the contract with the
// exact latency check and with the mask-based one (its impulse response is
// a single tap at Latency(), so both agree).
func TestCheckProcessorDelay(t *testing.T) {
	spec := stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 64}
	t.Run("exact", func(t *testing.T) {
		CheckProcessor(t, &delay{d: 37}, spec, Options{})
	})
	t.Run("maskreach", func(t *testing.T) {
		CheckProcessor(t, &delay{d: 37}, spec, Options{MaskReach: 255})
	})
}

// selfMask is a signal-dependent spectral mask: every bin scaled by
// |X|²/(|X|²+c), a Wiener-like gain computed from the spectrum it is
// applied to, as dictionary post-filters do.
type selfMask struct{ bins int }

func (s *selfMask) Prepare(mics, bins int) (int, error) { s.bins = bins; return 1, nil }
func (s *selfMask) Reset()                              {}
func (s *selfMask) Err() error                          { return nil }
func (s *selfMask) Separate(dst, mix [][]complex128) {
	for f, v := range mix[0] {
		if cmplx.IsNaN(v) || cmplx.IsInf(v) {
			dst[0][f] = 0
			continue
		}
		p := real(v)*real(v) + imag(v)*imag(v)
		dst[0][f] = v * complex(p/(p+0.05), 0)
	}
}

// TestCheckProcessorMaskReach: a self-masking Spectral keeps the contract
// with MaskReach = N−1, and its output does change before k+Latency() —
// which is why the exact check cannot apply to it (delayError, below, says
// so on the same runs).
func TestCheckProcessorMaskReach(t *testing.T) {
	const size = 256
	p, err := stream.NewSpectral(stft.New(size, size/4), &selfMask{})
	if err != nil {
		t.Fatal(err)
	}
	spec := stream.Spec{Rate: 16000, Channels: 1, MaxFrames: 100}
	CheckProcessor(t, p, spec, Options{MaskReach: size - 1})

	// The same perturbation as the latency check, by hand: the exact check
	// must reject this processor, the mask-aware one accept it.
	if _, err := p.Prepare(spec); err != nil {
		t.Fatal(err)
	}
	frames := 16000
	x := Noise(1, frames, 1)
	h := &harness{p: p, spec: spec, out: 1}
	p.Reset()
	base := h.run(x, fixedBlocks(spec.MaxFrames), false)
	y := clone(x)
	k := frames/2 + 7
	y[0][k] += 0.5
	p.Reset()
	got := h.run(y, fixedBlocks(spec.MaxFrames), false)
	lat := p.Latency()
	if first := firstDiff(base, got, 0); first >= k+lat || first < k+lat-(size-1) {
		t.Errorf("self mask: first change at k%+d; want in [Latency()−%d, Latency()) = [%d, %d)", first-k, size-1, lat-(size-1), lat)
	}
	if msg, ok := delayError(base, got, k, lat, Options{}); ok {
		t.Errorf("exact latency check accepted a self-masking processor: %s", msg)
	}
	if msg, ok := delayError(base, got, k, lat, Options{MaskReach: size - 1}); !ok {
		t.Errorf("MaskReach check rejected a self-masking processor: %s", msg)
	}
}

// TestDelayError: the latency verdicts on hand-made output differences.
func TestDelayError(t *testing.T) {
	const n, k, lat = 200, 50, 20
	// diff returns base and a copy changed by the given amounts at frames.
	diff := func(at map[int]float32) (base, got [][]float32) {
		base, got = alloc(2, n), alloc(2, n)
		for i, d := range at {
			got[1][i] = d
		}
		return base, got
	}
	cases := []struct {
		name  string
		at    map[int]float32
		reach int
		ok    bool
	}{
		{"exact: first at k+lat", map[int]float32{k + lat: 1, k + lat + 3: 2}, 0, true},
		{"exact: one frame early", map[int]float32{k + lat - 1: 0.001, k + lat: 1}, 0, false},
		{"exact: one frame late", map[int]float32{k + lat + 1: 1}, 0, false},
		{"exact: no change", nil, 0, false},
		{"reach: first at the limit, peak at k+lat", map[int]float32{k + lat - 10: 0.1, k + lat: 1}, 10, true},
		{"reach: peak at k+lat only", map[int]float32{k + lat: 1}, 10, true},
		{"reach: first beyond the limit", map[int]float32{k + lat - 11: 0.1, k + lat: 1}, 10, false},
		{"reach: peak before k+lat", map[int]float32{k + lat - 5: 2, k + lat: 1}, 10, false},
		{"reach: peak after k+lat", map[int]float32{k + lat: 1, k + lat + 5: 2}, 10, false},
		{"reach: no change", nil, 10, false},
	}
	for _, c := range cases {
		base, got := diff(c.at)
		if msg, ok := delayError(base, got, k, lat, Options{MaskReach: c.reach}); ok != c.ok {
			t.Errorf("%s: ok = %v (%s); want %v", c.name, ok, msg, c.ok)
		}
	}
}
