package ring

import (
	"slices"
	"testing"
)

// FuzzRing runs an operation sequence decoded from the fuzz input against the
// ring and against a plain slice model (a FIFO of at most Cap samples), and
// checks every count, every sample and Free/Len after each step. Each step is
// two bytes: the operation, and an argument (a count, up to 2*Cap+1 so both
// the partial and the exact-fit paths are hit).
func FuzzRing(f *testing.F) {
	f.Add(byte(3), []byte{0, 5, 2, 3, 1, 4, 3, 2, 4, 9, 5, 1})
	f.Add(byte(0), []byte{0, 1, 2, 1, 4, 1, 6, 0, 1, 200})
	f.Add(byte(7), []byte{1, 100, 4, 50, 0, 70, 3, 255, 2, 128, 5, 3, 6, 0})
	f.Fuzz(func(t *testing.T, capByte byte, ops []byte) {
		capacity := 1 + int(capByte)%70
		w, r := New(capacity)
		size := w.Cap()
		if size < capacity || size >= 2*capacity || size&(size-1) != 0 {
			t.Fatalf("New(%d): Cap %d is not the next power of two", capacity, size)
		}
		var model []float32 // the unread samples, oldest first
		next := float32(1)  // value of the next sample written
		buf := make([]float32, 2*size+1)
		for len(ops) >= 2 {
			op, arg := ops[0], int(ops[1])%(2*size+2)
			ops = ops[2:]
			switch op % 7 {
			case 0: // Write
				for i := range buf[:arg] {
					buf[i] = next + float32(i)
				}
				want := min(arg, size-len(model))
				if n := w.Write(buf[:arg]); n != want {
					t.Fatalf("Write(%d) = %d, want %d", arg, n, want)
				}
				model = append(model, buf[:want]...)
				next += float32(want)
			case 1: // Regions, fill, Commit a prefix (arg>>1 decides how much)
				a, b := w.Regions(arg)
				want := min(arg, size-len(model))
				if len(a)+len(b) != want || len(b) > 0 && len(a) == 0 {
					t.Fatalf("Regions(%d) = %d+%d, want %d", arg, len(a), len(b), want)
				}
				for i := range a {
					a[i] = next + float32(i)
				}
				for i := range b {
					b[i] = next + float32(len(a)+i)
				}
				k := want
				if want > 0 && op&8 != 0 {
					k = arg % (want + 1)
				}
				w.Commit(k)
				for i := range k {
					model = append(model, next+float32(i))
				}
				next += float32(k)
			case 2: // Read
				want := min(arg, len(model))
				if n := r.Read(buf[:arg]); n != want {
					t.Fatalf("Read(%d) = %d, want %d", arg, n, want)
				}
				if !slices.Equal(buf[:want], model[:want]) {
					t.Fatalf("Read got %v, want %v", buf[:want], model[:want])
				}
				model = model[want:]
			case 3: // Peek, check, Discard a prefix
				a, b := r.Peek(arg)
				want := min(arg, len(model))
				if len(a)+len(b) != want {
					t.Fatalf("Peek(%d) = %d+%d, want %d", arg, len(a), len(b), want)
				}
				got := append(append(buf[:0], a...), b...)
				if !slices.Equal(got, model[:want]) {
					t.Fatalf("Peek got %v, want %v", got, model[:want])
				}
				k := want
				if want > 0 && op&8 != 0 {
					k = arg % (want + 1)
				}
				r.Discard(k)
				model = model[k:]
			case 4: // Commit beyond Free must panic and publish nothing (checked below)
				if arg > size-len(model) {
					mustPanic(t, func() { w.Commit(arg) })
				}
			case 5: // Discard beyond Len must panic
				if arg > len(model) {
					mustPanic(t, func() { r.Discard(arg) })
				}
			case 6: // Peek without consuming must be idempotent
				a1, b1 := r.Peek(arg)
				a2, b2 := r.Peek(arg)
				if !slices.Equal(a1, a2) || !slices.Equal(b1, b2) {
					t.Fatal("two Peeks differ")
				}
			}
			if w.Free() != size-len(model) || r.Len() != len(model) {
				t.Fatalf("Free=%d Len=%d, model holds %d of %d", w.Free(), r.Len(), len(model), size)
			}
		}
	})
}

func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	f()
}
