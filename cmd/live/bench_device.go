package main

// Device mode of `live bench`: every configuration of the sweep is measured
// on an audio device in real time, twice.
//
//  1. Loopback. The configuration's STFT with a passthrough separator (the
//     same block, latency and output margin as `live run` would use) runs
//     with our output port wired to our input port — on JACK by connecting
//     our own ports, elsewhere only when the user says a cable does it
//     (--loopback). An impulse enters the processor's input; the frame at
//     which it comes back is the round trip, compared with the prediction
//     L + D + host loop (stream delay, output priming, one JACK period).
//  2. Load. The configuration's own processor runs for --seconds through
//     stream.Realtime, paced by the device's callbacks, with the generated
//     signal (or --in) handed to the driver in place of the device's capture:
//     the load is the configuration's channel count, not the device's. The
//     driver's counters (late/passed/dropped blocks, underruns, lost input),
//     the host's xrun flags, processing percentiles and the runtime's
//     allocations and GC cycles over the steady state make the row.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/device"
)

// benchDeviceInfo is the device of a device-mode run (bench.json "device").
type benchDeviceInfo struct {
	HostAPI    string `json:"host_api"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	JACKClient string `json:"jack_client,omitempty"`
	// Loopback says how the round trip is measured: "jack" (our output port
	// connected to our input port), "cable" (--loopback), or why not.
	Loopback string `json:"loopback"`
}

// benchRowDevice is what device mode adds to a row (bench.json
// rows[].device). The row's own timing fields (p50…max, RTF, headroom,
// allocations, GC, late, dropped) then come from the real-time load run.
type benchRowDevice struct {
	// Loopback is the measured round trip; nil when not measured, with
	// LoopbackNote saying why.
	Loopback     *benchLoopback `json:"loopback,omitempty"`
	LoopbackNote string         `json:"loopback_note,omitempty"`

	// The real-time load run.
	PeriodFrames      int64   `json:"period_frames"` // frames per device callback
	PrimeFrames       int64   `json:"prime_frames"`  // D: output priming, margin included
	MarginFrames      int     `json:"margin_frames"` // as live run: one block, 0 for --latency low
	BudgetMs          float64 `json:"budget_ms"`     // a block's time from its last input frame to its deadline
	Callbacks         int64   `json:"callbacks"`
	WallSeconds       float64 `json:"wall_seconds"`
	NormalBlocks      int64   `json:"normal_blocks"`
	DegradedBlocks    int64   `json:"degraded_blocks"`
	PassedBlocks      int64   `json:"passed_blocks"` // mic 1 passed through: the block would have been late
	UnderrunFrames    int64   `json:"underrun_frames"`
	UnderrunEvents    int64   `json:"underrun_events"`
	DiscardedFrames   int64   `json:"discarded_late_frames"`
	InputLostFrames   int64   `json:"input_lost_frames"`
	InputLostEvents   int64   `json:"input_lost_events"`
	HostInUnderflows  int64   `json:"host_input_underflow_flags"`
	HostInOverflows   int64   `json:"host_input_overflow_flags"`
	HostOutUnderflows int64   `json:"host_output_underflow_flags"`
	HostOutOverflows  int64   `json:"host_output_overflow_flags"`
	// Xruns = underrun events + input-lost events + callbacks the host
	// flagged (PortAudio's under/overflow flags).
	Xruns int64 `json:"xruns"`
}

// benchLoopback is one loopback measurement.
type benchLoopback struct {
	MeasuredFrames  int64   `json:"measured_frames"`
	MeasuredMs      float64 `json:"measured_ms"`
	SecondLapFrames int64   `json:"second_lap_frames,omitempty"` // JACK: the impulse's next lap, the same again
	// PredictedFrames = StreamDelayFrames + PrimeFrames + HostLoopFrames.
	PredictedFrames   int64   `json:"predicted_frames"`
	PredictedMs       float64 `json:"predicted_ms"`
	StreamDelayFrames int     `json:"stream_delay_frames"` // L: Processor.Latency
	PrimeFrames       int64   `json:"prime_frames"`        // D = P + H − gcd(P,H) + margin
	HostLoopFrames    int64   `json:"host_loop_frames"`    // JACK: one period; cable: reported in + out latency
	PeriodFrames      int64   `json:"period_frames"`
	// Agree: on JACK both laps equal the prediction exactly; with a cable
	// the round trip is within one period of it (converters and the host's
	// reported latencies are not exact).
	Agree    bool `json:"agree"`
	Attempts int  `json:"attempts"` // measurements disturbed by late blocks are repeated (at most 3)
}

// benchDevice is an open device-mode session: PortAudio initialised and the
// devices resolved. Each measurement opens and closes its own stream.
type benchDevice struct {
	in, out  device.Info
	rate     int
	jack     bool   // the host API is JACK: our ports can be wired to each other
	loopback string // "jack", "cable", or "" (not measured)
	why      string // why not, when loopback == ""
	info     benchDeviceInfo
}

// openBenchDevice resolves --device/--device-out and initialises PortAudio;
// close releases it.
func openBenchDevice(devQ, outQ, jackName string, cable bool, rate int) (*benchDevice, error) {
	if err := device.Init(jackName); err != nil {
		return nil, err
	}
	d := &benchDevice{}
	var err error
	switch strings.ToLower(devQ) {
	case "jack":
		var ok bool
		if d.in, d.out, ok = device.JACK(); !ok {
			err = errors.New(`--device jack: no JACK server is running (start one, e.g. "jackd -d dummy -r 16000 -p 256", or set JACK_DEFAULT_SERVER to the running server's name; or give a PortAudio device: --device NAME, see "live devices")`)
		} else if outQ != "" {
			d.out, err = device.Find(outQ, false)
		}
	case "default":
		d.in, d.out, err = pickDevices("", outQ, 1, rate)
		if err != nil {
			err = fmt.Errorf("--device default: %w", err)
		}
	default:
		if d.in, err = device.Find(devQ, true); err != nil {
			err = fmt.Errorf("--device %q: %w", devQ, err)
			break
		}
		if outQ == "" {
			outQ = devQ
		}
		if d.out, err = device.Find(outQ, false); err != nil {
			err = fmt.Errorf("--device %q: no output side (give one with --device-out): %w", outQ, err)
		}
	}
	if err != nil {
		device.Terminate()
		return nil, err
	}
	d.rate = rate
	if d.rate == 0 {
		d.rate = int(math.Round(d.in.DefaultRate))
	}
	if err := device.Check(device.Config{In: d.in, Out: d.out, InChannels: 1, OutChannels: 1, Rate: float64(d.rate)}); err != nil {
		device.Terminate()
		return nil, fmt.Errorf("--device %s cannot run at %d Hz (the rate of --in or --rate; without them the device's default rate): %w", devQ, d.rate, err)
	}
	isJACK := func(i device.Info) bool { return strings.Contains(strings.ToLower(i.HostAPI), "jack") }
	d.jack = isJACK(d.in) && isJACK(d.out)
	switch {
	case cable:
		d.loopback = "cable"
	case d.jack:
		d.loopback = "jack"
		for _, tool := range []string{"jack_lsp", "jack_connect", "jack_disconnect"} {
			if _, err := exec.LookPath(tool); err != nil {
				d.loopback, d.why = "", fmt.Sprintf("not measured: %s not found (install JACK's tools: apt-get install jackd2)", tool)
				break
			}
		}
	default:
		d.why = "not measured: not a JACK device; wire output 1 to input 1 and pass --loopback"
	}
	d.info = benchDeviceInfo{HostAPI: d.in.HostAPI, Input: d.in.Name, Output: d.out.Name, Loopback: d.loopback}
	if d.loopback == "" {
		d.info.Loopback = d.why
	}
	if d.in.HostAPI != d.out.HostAPI {
		d.info.HostAPI = d.in.HostAPI + " / " + d.out.HostAPI
	}
	return d, nil
}

