package dict_test

import (
	"fmt"

	"github.com/livesep/livesep/online/dict"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// Single-channel separation with the embedded model: wrap the Separator in
// stream.Spectral with the model's STFT and process blocks of any size.
func ExampleNewSeparator() {
	m, err := dict.Default()
	if err != nil {
		panic(err)
	}
	sep, err := dict.NewSeparator(m, dict.SeparatorConfig{Sources: 2})
	if err != nil {
		panic(err)
	}
	p, err := stream.NewSpectral(m.STFT(), sep)
	if err != nil {
		panic(err)
	}
	out, err := p.Prepare(stream.Spec{Rate: stream.Rate(m.Rate()), Channels: 1, MaxFrames: 512})
	if err != nil {
		panic(err)
	}
	// Which output is which class (what the live monitor shows):
	// ClassesTo indexes ClassNames, −1 while undecided. It reads atomics
	// only, so a monitor goroutine may call it while the audio runs, and
	// with room in dst it does not allocate.
	classes := make([]int, 0, out)
	fmt.Println("before any audio:", sep.ClassesTo(classes))
	// White noise: the first output takes it, the second what little of
	// it the model explains as speech.
	x := streamtest.Noise(1, 512, 1)
	y := [][]float32{make([]float32, 512), make([]float32, 512)}
	for range 100 {
		p.Process(y, x)
	}
	fmt.Println("classes:", sep.ClassNames())
	fmt.Println("outputs:", out, "latency:", p.Latency(), "frames")
	fmt.Println("spectra:", sep.Stats().Spectra)
	for i, c := range sep.ClassesTo(classes) {
		fmt.Printf("output %d: %s\n", i+1, sep.ClassNames()[c])
	}
	// Output:
	// before any audio: [-1 -1]
	// classes: [speech music noise]
	// outputs: 2 latency: 1022 frames
	// spectra: 200
	// output 1: noise
	// output 2: speech
}

// A model file that is not a model is refused with its name and the reason.
func ExampleParse() {
	_, err := dict.Parse([]byte("RIFF....WAVEfmt "), "mix.wav")
	fmt.Println(err)
	// Output:
	// dict: mix.wav: not a valid livesep dictionary model: wrong magic bytes (this is not a model written by live train)
}
