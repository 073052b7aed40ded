package ring

import "testing"

// TestRingAllocs checks that no method allocates after New, on both the
// copying and the zero-copy paths, across the wrap.
func TestRingAllocs(t *testing.T) {
	w, r := New(1024)
	block := make([]float32, 768) // not a divisor of 1024: positions wrap
	out := make([]float32, 768)
	var sink int
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Write+Read", func() { sink += w.Write(block); sink += r.Read(out) }},
		{"Regions+Commit", func() {
			a, b := w.Regions(len(block))
			copy(b, block[copy(a, block):])
			w.Commit(len(a) + len(b))
			sink += r.Read(out)
		}},
		{"Peek+Discard", func() {
			sink += w.Write(block)
			a, b := r.Peek(len(out))
			sink += len(a) + len(b)
			r.Discard(len(a) + len(b))
		}},
		{"Free+Len+Cap", func() { sink += w.Free() + r.Len() + w.Cap() + r.Cap() }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s allocated %v times per run; want 0", tc.name, n)
		}
	}
	_ = sink
}
