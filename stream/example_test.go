package stream_test

import (
	"context"
	"fmt"
	"math"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

func stftNew(n, hop int) stft.Config { return stft.New(n, hop) }
func passSep() stream.Separator      { return online.Passthrough{} }

func ExampleRate_D() {
	r := stream.Rate(16000)
	fmt.Println(r.D(256), r.N(stream.Rate(48000).D(480)))
	// Output: 16ms 160
}

// A 1024-point STFT round trip through the engine in file mode: the latency
// is stated, and compensated so the output lines up with the input.
func ExampleRunFile() {
	x := streamtest.Noise(2, 16000, 1)
	src := &memSource{x: x, chunk: 4096, spec: stream.Spec{Rate: 16000, Channels: 2, MaxFrames: 256}}
	sink := &memSink{}
	p, _ := stream.NewSpectral(stft.New(1024, 256), online.Passthrough{})
	rep, err := stream.RunFile(context.Background(), src, sink, p, stream.FileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	worst := 0.0
	for i := range x[0] {
		worst = math.Max(worst, math.Abs(float64(sink.y[0][i]-x[0][i])))
	}
	fmt.Printf("algorithmic latency %d frames (%.1f ms), stream delay %d, %d blocks, aligned to 1e-6: %v\n",
		rep.Latency.AlgorithmicFrames, rep.Latency.AlgorithmicMs, rep.Latency.StreamDelayFrames, rep.Processing.Blocks, worst < 1e-6)
	// Output: algorithmic latency 1023 frames (63.9 ms), stream delay 767, 66 blocks, aligned to 1e-6: true
}
