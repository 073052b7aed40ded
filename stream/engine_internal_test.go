package stream

import (
	"fmt"
	"testing"
)

// TestInterleaveMatchesIndexOracle compares deinterleave and interleave with
// the index formula they replace (sample k belongs to channel k%ch, frame
// k/ch) for every split point of the two ring regions, including splits
// inside a frame, and for rows longer than the data.
func TestInterleaveMatchesIndexOracle(t *testing.T) {
	for _, ch := range []int{1, 2, 3, 4, 5, 8} {
		for _, frames := range []int{0, 1, 7, 16} {
			n := frames * ch
			inter := make([]float32, n)
			for k := range inter {
				inter[k] = float32(k + 1)
			}
			for split := 0; split <= n; split++ {
				a, b := inter[:split], inter[split:]
				dst := alloc2[float32](ch, frames+3) // longer rows: the tail must stay untouched
				for c := range dst {
					for f := range dst[c] {
						dst[c][f] = -1
					}
				}
				deinterleave(dst, a, b, ch)
				for c := range dst {
					for f, v := range dst[c] {
						want := float32(-1)
						if f < frames {
							want = inter[f*ch+c]
						}
						if v != want {
							t.Fatalf("ch=%d frames=%d split=%d: deinterleave dst[%d][%d] = %v, want %v", ch, frames, split, c, f, v, want)
						}
					}
				}
				// At an offset (the real-time driver fills a block in parts).
				const at = 2
				for c := range dst {
					for f := range dst[c] {
						dst[c][f] = -1
					}
				}
				deinterleaveAt(dst, at, a, b, ch)
				for c := range dst {
					for f, v := range dst[c] {
						want := float32(-1)
						if f >= at && f < at+frames {
							want = inter[(f-at)*ch+c]
						}
						if v != want {
							t.Fatalf("ch=%d frames=%d split=%d: deinterleaveAt(%d) dst[%d][%d] = %v, want %v", ch, frames, split, at, c, f, v, want)
						}
					}
				}
				deinterleave(dst, a, b, ch)
				back := make([]float32, n+1)
				back[n] = -7
				interleave(back[:split], back[split:n], dst)
				for k := range n {
					if back[k] != inter[k] {
						t.Fatalf("ch=%d frames=%d split=%d: interleave [%d] = %v, want %v", ch, frames, split, k, back[k], inter[k])
					}
				}
				if back[n] != -7 {
					t.Fatalf("ch=%d frames=%d split=%d: interleave wrote past its regions", ch, frames, split)
				}
			}
		}
	}
}

// BenchmarkDeinterleave is the engine's per-block input and output reshuffle
// (one 256-frame block, split inside a frame as at a ring wrap).
func BenchmarkDeinterleave(b *testing.B) {
	for _, ch := range []int{2, 8} {
		b.Run(fmt.Sprintf("ch=%d", ch), func(b *testing.B) {
			const frames = 256
			inter := make([]float32, frames*ch)
			dst := alloc2[float32](ch, frames)
			split := len(inter)/2 + 1
			b.ReportAllocs()
			for b.Loop() {
				deinterleave(dst, inter[:split], inter[split:], ch)
				interleave(inter[:split], inter[split:], dst)
			}
		})
	}
}
