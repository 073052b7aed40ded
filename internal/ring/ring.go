package ring

import (
	"math/bits"
	"sync/atomic"
)

// padBytes separates fields written by different goroutines: two 64-byte
// cache lines, because x86 prefetches cache lines in adjacent pairs (the same
// choice as crossbeam's CachePadded, which rtrb uses).
const padBytes = 128

// maxCapacity keeps the rounding to a power of two from overflowing int.
const maxCapacity = 1 << (bits.UintSize - 2)

// core is the single allocation behind a Writer/Reader pair. The layout puts
// every group of fields written by one goroutine on its own cache lines.
type core struct {
	w Writer // producer-private fields
	_ [padBytes]byte
	// head is the number of samples ever published. Stored only by the
	// Writer (after copying the samples in), loaded by the Reader.
	head atomic.Uint64
	_    [padBytes - 8]byte
	// tail is the number of samples ever consumed. Stored only by the
	// Reader (after it has finished with them), loaded by the Writer.
	tail atomic.Uint64
	_    [padBytes - 8]byte
	r    Reader // consumer-private fields
	_    [padBytes]byte
}

// Writer is the producer's handle. It must be used by one goroutine at a time.
type Writer struct {
	c    *core
	buf  []float32
	mask uint64
	head uint64 // authoritative; c.head is its published copy
	tail uint64 // cached c.tail; may be stale (too small), never too large
}

// Reader is the consumer's handle. It must be used by one goroutine at a time.
type Reader struct {
	c    *core
	buf  []float32
	mask uint64
	tail uint64 // authoritative; c.tail is its published copy
	head uint64 // cached c.head; may be stale (too small), never too large
}

// New allocates a ring holding capacity samples, rounded up to a power of two,
// and returns its two handles. It panics if capacity <= 0 or is too large to
// round up.
func New(capacity int) (*Writer, *Reader) {
	if capacity <= 0 {
		panic("ring: capacity must be positive")
	}
	if capacity > maxCapacity {
		panic("ring: capacity too large")
	}
	n := 1 << bits.Len(uint(capacity-1))
	buf := make([]float32, n)
	c := new(core)
	c.w = Writer{c: c, buf: buf, mask: uint64(n - 1)}
	c.r = Reader{c: c, buf: buf, mask: uint64(n - 1)}
	return &c.w, &c.r
}

// Cap returns the capacity in samples (a power of two).
func (w *Writer) Cap() int { return len(w.buf) }

// Free returns the number of samples that can be written now. The Reader may
// free more at any moment, so the value is a lower bound by the time it is used.
func (w *Writer) Free() int {
	w.tail = w.c.tail.Load()
	return len(w.buf) - int(w.head-w.tail)
}

// room returns min(want, free), reloading the shared tail only when the cached
// one does not show enough room. want must be >= 0.
func (w *Writer) room(want int) int {
	size := uint64(len(w.buf))
	free := size - (w.head - w.tail)
	if free < uint64(want) {
		w.tail = w.c.tail.Load()
		free = size - (w.head - w.tail)
	}
	return int(min(free, uint64(want)))
}

// publish makes n more samples visible to the Reader.
func (w *Writer) publish(n int) {
	w.head += uint64(n)
	w.c.head.Store(w.head)
}

// Write copies min(len(p), Free()) samples from p into the ring and returns
// that count. It never blocks and never overwrites unread samples: a return
// value below len(p) means the ring was full (an overflow the caller counts).
func (w *Writer) Write(p []float32) int {
	n := w.room(len(p))
	if n == 0 {
		return 0
	}
	i := int(w.head & w.mask)
	k := copy(w.buf[i:], p[:n])
	copy(w.buf, p[k:n])
	w.publish(n)
	return n
}

// Regions returns writable views of the next min(n, Free()) free samples: a
// starts at the write position and b, possibly empty, continues at the start
// of the buffer after the wrap. Nothing is published until Commit. The views
// are capped (full slice expressions), so appending to them cannot reach the
// other region. Regions panics if n < 0.
func (w *Writer) Regions(n int) (a, b []float32) {
	if n < 0 {
		panic("ring: Regions: negative count")
	}
	k := w.room(n)
	i := int(w.head & w.mask)
	size := len(w.buf)
	if end := i + k; end <= size {
		return w.buf[i:end:end], nil
	}
	wrap := i + k - size
	return w.buf[i:size:size], w.buf[:wrap:wrap]
}

// Commit publishes the first n samples of the views last returned by Regions
// (a first, then b). It panics if n < 0 or n > Free(), that is, if n is more
// than Regions could have returned.
func (w *Writer) Commit(n int) {
	if n < 0 {
		panic("ring: Commit: negative count")
	}
	if w.room(n) < n {
		panic("ring: Commit: more samples than are free")
	}
	w.publish(n)
}

// Cap returns the capacity in samples (a power of two).
func (r *Reader) Cap() int { return len(r.buf) }

// Len returns the number of samples that can be read now. The Writer may add
// more at any moment, so the value is a lower bound by the time it is used.
func (r *Reader) Len() int {
	r.head = r.c.head.Load()
	return int(r.head - r.tail)
}

// avail returns min(want, Len()), reloading the shared head only when the
// cached one does not show enough data. want must be >= 0.
func (r *Reader) avail(want int) int {
	have := r.head - r.tail
	if have < uint64(want) {
		r.head = r.c.head.Load()
		have = r.head - r.tail
	}
	return int(min(have, uint64(want)))
}

// release hands n consumed samples back to the Writer.
func (r *Reader) release(n int) {
	r.tail += uint64(n)
	r.c.tail.Store(r.tail)
}

// Read copies min(len(p), Len()) samples into p and returns that count. It
// never blocks: a short read means the ring ran dry (an underflow the caller
// counts and fills, e.g. with silence).
func (r *Reader) Read(p []float32) int {
	n := r.avail(len(p))
	if n == 0 {
		return 0
	}
	i := int(r.tail & r.mask)
	k := copy(p[:n], r.buf[i:])
	copy(p[k:n], r.buf)
	r.release(n)
	return n
}

// Peek returns read-only views of the next min(n, Len()) samples without
// consuming them: a starts at the read position and b, possibly empty,
// continues after the wrap (pa_ringbuffer's read regions). The views stay
// valid until Discard or Read. Peek panics if n < 0.
func (r *Reader) Peek(n int) (a, b []float32) {
	if n < 0 {
		panic("ring: Peek: negative count")
	}
	k := r.avail(n)
	i := int(r.tail & r.mask)
	size := len(r.buf)
	if end := i + k; end <= size {
		return r.buf[i:end:end], nil
	}
	wrap := i + k - size
	return r.buf[i:size:size], r.buf[:wrap:wrap]
}

// Discard consumes n samples (typically after Peek). It panics if n < 0 or
// n > Len().
func (r *Reader) Discard(n int) {
	if n < 0 {
		panic("ring: Discard: negative count")
	}
	if r.avail(n) < n {
		panic("ring: Discard: more samples than are buffered")
	}
	r.release(n)
}
