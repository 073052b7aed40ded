package wav

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// The x-realtime metric assumes 16 kHz, the pipeline's rate: frames
// processed per second of CPU divided by 16000.

func BenchmarkReadFrames(b *testing.B) {
	for _, f := range []Format{PCM16, Float32} {
		for _, ch := range []int{4, 32} {
			for _, block := range []int{256, 4096} {
				b.Run(fmt.Sprintf("%v/ch%d/block%d", f, ch, block), func(b *testing.B) {
					tag := 1
					if f == Float32 {
						tag = 3
					}
					file := wave(ck("fmt ", fmtBody(tag, ch, 16000, f.Bits(), 0)), ck("data", make([]byte, 16*block*ch*f.Bits()/8)))
					r, err := NewReader(bytes.NewReader(file), "bench.wav")
					if err != nil {
						b.Fatal(err)
					}
					dst := planes(ch, block)
					b.SetBytes(int64(block * ch * f.Bits() / 8))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := r.ReadFrames(dst); err == io.EOF {
							r.SeekFrame(0)
						}
					}
					b.ReportMetric(float64(b.N)*float64(block)/b.Elapsed().Seconds()/16000, "x-realtime")
				})
			}
		}
	}
}

func BenchmarkWriteFrames(b *testing.B) {
	for _, f := range []Format{PCM16, Float32} {
		for _, ch := range []int{4, 32} {
			for _, block := range []int{256, 4096} {
				b.Run(fmt.Sprintf("%v/ch%d/block%d", f, ch, block), func(b *testing.B) {
					var ws seekDiscard
					w, err := NewWriter(&ws, "bench.wav", 16000, ch, f)
					if err != nil {
						b.Fatal(err)
					}
					src := planes(ch, block)
					for c := range src {
						for i := range src[c] {
							src[c][i] = float32(i%200-100) / 128
						}
					}
					b.SetBytes(int64(block * ch * f.Bits() / 8))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := w.WriteFrames(src); err != nil {
							b.Fatal(err)
						}
						if w.frames > 1<<20 {
							w.frames = 0 // stay below the 4 GiB RIFF limit; nothing is stored
						}
					}
					b.ReportMetric(float64(b.N)*float64(block)/b.Elapsed().Seconds()/16000, "x-realtime")
				})
			}
		}
	}
}
