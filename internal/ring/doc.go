// Package ring implements a lock-free, wait-free single-producer/single-consumer
// ring buffer of float32 samples, the hand-off between the real-time device
// callback and the engine goroutine.
//
// New returns a Writer and a Reader handle. The Writer is used by exactly one
// goroutine (the producer) and the Reader by exactly one goroutine (the
// consumer); the two may run concurrently. The ring stores samples, not frames:
// a caller moving C-channel frames interleaves them and always writes and reads
// multiples of C (choose a capacity that is a multiple of C, which any power of
// two ≥ C is when C is a power of two).
//
// Semantics follow PortAudio's pa_ringbuffer and Rust's rtrb: a full ring is
// never overwritten (Write copies what fits and returns the count, so a short
// write is an overflow for the caller to count) and an empty ring never waits
// (Read returns what is there). Regions/Commit and Peek/Discard are the
// zero-copy forms: they expose the ring's memory as at most two slices, split
// at the wrap.
//
// # Real-time contract
//
// New allocates the buffer. After that no method allocates, blocks, spins or
// takes a lock: each is a few loads, one atomic store and at most two copies.
// Methods panic only on programming errors (negative counts, committing or
// discarding more than is there), never because of the data.
//
// # Concurrency
//
// The shared state is two atomic uint64 indices: head, stored only by the
// Writer, and tail, stored only by the Reader. Indices grow without bound and
// are reduced modulo the power-of-two capacity when used; head-tail is the fill
// level (uint64 wrap-around would take 584,000 years at 1 MHz). The Writer
// copies samples in and then stores head; the Reader loads head and then copies
// samples out, so the samples it reads were written before the store it
// observed (Go's sync/atomic operations are sequentially consistent; the race
// detector models them, which is what the -race stress test relies on).
// Symmetrically the Reader stores tail only after it has finished with the
// memory it hands back.
//
// Each side keeps a private cached copy of the other side's index and reloads
// the shared one only when the cached value says there is not enough room (or
// data); a stale cache can only under-state Free or Len, never over-state it.
// Free and Len always reload. head, tail and each side's private fields live
// on separate 128-byte blocks (two cache lines, against the adjacent-line
// prefetcher) so the two goroutines do not false-share.
//
// Slices returned by Regions stay valid until the next Commit or Write; slices
// returned by Peek stay valid until the next Discard or Read. Neither may be
// used from another goroutine.
//
// # Latency
//
// The ring adds exactly its fill level (Reader.Len samples) of delay. It does
// not decide how full it should be kept; the stream layer does and reports it.
//
// # Why hand-written
//
// No well-kept Go module offers a lock-free SPSC ring of float32: go-diodes
// allocates a bucket on every Set (one_to_one.go, go-diodes#18) and overwrites
// when full; Workiva's queue.RingBuffer is MPMC, spins with runtime.Gosched
// while it waits (100 % CPU, Workiva/go-datastructures#150) and stores
// interface{} values, so every float block is boxed; smallnest/ringbuffer is a
// byte ring behind a mutex. The whole ring is about a hundred lines of
// sync/atomic, and the -race stress and fuzz tests in this package check it.
package ring