func (d *benchDevice) close() { device.Terminate() }

func (d *benchDevice) String() string {
	return fmt.Sprintf("%s → %s (%s)", d.in.Name, d.out.Name, d.info.HostAPI)
}

// errDeviceGone aborts the sweep: the device stopped calling back.
var errDeviceGone = errors.New("device gone")

// benchOneDevice measures one configuration on the device: the loopback
// round trip, then the real-time load for dur. A non-nil error means the
// sweep cannot go on (the device died) or was interrupted (ctx).
func (d *benchDevice) benchOneDevice(ctx context.Context, cf benchConfig, sig [][]float32, dur time.Duration) (benchRow, error) {
	row := benchRow{benchConfig: cf, Device: &benchRowDevice{}}
	o, block := benchOptions(cf, d.rate)
	proc, _, err := o.buildProcessor(cf.Channels)
	if err != nil {
		row.Error = err.Error()
		return row, nil
	}
	margin := block // as live run: one block of headroom, none for --latency low
	if o.latency == "low" {
		margin = 0
	}
	row.Device.MarginFrames = margin

	// 1. Loopback, with a passthrough stand-in of the same STFT.
	if d.loopback == "" {
		row.Device.LoopbackNote = d.why
	} else {
		lb, note, err := d.loopbackRun(ctx, proc, block, margin, o.latency == "low")
		if err != nil {
			return row, err
		}
		row.Device.Loopback, row.Device.LoopbackNote = lb, note
	}

	// 2. The configuration's processor in real time.
	if err := d.loadRun(ctx, &row, proc, block, margin, o.latency == "low", sig, dur); err != nil {
		return row, err
	}
	return row, nil
}

