package ring_test

import (
	"fmt"

	"github.com/livesep/livesep/internal/ring"
)

func Example() {
	// A ring for 2-channel interleaved frames; 5 samples round up to 8.
	w, r := ring.New(5)
	fmt.Println("capacity:", w.Cap())

	// The producer writes 3 stereo frames; only 4 frames (8 samples) fit.
	frames := []float32{1, -1, 2, -2, 3, -3}
	fmt.Println("wrote:", w.Write(frames), "free:", w.Free())
	fmt.Println("wrote:", w.Write(frames), "(short write: overflow)")

	// The consumer reads 2 frames by copying...
	out := make([]float32, 4)
	n := r.Read(out)
	fmt.Println("read:", out[:n])

	// ...and looks at the rest in place, across the wrap, without copying.
	w.Write([]float32{4, -4})
	a, b := r.Peek(r.Len())
	fmt.Println("peek:", a, b)
	r.Discard(len(a) + len(b))
	fmt.Println("left:", r.Len())
	// Output:
	// capacity: 8
	// wrote: 6 free: 2
	// wrote: 2 (short write: overflow)
	// read: [1 -1 2 -2]
	// peek: [3 -3 1 -1] [4 -4]
	// left: 0
}
