package ring

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestNewCapacity(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {1025, 2048},
	} {
		w, r := New(tc.in)
		if w.Cap() != tc.want || r.Cap() != tc.want {
			t.Errorf("New(%d): Cap = %d/%d, want %d", tc.in, w.Cap(), r.Cap(), tc.want)
		}
		if w.Free() != tc.want || r.Len() != 0 {
			t.Errorf("New(%d): Free=%d Len=%d, want %d and 0", tc.in, w.Free(), r.Len(), tc.want)
		}
	}
}

func TestLayout(t *testing.T) {
	// Fields written by different goroutines must not share a 64-byte cache
	// line: the gap from the end of one group to the start of the next must be
	// at least one line, whatever the alignment of the allocation.
	w, r := New(8)
	c := w.c
	if r.c != c {
		t.Fatal("handles do not share a core")
	}
	groups := []struct {
		name       string
		start, end uintptr
	}{
		{"writer", addrOf(&c.w), addrOf(&c.w) + unsafe.Sizeof(c.w)},
		{"head", addrOf(&c.head), addrOf(&c.head) + unsafe.Sizeof(c.head)},
		{"tail", addrOf(&c.tail), addrOf(&c.tail) + unsafe.Sizeof(c.tail)},
		{"reader", addrOf(&c.r), addrOf(&c.r) + unsafe.Sizeof(c.r)},
	}
	for i := 1; i < len(groups); i++ {
		if gap := groups[i].start - groups[i-1].end; gap < 64 {
			t.Errorf("%s starts %d bytes after %s ends, want >= 64", groups[i].name, gap, groups[i-1].name)
		}
	}
	if gap := unsafe.Sizeof(*c) - (groups[3].end - addrOf(c)); gap < 64 {
		t.Errorf("reader is followed by %d bytes of padding, want >= 64", gap)
	}
}

func expectPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want %q", want)
		}
		if s := fmt.Sprint(r); !strings.HasPrefix(s, "ring: ") || !strings.Contains(s, want) {
			t.Fatalf("panic %q, want ring-prefixed message containing %q", s, want)
		}
	}()
	f()
}

func TestPanics(t *testing.T) {
	expectPanic(t, "capacity must be positive", func() { New(0) })
	expectPanic(t, "capacity must be positive", func() { New(-3) })
	expectPanic(t, "capacity too large", func() { New(maxCapacity + 1) })
	w, r := New(8)
	expectPanic(t, "negative", func() { w.Regions(-1) })
	expectPanic(t, "negative", func() { w.Commit(-1) })
	expectPanic(t, "negative", func() { r.Peek(-1) })
	expectPanic(t, "negative", func() { r.Discard(-1) })
	expectPanic(t, "more samples than are free", func() { w.Commit(9) })
	expectPanic(t, "more samples than are buffered", func() { r.Discard(1) })
	if n := w.Write(make([]float32, 5)); n != 5 {
		t.Fatalf("Write = %d, want 5", n)
	}
	expectPanic(t, "more samples than are free", func() { w.Commit(4) })
	expectPanic(t, "more samples than are buffered", func() { r.Discard(6) })
	w.Commit(3) // exactly Free is allowed
	r.Discard(8)
	if w.Free() != 8 || r.Len() != 0 {
		t.Fatalf("after fill and drain: Free=%d Len=%d", w.Free(), r.Len())
	}
}

