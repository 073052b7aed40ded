package stream_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// Spectral with the passthrough separator keeps the processor contract for
// every shipped window/hop, and its output is mic 1 delayed by exactly
// Latency() frames.
func TestSpectralContract(t *testing.T) {
	for _, c := range []struct{ n, h, ch int }{
		{256, 128, 1}, {512, 128, 2}, {1024, 256, 4}, {2048, 512, 2},
	} {
		t.Run(fmt.Sprintf("size=%d/hop=%d/ch=%d", c.n, c.h, c.ch), func(t *testing.T) {
			p, err := stream.NewSpectral(stft.New(c.n, c.h), online.Passthrough{})
			if err != nil {
				t.Fatal(err)
			}
			spec := stream.Spec{Rate: 16000, Channels: c.ch, MaxFrames: c.h}
			streamtest.CheckProcessor(t, p, spec, streamtest.Options{})
			// periodic sqrt-Hann has w[0] = 0, so its reach is N-1 and the
			// processor's delay N-2.
			if want := c.n - 2; p.Latency() != want {
				t.Errorf("Latency() = %d, want N-2 = %d", p.Latency(), want)
			}
		})
	}
}

// The passthrough output is input channel 0 shifted by Latency(), to float32
// precision (perfect reconstruction through the whole processor).
func TestSpectralPassthroughReconstructs(t *testing.T) {
	const n, h = 1024, 256
	p, err := stream.NewSpectral(stft.New(n, h), online.Passthrough{})
	if err != nil {
		t.Fatal(err)
	}
	x := streamtest.Noise(3, 20000, 7)
	if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: 3, MaxFrames: 300}); err != nil {
		t.Fatal(err)
	}
	y := [][]float32{make([]float32, len(x[0]))}
	for pos := 0; pos < len(x[0]); pos += 300 {
		end := min(pos+300, len(x[0]))
		src := [][]float32{x[0][pos:end], x[1][pos:end], x[2][pos:end]}
		p.Process([][]float32{y[0][pos:end]}, src)
	}
	lat := p.Latency()
	worst := 0.0
	for i := lat; i < len(x[0]); i++ {
		worst = math.Max(worst, math.Abs(float64(y[0][i]-x[0][i-lat])))
	}
	for i := 0; i < lat; i++ {
		if math.Abs(float64(y[0][i])) > 1e-9 {
			t.Fatalf("output frame %d = %g before the latency has passed", i, y[0][i])
		}
	}
	if worst > 1e-6 {
		t.Errorf("worst reconstruction error %g > 1e-6", worst)
	}
}

// holdCounter is a passthrough separator that records which spectra it was
// told not to learn from.
type holdCounter struct {
	online.Passthrough
	held    []int
	spectra int
	hold    bool
}

func (h *holdCounter) HoldLearning() { h.hold = true }

func (h *holdCounter) Separate(dst, mix [][]complex128) {
	if h.hold {
		h.held = append(h.held, h.spectra)
	}
	h.hold = false
	h.spectra++
	h.Passthrough.Separate(dst, mix)
}

// A clipped sample makes Spectral hold the separator's learning for exactly
// the spectra whose analysis window holds it, and count them.
func TestSpectralHoldsLearningOnClipping(t *testing.T) {
	for _, c := range []struct{ n, h int }{{1024, 256}, {512, 128}, {1000, 250}} {
		t.Run(fmt.Sprintf("%d/%d", c.n, c.h), func(t *testing.T) {
			sep := &holdCounter{}
			p, err := stream.NewSpectral(stft.New(c.n, c.h), sep)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Prepare(stream.Spec{Rate: 16000, Channels: 2, MaxFrames: c.h, FixedBlock: true}); err != nil {
				t.Fatal(err)
			}
			at := 10*c.h + c.h/3 // the clipped sample, on mic 2
			x := streamtest.Noise(2, 20*c.h, 1)
			x[1][at] = -1
			y := [][]float32{make([]float32, c.h)}
			for b := 0; b < 20; b++ {
				p.Process(y, [][]float32{x[0][b*c.h : (b+1)*c.h], x[1][b*c.h : (b+1)*c.h]})
			}
			// Spectrum t analyses input [tH+H−N, tH+H).
			var want []int
			for s := 0; s < 20; s++ {
				if end := (s + 1) * c.h; at < end && at >= end-c.n {
					want = append(want, s)
				}
			}
			if fmt.Sprint(sep.held) != fmt.Sprint(want) {
				t.Errorf("held spectra %v, want %v", sep.held, want)
			}
			if got := p.ClippedSpectra(); got != int64(len(want)) {
				t.Errorf("ClippedSpectra() = %d, want %d", got, len(want))
			}
		})
	}
}
