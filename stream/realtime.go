package stream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Degrader is implemented by a processor, or by the Separator inside a
// Spectral, that can trade quality for time: an anytime loop (the
// dictionary's latent inference) that stops when the budget is spent. The
// real-time driver calls SetBudget before every Process, on the processing
// goroutine, with the time left until the block's output is due (minus a
// guard). A budget below the usual processing time means "be quick".
type Degrader interface {
	SetBudget(d time.Duration)
}

// AlphaReporter exposes the adaptive logistic scale α of each output
// (online.IVA, online.ICA). The real-time driver calls it on the
// processing goroutine, between blocks, and publishes a snapshot through
// atomics, so implementations need not be safe for concurrent use; with
// len(dst) ≥ outputs it must not allocate.
type AlphaReporter interface {
	AlphaTo(dst []float64) []float64
}

// ConvergenceReporter exposes a convergence measure that falls towards 0 as
// the separator settles (online.IVA: the smoothed relative change of the
// demixing matrices). Called like AlphaReporter.
type ConvergenceReporter interface {
	Convergence() float64
}

// SceneChangeReporter counts the changes of scene an adaptive separator
// has detected and restarted on (online.IVA with scene tracking);
// tracking reports whether it watches for them at all. Called like
// AlphaReporter.
type SceneChangeReporter interface {
	SceneChanges() (n int64, tracking bool)
}

// ClassReporter says which output is which source class (the dictionary
// separator): ClassNames lists the model's classes once, before the run;
// ClassesTo writes, per output, an index into ClassNames or −1 when
// undecided. Called like AlphaReporter.
type ClassReporter interface {
	ClassNames() []string
	ClassesTo(dst []int) []int
}

// hook finds an optional interface on p, on the Separator p wraps, or on
// a separator that one wraps in turn (Inner, as a post-filter around IVA
// has): the outermost that has it.
func hook[T any](p Processor) (T, bool) {
	var zero T
	if h, ok := p.(T); ok {
		return h, true
	}
	s, ok := p.(interface{ Separator() Separator })
	if !ok {
		return zero, false
	}
	for sep, depth := s.Separator(), 0; sep != nil && depth < 8; depth++ {
		if h, ok := sep.(T); ok {
			return h, true
		}
		w, ok := sep.(interface{ Inner() Separator })
		if !ok {
			break
		}
		sep = w.Inner()
	}
	return zero, false
}

// ErrDeviceStalled is returned (wrapped) by Realtime.Run when the device
// stops calling back: a JACK server that died, an unplugged card.
var ErrDeviceStalled = errors.New("the audio device stopped delivering audio")

// Route sends one processor output (Source, 0-based; −1 for silence) to one
// device output channel, scaled by Gain.
type Route struct {
	Source int
	Gain   float32
}

// maxDeviceOut bounds the device output channels the callback routes (a
// fixed stack array there keeps it allocation-free).
const maxDeviceOut = 64

// RealtimeConfig tunes a Realtime driver.
type RealtimeConfig struct {
	// InChannels and OutChannels are the device's interleaved channel
	// counts. InChannels must equal the engine's input channels.
	InChannels, OutChannels int
	// Routes[k] feeds device output channel k; nil means output k plays
	// source k (silence past the last source).
	Routes []Route
	// MarginFrames is output buffering added on top of the minimum the
	// callback and block sizes force (see Realtime): more room for late
	// wake-ups, at that much more latency.
	MarginFrames int
	// Guard is kept free before every deadline (callback jitter, wake-up
	// delay); 0 means min(1 ms, period/8).
	Guard time.Duration
	// StallTimeout: no callback for this long after the first means the
	// device is gone; 0 means 1 s. StartTimeout: no first callback within
	// it; 0 means 5 s.
	StallTimeout, StartTimeout time.Duration
	// Record, if set, receives the raw input and the separated sources
	// from a non-real-time goroutine (see Recording).
	Record *Recording
}

// Recording sends what the engine hears and produces to sinks (WAV files),
// through an SPSC ring drained by its own goroutine: a slow disk never makes
// the processing wait; if the ring fills, frames are counted as lost.
type Recording struct {
	Input   Sink // the raw input, all channels; may be nil
	Sources Sink // the processor's outputs; may be nil
	// Compensate drops the first Latency() frames of the sources, so that
	// source frame k lines up with input frame k (as in file mode).
	Compensate bool
	// RingFrames is the ring's capacity in frames; 0 means 2 s.
	RingFrames int
	// FlushEvery: sinks implementing Flush() error are flushed at least this
	// often, so an interrupted or killed run keeps valid files; 0 means 1 s.
	FlushEvery time.Duration
}

// Realtime drives an Engine from a device callback: the device calls
// Callback on its audio thread; one goroutine runs Run, which processes
// blocks as input arrives and keeps the output on time.
//
// # Latency and the bound
//
// Output frame j of the device carries engine output frame j−D, and engine
// output frame e is input frame e−L (L = Processor.Latency()). D, the output
// priming, is fixed at the first callback from its size P and the block H:
//
//	D = P + H − gcd(P, H) + MarginFrames
//
// the least that lets every block's output be ready one callback after its
// last input frame arrived (P: the callback consumes output a buffer at a
// time; H − gcd: input completes blocks only at multiples of H). The
// latency from the callback's input buffer to its output buffer is thus
// exactly L + D frames, and it never grows: a block whose output would miss
// its callback is degraded (Degrader), passed through (mic 1, delayed by L,
// to every output) or dropped, and the callback plays silence for anything
// missing and discards it when it arrives late. Each event is counted.
type Realtime struct {
	e     *Engine
	cfg   RealtimeConfig
	rate  Rate
	inCh  int
	srcCh int // processor outputs
	block int
	lat   int
	epoch time.Time

	// shared with the callback (written there, read by Run and monitors)
	seq        atomic.Uint64 // odd while the callback publishes the clock
	cbNanos    atomic.Int64  // start of the last callback, ns since epoch
	emitted    atomic.Int64  // output frames emitted, after the last callback
	period     atomic.Int64  // frames in the last callback
	prime      atomic.Int64  // D, set by the first callback
	callbacks  atomic.Int64
	underFr    atomic.Int64 // output frames played as silence (ring empty)
	underEv    atomic.Int64 // callbacks with such frames
	discarded  atomic.Int64 // late output frames thrown away on arrival
	inLostFr   atomic.Int64 // input frames dropped: capture ring full
	inLostEv   atomic.Int64
	outFillMax atomic.Int64 // most frames waiting in the output ring after a callback
	outFillSum atomic.Int64
	gaps       gapQueue

	// callback-private
	cbStarted bool
	pad       int64 // priming frames still to emit
	owed      int64 // frames played as silence, to discard when they arrive
	written   int64 // frames written to the input ring
	emit      int64
	scratch   []float32
	pendGap   gap // a gap waiting for room in the queue

	// mix, written by monitors, read by the callback
	routeSrc  []atomic.Int32
	routeGain []atomic.Uint32 // float32 bits
	srcGain   []atomic.Uint32 // float32 bits, per source (mute/solo/level)

	// engine-private (Run)
	costs      [16]time.Duration // recent processing times (0 for skipped blocks)
	costPos    int
	stale      int   // output frames still built from input the processor missed
	inPos      int64 // frames taken from the input ring
	gapLeft    int64 // zero frames still to insert for the current gap
	w          int64 // frames written to the output ring
	est        time.Duration
	degrader   Degrader
	delay      []float32 // mic 1 history for pass-through, circular
	delayPos   int
	inter      []float32 // interleaved block for the output ring / recorder
	levelIn    []float64
	levelOut   []float64
	inFillMax  int64
	inFillSum  int64
	snapBlocks int
	alphaRep   AlphaReporter
	convRep    ConvergenceReporter
	sceneRep   SceneChangeReporter
	classRep   ClassReporter
	alphaBuf   []float64
	classBuf   []int
	classNames []string

	// counters and the published snapshot (engine writes, anyone reads)
	normal, degraded, passed, dropped, late, lateFrames atomic.Int64
	recLost                                             atomic.Int64
	pub                                                 published

	rec *recorder
}

// published is what the processing goroutine publishes for monitors.
type published struct {
	inLevel, outLevel []atomic.Uint64 // float64 bits, dBFS
	alpha             []atomic.Uint64
	classes           []atomic.Int32
	conv              atomic.Uint64
	scenes            atomic.Int64 // −1: not tracking
	p50, p99, p999    atomic.Int64
	max, mean         atomic.Int64
	est               atomic.Int64
	inFillMax         atomic.Int64
	inFillMean        atomic.Uint64
}

// NewRealtime builds the driver around e. It allocates everything the
// callback and Run will use.
func NewRealtime(e *Engine, cfg RealtimeConfig) (*Realtime, error) {
	if e == nil {
		return nil, errors.New("stream: NewRealtime: nil Engine")
	}
	spec := e.Spec()
	if cfg.InChannels != spec.Channels {
		return nil, fmt.Errorf("stream: device has %d input channels, engine expects %d", cfg.InChannels, spec.Channels)
	}
	if cfg.OutChannels <= 0 {
		cfg.OutChannels = len(cfg.Routes)
	}
	if cfg.OutChannels <= 0 || cfg.OutChannels > maxDeviceOut {
		return nil, fmt.Errorf("stream: %d device output channels; want 1 to %d", cfg.OutChannels, maxDeviceOut)
	}
	m := e.OutChannels()
	if cfg.Routes == nil {
		for k := 0; k < cfg.OutChannels; k++ {
			s := k
			if s >= m {
				s = -1
			}
			cfg.Routes = append(cfg.Routes, Route{Source: s, Gain: 1})
		}
	}
	if len(cfg.Routes) != cfg.OutChannels {
		return nil, fmt.Errorf("stream: %d routes for %d device output channels", len(cfg.Routes), cfg.OutChannels)
	}
	for k, rt := range cfg.Routes {
		if rt.Source < -1 || rt.Source >= m {
			return nil, fmt.Errorf("stream: output %d: source %d does not exist (the processor has %d)", k+1, rt.Source+1, m)
		}
		if math.IsNaN(float64(rt.Gain)) || math.IsInf(float64(rt.Gain), 0) {
			return nil, fmt.Errorf("stream: output %d: gain %v is not finite", k+1, rt.Gain)
		}
	}
	if cfg.MarginFrames < 0 {
		return nil, fmt.Errorf("stream: margin %d frames is negative", cfg.MarginFrames)
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 5 * time.Second
	}
	p := e.Processor()
	r := &Realtime{
		e:        e,
		cfg:      cfg,
		rate:     spec.Rate,
		inCh:     spec.Channels,
		srcCh:    m,
		block:    e.Block(),
		lat:      p.Latency(),
		scratch:  make([]float32, 4096*m),
		delay:    make([]float32, p.Latency()+e.Block()+1),
		inter:    make([]float32, e.Block()*max(m, spec.Channels+m)),
		levelIn:  make([]float64, spec.Channels),
		levelOut: make([]float64, m),
		alphaBuf: make([]float64, m),
		classBuf: make([]int, m),
		epoch:    time.Now(),
	}
	r.routeSrc = make([]atomic.Int32, cfg.OutChannels)
	r.routeGain = make([]atomic.Uint32, cfg.OutChannels)
	for k, rt := range cfg.Routes {
		r.routeSrc[k].Store(int32(rt.Source))
		r.routeGain[k].Store(math.Float32bits(rt.Gain))
	}
	r.srcGain = make([]atomic.Uint32, m)
	for i := range r.srcGain {
		r.srcGain[i].Store(math.Float32bits(1))
	}
	r.pub.inLevel = make([]atomic.Uint64, spec.Channels)
	r.pub.outLevel = make([]atomic.Uint64, m)
	r.pub.alpha = make([]atomic.Uint64, m)
	r.pub.classes = make([]atomic.Int32, m)
	for i := range r.levelIn {
		r.levelIn[i] = silentDB
		r.pub.inLevel[i].Store(math.Float64bits(silentDB))
	}
	for i := range r.levelOut {
		r.levelOut[i] = silentDB
		r.pub.outLevel[i].Store(math.Float64bits(silentDB))
	}
	for i := range r.pub.classes {
		r.pub.classes[i].Store(-1)
	}
	r.pub.conv.Store(math.Float64bits(math.NaN()))
	r.degrader, _ = hook[Degrader](p)
	r.alphaRep, _ = hook[AlphaReporter](p)
	r.convRep, _ = hook[ConvergenceReporter](p)
	r.sceneRep, _ = hook[SceneChangeReporter](p)
	r.pub.scenes.Store(-1)
	if cr, ok := hook[ClassReporter](p); ok {
		r.classRep = cr
		r.classNames = append([]string(nil), cr.ClassNames()...)
	}
	if cfg.Record != nil {
		rec, err := newRecorder(r, cfg.Record)
		if err != nil {
			return nil, err
		}
		r.rec = rec
	}
	return r, nil
}

// silentDB is the level shown for digital silence.
const silentDB = -120.0

// Engine is the driven engine.
func (r *Realtime) Engine() *Engine { return r.e }

// since is the monotonic time since the driver was started.
func (r *Realtime) since() int64 { return int64(time.Since(r.epoch)) }

// PrimeFor is the least output priming D for callbacks of p frames and
// blocks of h frames: p + h − gcd(p, h).
func PrimeFor(p, h int) int {
	if p <= 0 || h <= 0 {
		return 0
	}
	a, b := p, h
	for b != 0 {
		a, b = b, a%b
	}
	return p + h - a
}

// Callback is the body of the device callback: in holds the input frames
// (InChannels interleaved), out receives OutChannels interleaved. It copies
// in into the engine's input ring, fills out from the output ring through
// the routes, plays silence for what is missing, and counts. It does not
// allocate, block, take locks or panic for any buffer sizes the device
// gives (buffers longer than its scratch are handled in pieces).
func (r *Realtime) Callback(in, out []float32) {
	now := r.since()
	ich, och, m := r.inCh, r.cfg.OutChannels, r.srcCh
	n := len(out) / och
	if n == 0 {
		n = len(in) / ich
	}
	if !r.cbStarted {
		r.cbStarted = true
		d := int64(PrimeFor(n, r.block) + r.cfg.MarginFrames)
		r.pad = d
		r.prime.Store(d)
	}

	// Input → ring, whole frames only; what does not fit is a gap the
	// engine fills with silence, so later frames keep their time.
	if fr := len(in) / ich; fr > 0 {
		k := min(fr, r.e.inW.Free()/ich)
		if k > 0 {
			r.e.inW.Write(in[:k*ich])
		}
		if lost := int64(fr - k); lost > 0 {
			if r.pendGap.n > 0 {
				r.pendGap.n += lost // the queue was full: merge (counted; alignment may slip)
			} else {
				r.pendGap = gap{at: r.written + int64(k), n: lost}
			}
			r.inLostFr.Add(lost)
			r.inLostEv.Add(1)
		}
		r.written += int64(k)
		if r.pendGap.n > 0 && r.gaps.push(r.pendGap) {
			r.pendGap = gap{}
		}
	}

	// Ring → output.
	pos := 0
	if r.pad > 0 {
		z := int(min(r.pad, int64(n)))
		clear(out[:z*och])
		r.pad -= int64(z)
		pos = z
	}
	if r.owed > 0 {
		if d := min(r.owed, int64(r.e.outR.Len()/m)); d > 0 {
			r.e.outR.Discard(int(d) * m)
			r.owed -= d
			r.discarded.Add(d)
		}
	}
	var src [maxDeviceOut]int32
	var gain [maxDeviceOut]float32
	for k := 0; k < och; k++ {
		s := r.routeSrc[k].Load()
		src[k] = s
		if s >= 0 && int(s) < m {
			gain[k] = math.Float32frombits(r.routeGain[k].Load()) * math.Float32frombits(r.srcGain[s].Load())
		} else {
			src[k] = -1
		}
	}
	chunk := len(r.scratch) / m
	for pos < n {
		k := min(n-pos, r.e.outR.Len()/m, chunk)
		if k <= 0 {
			break
		}
		got := r.e.outR.Read(r.scratch[:k*m])
		k = got / m
		o := out[pos*och : (pos+k)*och]
		for f := 0; f < k; f++ {
			fr := r.scratch[f*m : f*m+m]
			of := o[f*och : f*och+och]
			for c := range of {
				if s := src[c]; s >= 0 {
					of[c] = gain[c] * fr[s]
				} else {
					of[c] = 0
				}
			}
		}
		pos += k
	}
	if pos < n {
		miss := int64(n - pos)
		clear(out[pos*och : n*och])
		r.owed += miss
		r.underFr.Add(miss)
		r.underEv.Add(1)
	}
	fill := int64(r.e.outR.Len() / m)
	if fill > r.outFillMax.Load() {
		r.outFillMax.Store(fill)
	}
	r.outFillSum.Add(fill)
	r.emit += int64(n)

	r.seq.Add(1)
	r.cbNanos.Store(now)
	r.emitted.Store(r.emit)
	r.period.Store(int64(n))
	r.seq.Add(1)
	r.callbacks.Add(1)
}

// clock reads the callback's last published position consistently.
func (r *Realtime) clock() (cb, emitted, period, prime int64) {
	for range 4 {
		s1 := r.seq.Load()
		cb, emitted, period = r.cbNanos.Load(), r.emitted.Load(), r.period.Load()
		if s2 := r.seq.Load(); s1 == s2 && s1&1 == 0 {
			break
		}
	}
	return cb, emitted, period, r.prime.Load()
}

// SetSourceGain scales every route from source s (0-based): 0 mutes it.
// Safe from any goroutine; takes effect at the next callback.
func (r *Realtime) SetSourceGain(s int, g float32) {
	if s >= 0 && s < len(r.srcGain) {
		r.srcGain[s].Store(math.Float32bits(g))
	}
}

// SourceGain is the gain last set for source s.
func (r *Realtime) SourceGain(s int) float32 {
	if s < 0 || s >= len(r.srcGain) {
		return 0
	}
	return math.Float32frombits(r.srcGain[s].Load())
}

// SetRoute changes what device output k plays. Safe from any goroutine.
func (r *Realtime) SetRoute(k int, rt Route) {
	if k < 0 || k >= len(r.routeSrc) || rt.Source < -1 || rt.Source >= r.srcCh {
		return
	}
	r.routeGain[k].Store(math.Float32bits(rt.Gain))
	r.routeSrc[k].Store(int32(rt.Source))
}

// Routes returns the current routing (allocates; for monitors).
func (r *Realtime) Routes() []Route {
	out := make([]Route, len(r.routeSrc))
	for k := range out {
		out[k] = Route{Source: int(r.routeSrc[k].Load()), Gain: math.Float32frombits(r.routeGain[k].Load())}
	}
	return out
}

// Sources is the processor's output count; InChannels the device's input.
func (r *Realtime) Sources() int    { return r.srcCh }
func (r *Realtime) InChannels() int { return r.inCh }

// ClassNames are the class labels of a ClassReporter processor (nil if
// none).
func (r *Realtime) ClassNames() []string { return r.classNames }

// SceneChanges is the count of a SceneChangeReporter processor, −1 if it
// does not track scenes (or offers no such hook). Safe from any goroutine.
func (r *Realtime) SceneChanges() int64 { return r.pub.scenes.Load() }

// HasAlpha, HasConvergence report which hooks the processor offers.
func (r *Realtime) HasAlpha() bool       { return r.alphaRep != nil }
func (r *Realtime) HasConvergence() bool { return r.convRep != nil }

// Run processes blocks until ctx is done or the device stalls. It starts the
// recorder (if any) and returns after it has written everything; the caller
// closes the sinks. Start the device just before or after calling Run.
//
// Run returns nil when ctx ends (Ctrl-C, --duration), or an error wrapping
// ErrDeviceStalled. alive, if set, is asked when callbacks pause, to make
// the error message precise.
func (r *Realtime) Run(ctx context.Context, alive func() bool) error {
	stop, unwatch := watchContext(ctx)
	defer unwatch()
	if r.rec != nil {
		r.rec.start()
	}
	start := r.since()
	var err error
	for !stop.Load() {
		for r.step() {
		}
		now := r.since()
		cb, _, period, _ := r.clock()
		if r.callbacks.Load() == 0 {
			if time.Duration(now-start) > r.cfg.StartTimeout {
				err = fmt.Errorf("stream: no audio from the device within %v: %w", r.cfg.StartTimeout, ErrDeviceStalled)
				break
			}
			time.Sleep(time.Millisecond)
			continue
		}
		if gap := time.Duration(now - cb); gap > r.cfg.StallTimeout {
			why := " (a JACK server that went away, an unplugged device?)"
			if alive != nil && !alive() {
				why = "; the host stopped the stream (a JACK server that went away, an unplugged device)"
			}
			err = fmt.Errorf("stream: no callback for %v%s: %w", gap.Round(time.Millisecond), why, ErrDeviceStalled)
			break
		}
		// Sleep until just after the next callback is due; poll gently
		// when it is late.
		pd := r.rate.D(int(period))
		wake := time.Duration(cb-now) + pd + pd/16 + 100*time.Microsecond
		if wake < 200*time.Microsecond {
			wake = 200 * time.Microsecond
		}
		if wake > 20*time.Millisecond {
			wake = 20 * time.Millisecond
		}
		time.Sleep(wake)
	}
	r.publishStats()
	if r.rec != nil {
		if rerr := r.rec.finish(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// avail is the number of input frames the engine can take now: ring frames
// plus the silence of any gap the callback has already recorded.
func (r *Realtime) avail() int64 {
	n := int64(r.e.inR.Len() / r.inCh)
	return n + r.gapLeft + r.gaps.pendingBefore(r.inPos+n)
}

// readBlock deinterleaves the next block into e.src, inserting zeros for
// input the callback could not store.
func (r *Realtime) readBlock() {
	e, ch := r.e, r.inCh
	need := r.block
	at := 0
	for need > 0 {
		if r.gapLeft > 0 {
			z := int(min(int64(need), r.gapLeft))
			for c := range e.src {
				clear(e.src[c][at : at+z])
			}
			r.gapLeft -= int64(z)
			at += z
			need -= z
			continue
		}
		k := min(int64(need), int64(e.inR.Len()/ch))
		if g, ok := r.gaps.peek(); ok {
			if g.at <= r.inPos {
				r.gaps.pop()
				r.gapLeft = g.n
				continue
			}
			k = min(k, g.at-r.inPos)
		}
		if k <= 0 {
			// cannot happen when avail() said a block is there; stay safe
			for c := range e.src {
				clear(e.src[c][at:])
			}
			return
		}
		a, b := e.inR.Peek(int(k) * ch)
		deinterleaveAt(e.src, at, a, b, ch)
		e.inR.Discard(int(k) * ch)
		r.inPos += k
		at += int(k)
		need -= int(k)
	}
}

// Block modes, counted separately.
const (
	modeNormal = iota
	modeDegraded
	modePass
	modeDrop
)

// step processes one block if a whole one is waiting and the output ring
// has room; it reports whether it did. It allocates nothing.
func (r *Realtime) step() bool {
	e := r.e
	h := r.block
	if r.avail() < int64(h) || e.outW.Free() < h*r.srcCh {
		return false
	}
	fill := int64(e.inR.Len() / r.inCh)
	r.inFillSum += fill
	r.inFillMax = max(r.inFillMax, fill)
	r.readBlock()
	r.pushDelay(e.src[0])

	now := r.since()
	cb, emitted, period, prime := r.clock()
	start := prime + r.w // device output frame of this block's first frame
	mode := modeNormal
	var deadline int64
	switch {
	case period <= 0:
		// no clock yet: process normally
	case start+int64(h) <= emitted:
		mode = modeDrop
	case start < emitted:
		mode = modePass
	default:
		k := (start-emitted)/period + 1
		deadline = cb + int64(r.rate.D(int(k*period)))
		slack := time.Duration(deadline-now) - r.guard(period)
		switch {
		case slack >= r.est:
			if r.degrader != nil {
				r.degrader.SetBudget(slack)
			}
		case r.degrader != nil && slack > 0:
			r.degrader.SetBudget(slack)
			mode = modeDegraded
		default:
			mode = modePass
		}
	}

	switch mode {
	case modeNormal, modeDegraded:
		t0 := time.Now()
		e.p.Process(e.dst, e.src)
		took := time.Since(t0)
		e.hist.Record(took)
		e.blocks.Add(1)
		if took > e.period {
			e.late.Add(1)
		}
		if mode == modeNormal {
			r.normal.Add(1)
			r.addCost(took)
		} else {
			r.degraded.Add(1)
		}
		if deadline != 0 && now+int64(took) > deadline {
			r.late.Add(1)
		}
		if r.stale > 0 {
			// The processor's history misses the blocks it skipped: until
			// that has slid out, play the aligned pass-through instead.
			k := min(r.stale, h)
			r.passThrough(k)
			r.stale -= k
		}
	case modePass:
		r.passed.Add(1)
		r.passThrough(h)
		r.addCost(0)
		r.stale = r.lat + h
	case modeDrop:
		r.dropped.Add(1)
		for c := range e.dst {
			clear(e.dst[c])
		}
		r.addCost(0)
		r.stale = r.lat + h
	}

	r.meter(r.levelIn, r.pub.inLevel, e.src)
	r.meter(r.levelOut, r.pub.outLevel, e.dst)
	if r.rec != nil {
		r.rec.push(e.src, e.dst)
	}
	oa, ob := e.outW.Regions(h * r.srcCh)
	interleave(oa, ob, e.dst)
	e.outW.Commit(h * r.srcCh)
	r.w += int64(h)

	if r.snapBlocks++; r.rate.D(r.snapBlocks*h) >= 100*time.Millisecond {
		r.snapBlocks = 0
		r.publishStats()
	}
	return true
}

// addCost records a block's processing time (0: skipped) and updates the
// estimate the next block plans with: the second largest of the last 16, so
// that one preempted block does not make the driver pass through the next
// 16, but two in a row make it careful.
func (r *Realtime) addCost(d time.Duration) {
	r.costs[r.costPos] = d
	r.costPos = (r.costPos + 1) % len(r.costs)
	var a, b time.Duration // largest, second largest
	for _, c := range r.costs {
		if c > a {
			a, b = c, a
		} else if c > b {
			b = c
		}
	}
	r.est = b
}

// guard is the time kept free before a deadline.
func (r *Realtime) guard(period int64) time.Duration {
	if r.cfg.Guard > 0 {
		return r.cfg.Guard
	}
	return min(time.Millisecond, r.rate.D(int(period))/8)
}

// pushDelay appends mic 1's block to the pass-through history.
func (r *Realtime) pushDelay(x []float32) {
	n := len(r.delay)
	for _, v := range x {
		r.delay[r.delayPos] = v
		if r.delayPos++; r.delayPos == n {
			r.delayPos = 0
		}
	}
}

// passThrough writes mic 1, delayed by the processor's latency, to the
// first k frames of every output: what the listener hears when a block
// cannot be separated in time, aligned exactly where the separated block
// would have been.
func (r *Realtime) passThrough(k int) {
	n := len(r.delay)
	h := r.block
	// the newest frame is at delayPos−1; this block's first input frame at
	// delayPos−h; its output wants input from L frames earlier.
	j := r.delayPos - h - r.lat
	for j < 0 {
		j += n
	}
	d0 := r.e.dst[0][:k]
	for i := range d0 {
		d0[i] = r.delay[j]
		if j++; j == n {
			j = 0
		}
	}
	for c := 1; c < len(r.e.dst); c++ {
		copy(r.e.dst[c], d0)
	}
}

// meter updates smoothed RMS levels (dBFS) and publishes them: a block's
// level rises at once and falls by at most 20 dB/s (a VU-like ballistics
// that a monitor can read at any rate).
func (r *Realtime) meter(level []float64, pub []atomic.Uint64, x [][]float32) {
	fall := 20 * r.rate.D(r.block).Seconds()
	for c, s := range x {
		var sum float64
		for _, v := range s {
			sum += float64(v) * float64(v)
		}
		db := silentDB
		if sum > 0 && len(s) > 0 {
			db = max(10*math.Log10(sum/float64(len(s))), silentDB)
		}
		if l := level[c] - fall; db < l {
			db = l
		}
		level[c] = db
		pub[c].Store(math.Float64bits(db))
	}
}

// publishStats copies the engine-goroutine state monitors read: processing
// percentiles, the estimate, and the processor's hooks. It runs on the
// processing goroutine (so hooks need no locking) and allocates nothing.
func (r *Realtime) publishStats() {
	h := r.e.hist
	r.pub.p50.Store(int64(h.Quantile(0.5)))
	r.pub.p99.Store(int64(h.Quantile(0.99)))
	r.pub.p999.Store(int64(h.Quantile(0.999)))
	r.pub.max.Store(int64(h.Max()))
	r.pub.mean.Store(int64(h.Mean()))
	r.pub.est.Store(int64(r.est))
	r.pub.inFillMax.Store(r.inFillMax)
	if b := r.e.blocks.Load() + r.passed.Load() + r.dropped.Load(); b > 0 {
		r.pub.inFillMean.Store(math.Float64bits(float64(r.inFillSum) / float64(b)))
	}
	if r.alphaRep != nil {
		a := r.alphaRep.AlphaTo(r.alphaBuf)
		for i := range r.pub.alpha {
			v := math.NaN()
			if i < len(a) {
				v = a[i]
			}
			r.pub.alpha[i].Store(math.Float64bits(v))
		}
	}
	if r.convRep != nil {
		r.pub.conv.Store(math.Float64bits(r.convRep.Convergence()))
	}
	if r.sceneRep != nil {
		if n, on := r.sceneRep.SceneChanges(); on {
			r.pub.scenes.Store(n)
		}
	}
	if r.classRep != nil {
		c := r.classRep.ClassesTo(r.classBuf)
		for i := range r.pub.classes {
			v := int32(-1)
			if i < len(c) && c[i] >= 0 && c[i] < len(r.classNames) {
				v = int32(c[i])
			}
			r.pub.classes[i].Store(v)
		}
	}
}

// gap is a run of n input frames lost after the first `at` frames written.
type gap struct{ at, n int64 }

// gapQueue is a tiny SPSC queue of input gaps, callback → engine.
type gapQueue struct {
	buf        [32]gap
	head, tail atomic.Uint64
}

func (q *gapQueue) push(g gap) bool {
	h, t := q.head.Load(), q.tail.Load()
	if h-t == uint64(len(q.buf)) {
		return false
	}
	q.buf[h%uint64(len(q.buf))] = g
	q.head.Store(h + 1)
	return true
}

func (q *gapQueue) peek() (gap, bool) {
	t, h := q.tail.Load(), q.head.Load()
	if t == h {
		return gap{}, false
	}
	return q.buf[t%uint64(len(q.buf))], true
}

func (q *gapQueue) pop() { q.tail.Add(1) }

// pendingBefore sums the gaps recorded at positions ≤ pos.
func (q *gapQueue) pendingBefore(pos int64) int64 {
	t, h := q.tail.Load(), q.head.Load()
	var n int64
	for i := t; i < h; i++ {
		g := q.buf[i%uint64(len(q.buf))]
		if g.at > pos {
			break
		}
		n += g.n
	}
	return n
}
