package wav_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/livesep/livesep/stream/wav"
)

// Write a short stereo file, then read it back block by block.
func Example() {
	dir, err := os.MkdirTemp("", "wav-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tone.wav")

	left := []float32{0, 0.5, 1, -0.5, -1}
	right := []float32{0.25, 0.25, 0.25, 0.25, 2} // 2 is out of range
	if err := wav.WriteFile(path, 16000, wav.PCM16, [][]float32{left, right}); err != nil {
		panic(err)
	}

	r, err := wav.Open(path)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Printf("%+v\n", r.Info())
	dst := [][]float32{make([]float32, 3), make([]float32, 3)}
	for {
		n, err := r.ReadFrames(dst)
		for i := 0; i < n; i++ {
			fmt.Printf("%.5f %.5f\n", dst[0][i], dst[1][i])
		}
		if err != nil {
			fmt.Println(err)
			break
		}
	}
	// Output:
	// {Rate:16000 Channels:2 Format:PCM16 Frames:5}
	// 0.00000 0.25000
	// 0.50000 0.25000
	// 0.99997 0.25000
	// -0.50000 0.25000
	// -1.00000 0.99997
	// EOF
}

// Errors name the file and match ErrFormat.
func ExampleOpen_error() {
	dir, _ := os.MkdirTemp("", "wav-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notes.wav")
	os.WriteFile(path, []byte("these are not samples"), 0o644)

	_, err := wav.Open(path)
	fmt.Println(errors.Is(err, wav.ErrFormat))
	fmt.Println(strings.TrimPrefix(err.Error(), "wav: "+dir+string(filepath.Separator)))
	// Output:
	// true
	// notes.wav: not a WAV file: starts with "thes", not "RIFF"
}