// benchOptions are the separation options of a configuration, and its block.
func benchOptions(cf benchConfig, rate int) (separateOptions, int) {
	o := separateOptions{in: "bench signal", method: cf.Method, update: cf.Update, sources: cf.Sources, latency: "normal", format: "float32", rate: rate, track: "off"}
	if cf.Track != "" {
		o.track = cf.Track
	}
	if o.update == "" {
		o.update = "aux"
	}
	switch {
	case cf.Window == "low":
		o.latency = "low"
	case cf.Window != "-":
		fmt.Sscanf(cf.Window, "%d/%d", &o.window, &o.hop) // benchSweep wrote it
	}
	block := icaBlock
	if cfg, err := o.stftConfig(); err == nil && cf.Window != "-" {
		block = cfg.Hop
	}
	return o, block
}

// loopProc wraps the loopback stand-in: once armed it adds one unit impulse
// to the input at the first frame of the next block and records the input
// frames at which the captured signal (before the addition) carries it
// back. Allocation- and lock-free: arrivals are published through an atomic
// count (single writer, the processing goroutine).
type loopProc struct {
	stream.Processor
	threshold float32
	arm       atomic.Bool
	at        atomic.Int64 // input frame of the impulse; −1 until armed
	pos       int64
	blocked   int64 // frames after an arrival during which none is counted (ringing)
	in        [][]float32
	view      [][]float32 // in, cut to the block's length
	arrived   [4]int64
	n         atomic.Int32
}

func (p *loopProc) Prepare(s stream.Spec) (int, error) {
	p.in = make([][]float32, s.Channels)
	for c := range p.in {
		p.in[c] = make([]float32, s.MaxFrames)
	}
	p.view = make([][]float32, s.Channels)
	p.at.Store(-1)
	return p.Processor.Prepare(s)
}

func (p *loopProc) Process(dst, src [][]float32) {
	n := len(src[0])
	at := p.at.Load()
	if at < 0 && p.arm.Load() {
		at = p.pos
		p.at.Store(at)
	}
	for c := range src {
		copy(p.in[c][:n], src[c])
	}
	for i, v := range src[0] {
		k := p.pos + int64(i)
		if k == at {
			p.in[0][i] += 1
		}
		if at >= 0 && k > at && v > p.threshold && k > p.blocked {
			if m := p.n.Load(); int(m) < len(p.arrived) {
				p.arrived[m] = k
				p.n.Store(m + 1)
			}
			p.blocked = k + 64
		}
	}
	p.pos += int64(n)
	for c := range p.view {
		p.view[c] = p.in[c][:n]
	}
	p.Processor.Process(dst, p.view)
}

func (p *loopProc) arrivals() []int64 {
	n := p.n.Load()
	return append([]int64(nil), p.arrived[:n]...)
}

// identityProc stands in for a time-domain method (ica) in the loopback:
// each channel through, no delay (ICA's own Latency is 0).
type identityProc struct{}

func (identityProc) Prepare(s stream.Spec) (int, error) { return s.Channels, nil }
func (identityProc) Process(dst, src [][]float32) {
	for c := range dst {
		copy(dst[c], src[c])
	}
}
func (identityProc) Reset()       {}
func (identityProc) Latency() int { return 0 }
func (identityProc) Err() error   { return nil }

// loopbackRun measures the round trip, repeating a measurement that late
// blocks disturbed (another process hogging the CPU), as the device
// package's loopback test does.
func (d *benchDevice) loopbackRun(ctx context.Context, proc stream.Processor, block, margin int, low bool) (*benchLoopback, string, error) {
	var lb *benchLoopback
	var note string
	for attempt := 1; attempt <= 3; attempt++ {
		var standIn stream.Processor = identityProc{}
		if sp, ok := proc.(*stream.Spectral); ok {
			var err error
			if standIn, err = stream.NewSpectral(sp.Config(), online.Passthrough{}); err != nil {
				return nil, "not measured: " + err.Error(), nil
			}
		}
		var disturbed bool
		var err error
		lb, disturbed, note, err = d.loopbackOnce(ctx, standIn, block, margin, low)
		if err != nil || lb == nil {
			return nil, note, err
		}
		lb.Attempts = attempt
		if lb.Agree || !disturbed {
			return lb, "", nil
		}
		note = "disturbed by late blocks"
	}
	return lb, note + " in 3 attempts", nil
}

// loopbackOnce runs one loopback measurement. It returns (nil, note) when
// it cannot measure, and an error only for what ends the sweep.
func (d *benchDevice) loopbackOnce(ctx context.Context, standIn stream.Processor, block, margin int, low bool) (*benchLoopback, bool, string, error) {
	thr := float32(0.5)
	if d.loopback == "cable" {
		thr = 0.2 // converters and cables attenuate and smear the impulse
	}
	p := &loopProc{Processor: standIn, threshold: thr}
	eng, err := stream.NewEngine(p, stream.EngineConfig{Spec: stream.Spec{Rate: stream.Rate(d.rate), Channels: 1, MaxFrames: block}, RingFrames: ringFramesFor(block, d.rate)})
	if err != nil {
		return nil, false, "not measured: " + err.Error(), nil
	}
	rt, err := stream.NewRealtime(eng, stream.RealtimeConfig{InChannels: 1, OutChannels: 1, MarginFrames: margin})
	if err != nil {
		return nil, false, "not measured: " + err.Error(), nil
	}
	dev, err := device.Open(device.Config{In: d.in, Out: d.out, InChannels: 1, OutChannels: 1, Rate: float64(d.rate), LowLatency: low},
		func(in, out []float32, _ device.Status) { rt.Callback(in, out) })
	if err != nil {
		return nil, false, "", err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- rt.Run(runCtx, nil) }()
	closeDev := func(err error) error {
		cancel()
		rerr := <-runErr
		if errors.Is(rerr, stream.ErrDeviceStalled) {
			dev.Abandon()
			return fmt.Errorf("%w: %v", errDeviceGone, rerr)
		}
		dev.Close(2 * time.Second)
		return err
	}
	if err := dev.Start(); err != nil {
		return nil, false, "", closeDev(err)
	}
	if d.loopback == "jack" {
		if err := wireJACKLoop(ctx); err != nil {
			return nil, false, "not measured: " + err.Error(), closeDev(nil)
		}
	}
	p.arm.Store(true)
	// Two laps on JACK (the second proves the first), one through a cable
	// (the returning impulse is attenuated).
	want := 2
	if d.loopback == "cable" {
		want = 1
	}
	deadline := time.Now().Add(loopbackLimit)
	for len(p.arrivals()) < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if err := closeDev(nil); err != nil {
		return nil, false, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, "", err
	}
	s := rt.Stats()
	a := p.arrivals()
	at := p.at.Load()
	if len(a) < want || at < 0 {
		note := fmt.Sprintf("not measured: the impulse came back %d times in %v", len(a), loopbackLimit)
		if d.loopback == "cable" && len(a) == 0 {
			// Nothing wired (or far too quiet): do not wait again for every
			// configuration.
			d.loopback, d.why = "", "not measured: with --loopback no impulse came back in the first configuration; is output 1 wired to input 1, at a level near 0 dB?"
			note = d.why
		}
		return nil, false, note, nil
	}
	per := s.PeriodFrames
	lb := &benchLoopback{
		MeasuredFrames:    a[0] - at,
		StreamDelayFrames: standIn.Latency(),
		PrimeFrames:       int64(stream.PrimeFor(int(per), block) + margin),
		PeriodFrames:      per,
	}
	if lb.PrimeFrames != s.PrimeFrames {
		// The driver fixes D from its first callback; a first callback of
		// another size than the rest changes it. Predict with what it used.
		lb.PrimeFrames = s.PrimeFrames
	}
	if d.loopback == "jack" {
		lb.HostLoopFrames = per // JACK delivers what we wrote one period later
	} else {
		il, ol := d.in.HighInputLatency, d.out.HighOutputLatency
		if low {
			il, ol = d.in.LowInputLatency, d.out.LowOutputLatency
		}
		lb.HostLoopFrames = int64(math.Round((il + ol).Seconds() * float64(d.rate)))
	}
	lb.PredictedFrames = int64(lb.StreamDelayFrames) + lb.PrimeFrames + lb.HostLoopFrames
	ms := func(f int64) float64 { return 1000 * float64(f) / float64(d.rate) }
	lb.MeasuredMs, lb.PredictedMs = ms(lb.MeasuredFrames), ms(lb.PredictedFrames)
	if len(a) >= 2 {
		lb.SecondLapFrames = a[1] - a[0]
	}
	if d.loopback == "jack" {
		lb.Agree = lb.MeasuredFrames == lb.PredictedFrames && lb.SecondLapFrames == lb.PredictedFrames
	} else {
		lb.Agree = absInt64(lb.MeasuredFrames-lb.PredictedFrames) <= per
	}
	disturbed := s.Passed+s.Dropped+s.UnderrunFrames > 0
	return lb, disturbed, "", nil
}

func absInt64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// ringFramesFor sizes the real-time engine's rings (live run and the
// device bench): a power of two holding at least 8 blocks and half a second.
func ringFramesFor(block, rate int) int {
	return 1 << bits.Len(uint(max(8*block, rate/2)-1))
}

// wireJACKLoop connects this process's first output port to its first
// input port and removes every other connection into that input (PortAudio
// connects the system capture ports when the stream starts).
func wireJACKLoop(ctx context.Context) error {
	name := device.JACKClientName()
	if name == "" {
		return errors.New("no JACK client name")
	}
	var pin, pout string
	var lsp string
	for try := 0; try < 100; try++ { // the ports appear when the stream starts
		b, err := jackTool(ctx, "jack_lsp", "-c")
		if err != nil {
			return err
		}
		lsp = b
		pin, pout = "", ""
		for _, l := range strings.Split(lsp, "\n") {
			switch {
			case pin == "" && strings.HasPrefix(l, name+":in_"):
				pin = l
			case pout == "" && strings.HasPrefix(l, name+":out_"):
				pout = l
			}
		}
		if pin != "" && pout != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pin == "" || pout == "" {
		return fmt.Errorf("the ports of JACK client %q are not listed by jack_lsp", name)
	}
	// jack_lsp -c: a port's connections follow it, indented.
	var into []string
	cur := ""
	for _, l := range strings.Split(lsp, "\n") {
		if l == "" {
			continue
		}
		if l[0] != ' ' && l[0] != '\t' {
			cur = l
			continue
		}
		if cur == pin {
			into = append(into, strings.TrimSpace(l))
		}
	}
	for _, src := range into {
		if _, err := jackTool(ctx, "jack_disconnect", src, pin); err != nil {
			return err
		}
	}
	_, err := jackTool(ctx, "jack_connect", pout, pin)
	return err
}

func jackTool(ctx context.Context, name string, args ...string) (string, error) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(c, name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// feeder is the load run's device callback: it hands the driver the next
// frames of the benchmark signal (interleaved, looped) instead of the
// device's capture, and the device's output buffer. Allocation-free.
type feeder struct {
	rt    *stream.Realtime
	x     []float32 // interleaved, ch channels
	ch    int
	outCh int
	pos   int // frame
	buf   []float32
}

// feederMaxFrames bounds the frames per callback the feeder can substitute
// (JACK's largest period is 8192); a larger callback gets fewer input frames,
// which the driver counts as an underrun.
const feederMaxFrames = 16384

func (f *feeder) callback(in, out []float32, _ device.Status) {
	n := min(len(out)/f.outCh, len(f.buf)/f.ch)
	frames := len(f.x) / f.ch
	for k := 0; k < n; {
		c := min(n-k, frames-f.pos)
		copy(f.buf[k*f.ch:(k+c)*f.ch], f.x[f.pos*f.ch:(f.pos+c)*f.ch])
		k += c
		if f.pos += c; f.pos == frames {
			f.pos = 0
		}
	}
	f.rt.Callback(f.buf[:n*f.ch], out)
}

// loopbackLimit bounds the wait for the impulse's laps (a round trip is
// well under a second unless periods are huge).
const loopbackLimit = 3 * time.Second

// loadWarmup is left out of the allocation and GC count (stream start,
// first callbacks), as file mode leaves out the first block.
const loadWarmup = 250 * time.Millisecond

// loadRun runs proc on the device for dur and fills row.
func (d *benchDevice) loadRun(ctx context.Context, row *benchRow, proc stream.Processor, block, margin int, low bool, sig [][]float32, dur time.Duration) error {
	ch := row.Channels
	eng, err := stream.NewEngine(proc, stream.EngineConfig{Spec: stream.Spec{Rate: stream.Rate(d.rate), Channels: ch, MaxFrames: block}, RingFrames: ringFramesFor(block, d.rate)})
	if err != nil {
		row.Error = err.Error()
		return nil
	}
	outCh := min(eng.OutChannels(), d.out.OutChannels)
	rt, err := stream.NewRealtime(eng, stream.RealtimeConfig{InChannels: ch, OutChannels: outCh, MarginFrames: margin})
	if err != nil {
		row.Error = err.Error()
		return nil
	}
	x := make([]float32, ch*len(sig[0]))
	for c := range sig {
		for i, v := range sig[c] {
			x[i*ch+c] = v
		}
	}
	f := &feeder{rt: rt, x: x, ch: ch, outCh: outCh, buf: make([]float32, feederMaxFrames*ch)}
	dev, err := device.Open(device.Config{In: d.in, Out: d.out, InChannels: 1, OutChannels: outCh, Rate: float64(d.rate), LowLatency: low}, f.callback)
	if err != nil {
		return err
	}
	// Collect the previous configuration's garbage now (as file mode does).
	runtime.GC()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	probe := stream.NewRuntimeProbe()
	started := time.Now()
	if err := dev.Start(); err != nil {
		dev.Close(2 * time.Second)
		return err
	}
	// The clock goroutine reads the runtime's counters after the warm-up
	// and at the end, then stops the run: the window holds nothing but
	// callbacks, processing and the driver's sleeps.
	var base, end stream.RuntimeReport
	measured := make(chan bool, 1)
	go func() {
		timer := time.NewTimer(loadWarmup)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-runCtx.Done():
			measured <- false
			return
		}
		base = probe.Read()
		timer.Reset(dur)
		select {
		case <-timer.C:
		case <-runCtx.Done():
			measured <- false
			return
		}
		end = probe.Read()
		measured <- true
		cancel()
	}()
	// No liveness probe (nil): Pa_IsStreamActive may block on a dead JACK
	// server (as in live run).
	runErr := rt.Run(runCtx, nil)
	cancel()
	ok := <-measured
	wall := time.Since(started)
	if errors.Is(runErr, stream.ErrDeviceStalled) {
		dev.Abandon()
		return fmt.Errorf("%w: %v", errDeviceGone, runErr)
	}
	closeErr := dev.Close(2 * time.Second)
	if err := ctx.Err(); err != nil {
		return err // interrupted: the row is incomplete
	}
	if runErr != nil {
		return runErr
	}
	if !ok {
		return errors.New("bench: the load run ended before its measurement window")
	}
	_ = closeErr // a slow close is not the configuration's fault

	var rep stream.Report
	ds := dev.Stats()
	rt.FillReport(&rep, stream.DeviceReport{})
	s := rt.Stats()
	p := rep.Processing
	row.LatencyFrames, row.LatencyMs, row.HopFrames = rep.Latency.AlgorithmicFrames, rep.Latency.AlgorithmicMs, rep.Latency.BlockFrames
	row.P50Us, row.P99Us, row.P999Us, row.MaxUs, row.PeriodUs = p.P50Us, p.P99Us, p.P999Us, p.MaxUs, p.PeriodUs
	row.RTF, row.Headroom = rep.RealTimeFactor, p.HeadroomP999
	rr := end
	rr.HeapAllocObjects -= base.HeapAllocObjects
	rr.GCCycles -= base.GCCycles
	rr.GCPauseSeconds -= base.GCPauseSeconds
	row.Allocs, row.GCCycles, row.GCPauseMs = rr.HeapAllocObjects, rr.GCCycles, 1000*rr.GCPauseSeconds
	row.Late, row.Dropped, row.Seconds = s.Late, s.Dropped, rep.AudioSeconds
	dv := row.Device
	dv.PeriodFrames, dv.PrimeFrames, dv.Callbacks, dv.WallSeconds = s.PeriodFrames, s.PrimeFrames, s.Callbacks, wall.Seconds()
	if rep.Realtime != nil {
		dv.BudgetMs = rep.Realtime.BudgetMs
	}
	dv.NormalBlocks, dv.DegradedBlocks, dv.PassedBlocks = s.Normal, s.Degraded, s.Passed
	dv.UnderrunFrames, dv.UnderrunEvents, dv.DiscardedFrames = s.UnderrunFrames, s.UnderrunEvents, s.DiscardedFrames
	dv.InputLostFrames, dv.InputLostEvents = s.InputLostFrames, s.InputLostEvents
	dv.HostInUnderflows, dv.HostInOverflows, dv.HostOutUnderflows, dv.HostOutOverflows = ds.InputUnderflows, ds.InputOverflows, ds.OutputUnderflows, ds.OutputOverflows
	dv.Xruns = s.UnderrunEvents + s.InputLostEvents + ds.InputUnderflows + ds.InputOverflows + ds.OutputUnderflows + ds.OutputOverflows
	eng.Histogram().Each(func(upper time.Duration, n uint64) {
		row.hist = append(row.hist, histBin{float64(upper) / float64(time.Microsecond), n})
	})
	return nil
}
