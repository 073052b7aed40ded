package stream

import (
	"errors"
	"time"

	"github.com/livesep/livesep/internal/ring"
)

// recorder moves what the engine heard and produced to sinks from its own
// goroutine. The engine pushes interleaved frames of inCh+srcCh samples
// into an SPSC ring (never waiting; a full ring loses the block, counted);
// the recorder drains it every 50 ms, writes, and flushes at least every
// FlushEvery so a killed process still leaves valid WAV files.
type recorder struct {
	r       *Realtime
	cfg     Recording
	w       *ring.Writer
	rd      *ring.Reader
	width   int // samples per frame: inCh + srcCh
	inter   []float32
	chunk   [][]float32 // [inCh+srcCh][chunkFrames]
	inView  [][]float32
	srcView [][]float32
	skip    int64 // source frames still to drop (latency compensation)

	quit chan struct{}
	done chan struct{}
	err  error

	inFrames, srcFrames int64
}

const recordChunk = 2048

func newRecorder(r *Realtime, cfg *Recording) (*recorder, error) {
	if cfg.Input == nil && cfg.Sources == nil {
		return nil, errors.New("stream: Recording has no sink")
	}
	c := *cfg
	if c.RingFrames <= 0 {
		c.RingFrames = r.rate.N(2 * time.Second)
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	c.RingFrames = max(c.RingFrames, 4*r.block)
	width := r.inCh + r.srcCh
	rec := &recorder{
		r:       r,
		cfg:     c,
		width:   width,
		inter:   make([]float32, recordChunk*width),
		chunk:   alloc2[float32](width, recordChunk),
		inView:  make([][]float32, r.inCh),
		srcView: make([][]float32, r.srcCh),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	rec.w, rec.rd = ring.New(c.RingFrames * width)
	if c.Compensate {
		rec.skip = int64(r.lat)
	}
	return rec, nil
}

// push is called by the engine after every block (allocation-free).
func (rec *recorder) push(in, out [][]float32) {
	h := len(in[0])
	n := h * rec.width
	if rec.w.Free() < n {
		rec.r.recLost.Add(int64(h))
		return
	}
	a, b := rec.w.Regions(n)
	i := 0
	for _, part := range [2][]float32{a, b} {
		for j := range part {
			k := i + j
			f, c := k/rec.width, k%rec.width
			if c < len(in) {
				part[j] = in[c][f]
			} else {
				part[j] = out[c-len(in)][f]
			}
		}
		i += len(part)
	}
	rec.w.Commit(n)
}

func (rec *recorder) start() { go rec.loop() }

// finish stops the goroutine after it has drained the ring and flushed.
func (rec *recorder) finish() error {
	close(rec.quit)
	<-rec.done
	return rec.err
}

func (rec *recorder) loop() {
	defer close(rec.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	lastFlush := time.Now()
	dirty := false
	for {
		select {
		case <-rec.quit:
			rec.drain()
			rec.flush()
			return
		case <-t.C:
		}
		if rec.drain() {
			dirty = true
		}
		if dirty && time.Since(lastFlush) >= rec.cfg.FlushEvery {
			rec.flush()
			lastFlush, dirty = time.Now(), false
		}
	}
}

// drain writes everything in the ring; it reports whether it wrote any.
func (rec *recorder) drain() bool {
	wrote := false
	inCh := len(rec.inView)
	for rec.err == nil {
		k := min(rec.rd.Len()/rec.width, recordChunk)
		if k == 0 {
			break
		}
		rec.rd.Read(rec.inter[:k*rec.width])
		deinterleave(rec.chunk, rec.inter[:k*rec.width], nil, rec.width)
		wrote = true
		if rec.cfg.Input != nil {
			for c := range rec.inView {
				rec.inView[c] = rec.chunk[c][:k]
			}
			n, err := rec.cfg.Input.WriteFrames(rec.inView)
			rec.inFrames += int64(n)
			if err != nil {
				rec.err = err
				break
			}
		}
		if rec.cfg.Sources != nil {
			from := 0
			if rec.skip > 0 {
				from = int(min(rec.skip, int64(k)))
				rec.skip -= int64(from)
			}
			if from < k {
				for c := range rec.srcView {
					rec.srcView[c] = rec.chunk[inCh+c][from:k]
				}
				n, err := rec.cfg.Sources.WriteFrames(rec.srcView)
				rec.srcFrames += int64(n)
				if err != nil {
					rec.err = err
					break
				}
			}
		}
	}
	return wrote
}

type flusher interface{ Flush() error }

func (rec *recorder) flush() {
	for _, s := range []Sink{rec.cfg.Input, rec.cfg.Sources} {
		if f, ok := s.(flusher); ok && s != nil {
			if err := f.Flush(); err != nil && rec.err == nil {
				rec.err = err
			}
		}
	}
}