func TestWrapRegions(t *testing.T) {
	w, r := New(8)
	seq := []float32{1, 2, 3, 4, 5, 6}
	if n := w.Write(seq); n != 6 {
		t.Fatalf("Write = %d", n)
	}
	if n := r.Read(make([]float32, 5)); n != 5 {
		t.Fatalf("Read = %d", n)
	}
	// head=6, tail=5: 7 free, split 2 + 5 across the wrap.
	a, b := w.Regions(100)
	if len(a) != 2 || len(b) != 5 || cap(a) != 2 || cap(b) != 5 {
		t.Fatalf("Regions: len %d/%d cap %d/%d, want 2/5 and capped", len(a), len(b), cap(a), cap(b))
	}
	for i := range a {
		a[i] = float32(10 + i)
	}
	for i := range b {
		b[i] = float32(12 + i)
	}
	w.Commit(4) // 10, 11, 12, 13
	if n := w.Write([]float32{20, 21, 22, 23}); n != 3 {
		t.Fatalf("Write into 3 free = %d, want 3", n)
	}
	if w.Free() != 0 || r.Len() != 8 {
		t.Fatalf("Free=%d Len=%d, want 0 and 8", w.Free(), r.Len())
	}
	pa, pb := r.Peek(100)
	got := append(append([]float32(nil), pa...), pb...)
	want := []float32{6, 10, 11, 12, 13, 20, 21, 22}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Peek = %v, want %v", got, want)
	}
	if len(pa) != 3 || len(pb) != 5 {
		t.Fatalf("Peek split %d/%d, want 3/5", len(pa), len(pb))
	}
	r.Discard(3)
	out := make([]float32, 10)
	if n := r.Read(out); n != 5 || fmt.Sprint(out[:5]) != fmt.Sprint(want[3:]) {
		t.Fatalf("Read = %d %v, want 5 %v", n, out[:n], want[3:])
	}
	if n := r.Read(out); n != 0 {
		t.Fatalf("Read on empty = %d", n)
	}
}

// TestStress moves numbered samples from a producer goroutine to a consumer
// goroutine through a small ring, mixing the copying and the zero-copy calls
// with random chunk sizes, and checks that every sample arrives once and in
// order. Under -race this checks the memory ordering of the atomics too.
// 1e7 samples: float32 holds every integer below 2^24 = 16,777,216 exactly.
func TestStress(t *testing.T) {
	total := 10_000_000
	if testing.Short() {
		total = 1_000_000
	}
	const capacity = 1024 // small, so the ring is often full and often empty
	w, r := New(capacity)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 1))
		buf := make([]float32, 2*capacity)
		next := 0
		for next < total {
			n := min(1+rng.IntN(2*capacity), total-next)
			if rng.IntN(2) == 0 {
				for i := range buf[:n] {
					buf[i] = float32(next + i)
				}
				next += w.Write(buf[:n])
			} else {
				a, b := w.Regions(n)
				k := len(a) + len(b)
				for i := range a {
					a[i] = float32(next + i)
				}
				for i := range b {
					b[i] = float32(next + len(a) + i)
				}
				if k > 0 {
					k = 1 + rng.IntN(k) // publish a prefix; the rest is rewritten later
				}
				w.Commit(k)
				next += k
			}
			if w.Free() == 0 {
				runtime.Gosched() // waiting is the caller's policy, not the ring's
			}
		}
	}()
	rng := rand.New(rand.NewPCG(2, 2))
	buf := make([]float32, 2*capacity)
	next := 0
	for next < total {
		n := 1 + rng.IntN(2*capacity)
		if rng.IntN(2) == 0 {
			got := r.Read(buf[:n])
			for i, v := range buf[:got] {
				if v != float32(next+i) {
					t.Fatalf("Read: sample %d is %v", next+i, v)
				}
			}
			next += got
		} else {
			a, b := r.Peek(n)
			for i, v := range a {
				if v != float32(next+i) {
					t.Fatalf("Peek a: sample %d is %v", next+i, v)
				}
			}
			for i, v := range b {
				if v != float32(next+len(a)+i) {
					t.Fatalf("Peek b: sample %d is %v", next+len(a)+i, v)
				}
			}
			k := len(a) + len(b)
			if k > 0 {
				k = 1 + rng.IntN(k)
			}
			r.Discard(k)
			next += k
		}
		if r.Len() == 0 {
			runtime.Gosched()
		}
	}
	wg.Wait()
	if r.Len() != 0 {
		t.Fatalf("Len = %d after all samples were read", r.Len())
	}
	t.Logf("moved %d samples in %v", total, time.Since(start))
}

func addrOf[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }
