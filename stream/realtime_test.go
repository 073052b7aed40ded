package stream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livesep/livesep/stft"
)

// delayProc outputs sign·(mic 1 delayed by lat frames) on every output: an
// exact stand-in for a separator whose latency and output are known. slow,
// if set, says how long block b should take (a late processor); with
// degradable, it implements Degrader and, given a budget below its cost,
// answers at once with −sign/2 instead (a different output, so tests can tell).
type delayProc struct {
	lat, outs  int
	sign       float32
	hist       []float32
	pos        int
	slow       func(b int) time.Duration
	degradable bool
	budget     time.Duration
	block      int
	budgets    atomic.Int64
}

func (p *delayProc) Prepare(s Spec) (int, error) {
	p.hist = make([]float32, p.lat+1)
	return p.outs, nil
}
func (p *delayProc) Reset()       { clear(p.hist); p.pos = 0 }
func (p *delayProc) Latency() int { return p.lat }
func (p *delayProc) Err() error   { return nil }
func (p *delayProc) Process(dst, src [][]float32) {
	g := p.sign
	if p.slow != nil {
		d := p.slow(p.block)
		if p.degradable && p.budget < d {
			g = -p.sign / 2
		} else if d > 0 {
			time.Sleep(d)
		}
	}
	p.block++
	n := len(p.hist)
	for i, v := range src[0] {
		p.hist[p.pos] = v
		j := p.pos - p.lat
		if j < 0 {
			j += n
		}
		y := g * p.hist[j]
		for c := range dst {
			dst[c][i] = y
		}
		if p.pos++; p.pos == n {
			p.pos = 0
		}
	}
}

type degradableProc struct{ *delayProc }

func (p degradableProc) SetBudget(d time.Duration) { p.budget = d; p.budgets.Add(1) }

// fakeDevice calls r.Callback every period of real time with the next
// frames of x (interleaved ch channels) and keeps what it played.
type fakeDevice struct {
	r       *Realtime
	x       [][]float32
	period  int
	outCh   int
	played  []float32 // interleaved outCh
	pauseAt int       // callback index at which the device pauses…
	pause   time.Duration
}

func (d *fakeDevice) run(ctx context.Context, rate Rate) {
	ch := len(d.x)
	in := make([]float32, d.period*ch)
	out := make([]float32, d.period*d.outCh)
	n := len(d.x[0]) / d.period
	t0 := time.Now()
	for c := 0; c < n; c++ {
		if ctx.Err() != nil {
			return
		}
		for f := 0; f < d.period; f++ {
			for k := 0; k < ch; k++ {
				in[f*ch+k] = d.x[k][c*d.period+f]
			}
		}
		d.r.Callback(in, out)
		d.played = append(d.played, out...)
		next := t0.Add(rate.D((c + 1) * d.period))
		time.Sleep(time.Until(next))
	}
}

func ramp(ch, n int) [][]float32 {
	x := make([][]float32, ch)
	for c := range x {
		x[c] = make([]float32, n)
		for i := range x[c] {
			// distinct, non-zero, exactly representable values
			x[c][i] = float32((i%4093)+1) / 8192 * float32(1+c)
		}
	}
	return x
}

type rtCase struct {
	period, block, lat, margin int
}

func newTestRealtime(t testing.TB, p Processor, ch, block, outCh int, cfg RealtimeConfig) *Realtime {
	t.Helper()
	e, err := NewEngine(p, EngineConfig{Spec: Spec{Rate: 16000, Channels: ch, MaxFrames: block}, RingFrames: 64 * block})
	if err != nil {
		t.Fatal(err)
	}
	cfg.InChannels, cfg.OutChannels = ch, outCh
	r, err := NewRealtime(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runFake runs the driver against a fake device for the whole signal.
func runFake(t *testing.T, r *Realtime, x [][]float32, period, outCh int) []float32 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = r.Run(ctx, nil) }()
	d := &fakeDevice{r: r, x: x, period: period, outCh: outCh}
	d.run(ctx, r.rate)
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	return d.played
}

// checkAligned asserts that every played frame of output channel c is
// either silence or want·x[j−delay] for one of the allowed gains: the output
// is never shifted, whatever happened to the blocks. It returns how many
// frames carried each gain.
func checkAligned(t *testing.T, played []float32, outCh, c int, x []float32, delay int, gains ...float32) map[float32]int {
	t.Helper()
	count := map[float32]int{}
	n := len(played) / outCh
	bad := 0
	for j := 0; j < n; j++ {
		y := played[j*outCh+c]
		var ref float32
		if k := j - delay; k >= 0 && k < len(x) {
			ref = x[k]
		}
		if y == 0 {
			count[0]++
			continue
		}
		ok := false
		for _, g := range gains {
			if y == g*ref {
				count[g]++
				ok = true
				break
			}
		}
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("frame %d: played %v, want one of %v × %v (input frame %d)", j, y, gains, ref, j-delay)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d frames misaligned", bad, n)
	}
	return count
}

// The callback-to-callback delay is exactly L + D with D = P + H − gcd(P, H)
// (+ margin), for callback sizes that divide the block, are multiples of
// it, or neither; and nothing underruns when the processor keeps up.
func TestRealtimeExactDelay(t *testing.T) {
	for _, c := range []rtCase{
		{period: 256, block: 128, lat: 126},
		{period: 64, block: 256, lat: 1022},
		{period: 256, block: 512, lat: 300},
		{period: 160, block: 128, lat: 7, margin: 256},
	} {
		t.Run(fmt.Sprintf("P=%d/H=%d/L=%d/margin=%d", c.period, c.block, c.lat, c.margin), func(t *testing.T) {
			frames := 16000 / 2 / c.period * c.period
			x := ramp(2, frames)
			p := &delayProc{lat: c.lat, outs: 2, sign: -1}
			r := newTestRealtime(t, p, 2, c.block, 3, RealtimeConfig{MarginFrames: c.margin, Routes: []Route{{0, 1}, {1, 0.5}, {-1, 1}}})
			played := runFake(t, r, x, c.period, 3)
			s := r.Stats()
			d := PrimeFor(c.period, c.block) + c.margin
			if s.PrimeFrames != int64(d) {
				t.Fatalf("prime %d, want %d", s.PrimeFrames, d)
			}
			got := checkAligned(t, played, 3, 0, x[0], c.lat+d, -1, 1)
			checkAligned(t, played, 3, 1, x[0], c.lat+d, -0.5, 0.5)
			for j := 0; j < len(played)/3; j++ {
				if played[j*3+2] != 0 {
					t.Fatalf("unrouted output 3 is not silent at frame %d", j)
				}
			}
			t.Logf("L+D = %d frames; %+v; frames by gain %v", c.lat+d, s, got)
			// The report states what was measured: the algorithmic latency
			// as file mode defines it (stream delay + one block), the
			// callback-to-callback delay L + D just checked, and the stream
			// delay as the path's processing term.
			var rep Report
			r.FillReport(&rep, DeviceReport{})
			if want := NewLatencyReport(c.lat, c.block, 16000, false); rep.Latency != want {
				t.Errorf("report latency %+v, want %+v", rep.Latency, want)
			}
			if rr := rep.Realtime; rr.CallbackToCallbackFrames != int64(c.lat+d) {
				t.Errorf("report: callback to callback %d frames, measured %d", rr.CallbackToCallbackFrames, c.lat+d)
			}
			var path, delay float64
			for _, term := range rep.Realtime.Path {
				path += term.Frames
				if term.Name == "stream delay" {
					delay = term.Frames
				}
			}
			if delay != float64(c.lat) {
				t.Errorf("latency path: stream delay %v frames, want %d", delay, c.lat)
			}
			if path != rep.Realtime.TotalFrames {
				t.Errorf("latency path terms add up to %v frames, total says %v", path, rep.Realtime.TotalFrames)
			}
			if s.UnderrunFrames > 0 || s.Passed+s.Dropped > 0 {
				// a loaded machine may miss a deadline; alignment is what
				// must hold, and it did.
				t.Logf("machine too busy for a clean run: %d underrun frames, %d passed, %d dropped", s.UnderrunFrames, s.Passed, s.Dropped)
			}
			if want := int64(frames / c.block); s.Normal+s.Degraded+s.Passed+s.Dropped < want-int64((c.lat+d)/c.block)-2 {
				t.Fatalf("only %d blocks handled of about %d", s.Normal+s.Passed+s.Dropped, want)
			}
		})
	}
}

// A processor that is sometimes far too slow never pushes the output later:
// late blocks are passed through (mic 1, +x) or dropped (silence), the
// latency stays L + D, and every event is counted.
func TestRealtimeLateBlocksKeepTheBound(t *testing.T) {
	const period, block, lat = 128, 128, 100
	pd := Rate(16000).D(period)
	slow := func(b int) time.Duration {
		if b%20 == 10 {
			return 4 * pd // four periods: several blocks must give way
		}
		return 0
	}
	x := ramp(1, 16000)
	p := &delayProc{lat: lat, outs: 1, sign: -1, slow: slow}
	r := newTestRealtime(t, p, 1, block, 1, RealtimeConfig{})
	played := runFake(t, r, x, period, 1)
	s := r.Stats()
	d := int(s.PrimeFrames)
	got := checkAligned(t, played, 1, 0, x[0], lat+d, -1, 1)
	t.Logf("%+v; frames by gain %v", s, got)
	if s.Passed+s.Dropped == 0 || s.UnderrunFrames == 0 {
		t.Fatalf("slow blocks caused no pass-through/drop/underrun: %+v", s)
	}
	if got[1] == 0 {
		t.Fatalf("no frame was passed through")
	}
	if s.Normal < 50 {
		t.Fatalf("only %d blocks processed normally", s.Normal)
	}
}

// With a Degrader, a block short of time is processed quickly instead of
// passed through.
func TestRealtimeDegrades(t *testing.T) {
	const period, block, lat = 128, 128, 64
	pd := Rate(16000).D(period)
	base := &delayProc{lat: lat, outs: 1, sign: -1, degradable: true}
	// Every block costs 3/4 of a period — until the estimate learns it, then
	// every 10th costs two periods and must degrade.
	base.slow = func(b int) time.Duration {
		if b > 20 && b%10 == 0 {
			return 2 * pd
		}
		return pd / 4
	}
	x := ramp(1, 16000)
	r := newTestRealtime(t, degradableProc{base}, 1, block, 1, RealtimeConfig{})
	played := runFake(t, r, x, period, 1)
	s := r.Stats()
	got := checkAligned(t, played, 1, 0, x[0], lat+int(s.PrimeFrames), -1, 0.5, 1)
	t.Logf("%+v; frames by gain %v", s, got)
	if base.budgets.Load() == 0 {
		t.Fatal("SetBudget was never called")
	}
	if got[0.5] == 0 {
		t.Fatalf("no degraded output (x/2) seen")
	}
}

// Input the capture ring cannot hold is replaced by silence at its place,
// so everything after it keeps its timing.
func TestRealtimeInputLossKeepsAlignment(t *testing.T) {
	const period, block, lat = 64, 64, 10
	x := ramp(1, 64*200)
	p := &delayProc{lat: lat, outs: 1, sign: -1}
	e, err := NewEngine(p, EngineConfig{Spec: Spec{Rate: 16000, Channels: 1, MaxFrames: block}, RingFrames: 4 * block})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRealtime(e, RealtimeConfig{InChannels: 1, OutChannels: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, period)
	out := make([]float32, period)
	var played []float32
	for c := 0; c < 200; c++ {
		copy(in, x[0][c*period:])
		r.Callback(in, out)
		played = append(played, out...)
		if c < 50 || c > 70 { // the engine sleeps through callbacks 50–70
			for r.step() {
			}
		}
	}
	s := r.Stats()
	if s.InputLostFrames == 0 {
		t.Fatal("no input was lost; the test did not exercise the gap path")
	}
	got := checkAligned(t, played, 1, 0, x[0], lat+int(s.PrimeFrames), -1, 1)
	t.Logf("%+v; frames by gain %v", s, got)
	if got[-1] < 100*period {
		t.Fatalf("only %d frames processed after the loss", got[-1])
	}
}

func TestPrimeFor(t *testing.T) {
	for _, c := range []struct{ p, h, want int }{
		{256, 256, 256}, {256, 128, 256}, {64, 256, 256}, {256, 512, 512}, {160, 128, 256}, {100, 64, 160},
	} {
		if got := PrimeFor(c.p, c.h); got != c.want {
			t.Errorf("PrimeFor(%d, %d) = %d, want %d", c.p, c.h, got, c.want)
		}
	}
}

// The callback body allocates nothing, whether the ring is full, empty or
// partly filled.
func TestRealtimeCallbackAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	p := &delayProc{lat: 10, outs: 2, sign: 1}
	r := newTestRealtime(t, p, 2, 256, 2, RealtimeConfig{})
	in := make([]float32, 256*2)
	out := make([]float32, 256*2)
	i := 0
	n := testing.AllocsPerRun(200, func() {
		r.Callback(in, out)
		if i++; i%3 != 0 {
			r.step()
		}
	})
	if n != 0 {
		t.Fatalf("Callback+step allocated %v times per call; want 0", n)
	}
}

// One engine-loop step — block assembly, clock, processing, meters,
// recorder push, output — allocates nothing.
func TestRealtimeStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	p := degradableProc{&delayProc{lat: 10, outs: 2, sign: 1, degradable: true}}
	sink := &memSink{}
	r := newTestRealtime(t, p, 2, 256, 2, RealtimeConfig{Record: &Recording{Sources: sink, RingFrames: 1 << 16}})
	in := make([]float32, 256*2)
	out := make([]float32, 256*2)
	r.Callback(in, out)
	n := testing.AllocsPerRun(200, func() {
		r.e.inW.Write(in)
		if !r.step() {
			t.Fatal("step did nothing with a block waiting")
		}
		r.e.outR.Discard(256 * 2)
		r.rec.rd.Discard(r.rec.rd.Len())
	})
	if n != 0 {
		t.Fatalf("step allocated %v times per call; want 0", n)
	}
}

// memSink keeps what it is given.
type memSink struct {
	mu      sync.Mutex
	data    [][]float32
	flushes int
	closed  bool
}

func (s *memSink) WriteFrames(src [][]float32) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = make([][]float32, len(src))
	}
	for c := range src {
		s.data[c] = append(s.data[c], src[c]...)
	}
	return len(src[0]), nil
}
func (s *memSink) Flush() error { s.mu.Lock(); s.flushes++; s.mu.Unlock(); return nil }
func (s *memSink) Close() error { s.closed = true; return nil }

// The recorder writes the raw input and the latency-compensated sources,
// sample-aligned with each other, and flushes while running.
func TestRealtimeRecording(t *testing.T) {
	const period, block, lat = 128, 128, 77
	x := ramp(2, 16000/2)
	inSink, srcSink := &memSink{}, &memSink{}
	p := &delayProc{lat: lat, outs: 1, sign: -1}
	r := newTestRealtime(t, p, 2, block, 1, RealtimeConfig{Record: &Recording{Input: inSink, Sources: srcSink, Compensate: true, FlushEvery: 100 * time.Millisecond}})
	runFake(t, r, x, period, 1)
	s := r.Stats()
	if s.Passed+s.Dropped > 0 {
		t.Skipf("machine too busy for an exact recording check: %+v", s)
	}
	if len(inSink.data) != 2 || len(srcSink.data) != 1 {
		t.Fatalf("recorded %d input and %d source channels", len(inSink.data), len(srcSink.data))
	}
	nin, nsrc := len(inSink.data[0]), len(srcSink.data[0])
	if nin < len(x[0])-4*block || nsrc != nin-lat {
		t.Fatalf("recorded %d input and %d source frames (signal %d, latency %d)", nin, nsrc, len(x[0]), lat)
	}
	for c := range inSink.data {
		for i, v := range inSink.data[c] {
			if v != x[c][i] {
				t.Fatalf("input ch %d frame %d: %v, want %v", c, i, v, x[c][i])
			}
		}
	}
	for i, v := range srcSink.data[0] {
		if v != -x[0][i] {
			t.Fatalf("source frame %d: %v, want %v (aligned with input)", i, v, -x[0][i])
		}
	}
	if inSink.flushes < 3 {
		t.Fatalf("only %d flushes in a 0.5 s run with FlushEvery 100 ms", inSink.flushes)
	}
}

// A device that stops calling back ends Run with ErrDeviceStalled.
func TestRealtimeStall(t *testing.T) {
	p := &delayProc{lat: 0, outs: 1, sign: 1}
	r := newTestRealtime(t, p, 1, 64, 1, RealtimeConfig{StallTimeout: 100 * time.Millisecond, StartTimeout: 100 * time.Millisecond})
	err := r.Run(context.Background(), nil)
	if !errors.Is(err, ErrDeviceStalled) {
		t.Fatalf("no callbacks at all: Run = %v, want ErrDeviceStalled", err)
	}
	r = newTestRealtime(t, p, 1, 64, 1, RealtimeConfig{StallTimeout: 100 * time.Millisecond})
	in, out := make([]float32, 64), make([]float32, 64)
	r.Callback(in, out)
	start := time.Now()
	err = r.Run(context.Background(), func() bool { return false })
	if !errors.Is(err, ErrDeviceStalled) || time.Since(start) > 2*time.Second {
		t.Fatalf("callbacks stopped: Run = %v after %v", err, time.Since(start))
	}
	t.Log(err)
}

// Monitors may change gains and routes while the callback runs (run under
// -race), and the snapshot carries levels.
func TestRealtimeMixControlRace(t *testing.T) {
	x := ramp(2, 16000/4)
	p := &delayProc{lat: 5, outs: 2, sign: 1}
	r := newTestRealtime(t, p, 2, 128, 2, RealtimeConfig{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s Snapshot
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r.SetSourceGain(i%2, float32(i%3)/2)
			r.SetRoute(0, Route{Source: i % 2, Gain: 1})
			r.SnapshotTo(&s)
			time.Sleep(time.Millisecond)
		}
	}()
	runFake(t, r, x, 128, 2)
	close(stop)
	wg.Wait()
	var s Snapshot
	r.SnapshotTo(&s)
	if len(s.OutLevels) != 2 || s.OutLevels[0] <= silentDB || math.IsNaN(s.OutLevels[0]) {
		t.Fatalf("snapshot levels %v", s.OutLevels)
	}
}

// sceneProc is delayProc reporting a change of scene every 10 blocks.
type sceneProc struct {
	*delayProc
	blocks int64
}

func (p *sceneProc) Process(dst, src [][]float32) {
	p.blocks++
	p.delayProc.Process(dst, src)
}

func (p *sceneProc) SceneChanges() (int64, bool) { return p.blocks / 10, true }

// The snapshot carries a SceneChangeReporter's count, and −1 for a
// processor that does not track scenes.
func TestRealtimeSnapshotSceneChanges(t *testing.T) {
	x := ramp(2, 16000/4)
	p := &sceneProc{delayProc: &delayProc{lat: 5, outs: 2, sign: 1}}
	r := newTestRealtime(t, p, 2, 128, 2, RealtimeConfig{})
	runFake(t, r, x, 128, 2)
	var s Snapshot
	r.SnapshotTo(&s)
	if s.SceneChanges < 1 {
		t.Fatalf("snapshot SceneChanges = %d after %d blocks; want ≥ 1", s.SceneChanges, p.blocks)
	}
	plain := newTestRealtime(t, &delayProc{lat: 5, outs: 2, sign: 1}, 2, 128, 2, RealtimeConfig{})
	runFake(t, plain, x, 128, 2)
	plain.SnapshotTo(&s)
	if s.SceneChanges != -1 {
		t.Fatalf("without a SceneChangeReporter SceneChanges = %d; want -1", s.SceneChanges)
	}
}

// passSep copies mic 1 to every output: a minimal Separator.
type passSep struct{ m int }

func (p *passSep) Prepare(mics, bins int) (int, error) { return p.m, nil }
func (p *passSep) Separate(dst, mix [][]complex128) {
	for _, d := range dst {
		copy(d, mix[0])
	}
}
func (p *passSep) Reset()     {}
func (p *passSep) Err() error { return nil }

// reportingSep is an adaptive separator's reporting side (α, convergence,
// scene changes) on top of passSep.
type reportingSep struct{ passSep }

func (r *reportingSep) AlphaTo(dst []float64) []float64 {
	dst = dst[:0]
	for i := 0; i < r.m; i++ {
		dst = append(dst, float64(i+1))
	}
	return dst
}
func (r *reportingSep) Convergence() float64             { return 0.5 }
func (r *reportingSep) SceneChanges() (int64, bool)      { return 3, true }
func (r *reportingSep) ClassesTo(dst []int) []int        { return append(dst[:0], 0, 0) } // hidden by the wrapper's
func (r *reportingSep) ClassNames() []string             { return []string{"inner"} }
func (r *reportingSep) HoldLearning()                    {}
func (r *reportingSep) Separate(dst, mix [][]complex128) { r.passSep.Separate(dst, mix) }

// classWrapper wraps another separator (as the dictionary post-filter
// wraps IVA) and names the outputs itself.
type classWrapper struct {
	passSep
	inner Separator
}

func (w *classWrapper) Inner() Separator          { return w.inner }
func (w *classWrapper) ClassNames() []string      { return []string{"speech", "music"} }
func (w *classWrapper) ClassesTo(dst []int) []int { return append(dst[:0], 1, -1) }

// The snapshot finds each report on the outermost separator that has it,
// looking through a wrapper to the separator inside (iva+dict: classes from
// the post-filter, α, convergence and scene changes from IVA).
func TestRealtimeSnapshotLooksThroughWrappers(t *testing.T) {
	p, err := NewSpectral(stft.New(256, 64), &classWrapper{passSep: passSep{m: 2}, inner: &reportingSep{passSep{m: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRealtime(t, p, 2, 64, 2, RealtimeConfig{})
	runFake(t, r, ramp(2, 16000/4), 64, 2)
	var s Snapshot
	r.SnapshotTo(&s)
	if len(s.Alpha) != 2 || s.Alpha[0] != 1 || s.Alpha[1] != 2 {
		t.Errorf("α %v; want the inner separator's [1 2]", s.Alpha)
	}
	if s.Convergence != 0.5 {
		t.Errorf("convergence %v; want the inner separator's 0.5", s.Convergence)
	}
	if s.SceneChanges != 3 {
		t.Errorf("scene changes %d; want the inner separator's 3", s.SceneChanges)
	}
	if names := r.ClassNames(); len(names) != 2 || names[0] != "speech" || len(s.Classes) != 2 || s.Classes[0] != 1 || s.Classes[1] != -1 {
		t.Errorf("classes %v of %v; want the wrapper's [1 -1] of [speech music]", s.Classes, names)
	}
}
