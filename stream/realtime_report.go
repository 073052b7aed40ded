package stream

import (
	"math"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// RealtimeStats are the driver's counters at one moment. Every field is
// read from atomics: Stats is safe from any goroutine and allocates nothing.
type RealtimeStats struct {
	Callbacks    int64 // device callbacks so far
	PeriodFrames int64 // frames in the last callback
	PrimeFrames  int64 // D: output priming (0 before the first callback)

	Blocks   int64 // blocks run through the processor (normal + degraded)
	Normal   int64 // processed with the full budget
	Degraded int64 // processed with a reduced budget (Degrader)
	Passed   int64 // not processed: mic 1 passed through, aligned
	Dropped  int64 // not processed: the output slot had already been played
	Late     int64 // processed, but finished after the output was due

	UnderrunFrames   int64 // output frames played as silence (nothing ready)
	UnderrunEvents   int64 // callbacks that played such silence
	DiscardedFrames  int64 // output frames that arrived too late and were thrown away
	InputLostFrames  int64 // input frames the capture ring had no room for
	InputLostEvents  int64
	RecordLostFrames int64 // frames the recorder's ring had no room for

	// Processing time per block (normal and degraded), cumulative.
	P50, P99, P999, Max, Mean time.Duration
	// Estimate is the recent worst processing time the driver plans with.
	Estimate time.Duration

	InFillMeanFrames  float64 // input frames waiting when a block was taken
	InFillMaxFrames   int64
	OutFillMeanFrames float64 // output frames queued after a callback
	OutFillMaxFrames  int64
}

// Stats reads the counters.
func (r *Realtime) Stats() RealtimeStats {
	s := RealtimeStats{
		Callbacks:        r.callbacks.Load(),
		PeriodFrames:     r.period.Load(),
		PrimeFrames:      r.prime.Load(),
		Normal:           r.normal.Load(),
		Degraded:         r.degraded.Load(),
		Passed:           r.passed.Load(),
		Dropped:          r.dropped.Load(),
		Late:             r.late.Load(),
		UnderrunFrames:   r.underFr.Load(),
		UnderrunEvents:   r.underEv.Load(),
		DiscardedFrames:  r.discarded.Load(),
		InputLostFrames:  r.inLostFr.Load(),
		InputLostEvents:  r.inLostEv.Load(),
		RecordLostFrames: r.recLost.Load(),
		P50:              time.Duration(r.pub.p50.Load()),
		P99:              time.Duration(r.pub.p99.Load()),
		P999:             time.Duration(r.pub.p999.Load()),
		Max:              time.Duration(r.pub.max.Load()),
		Mean:             time.Duration(r.pub.mean.Load()),
		Estimate:         time.Duration(r.pub.est.Load()),
		InFillMaxFrames:  r.pub.inFillMax.Load(),
		InFillMeanFrames: math.Float64frombits(r.pub.inFillMean.Load()),
		OutFillMaxFrames: r.outFillMax.Load(),
	}
	s.Blocks = s.Normal + s.Degraded
	if s.Callbacks > 0 {
		s.OutFillMeanFrames = float64(r.outFillSum.Load()) / float64(s.Callbacks)
	}
	return s
}

// Snapshot is what a monitor shows. SnapshotTo fills it without allocating
// once its slices have room.
type Snapshot struct {
	Stats RealtimeStats
	// InLevels (per mic) and OutLevels (per source) are smoothed RMS levels
	// in dBFS (−120 for silence).
	InLevels, OutLevels []float64
	// Alpha per source, NaN where unknown; nil without an AlphaReporter.
	Alpha []float64
	// Convergence, NaN without a ConvergenceReporter.
	Convergence float64
	// SceneChanges detected so far; −1 without scene tracking.
	SceneChanges int64
	// Classes per source: index into Realtime.ClassNames, −1 undecided;
	// nil without a ClassReporter.
	Classes []int
	// Gains per source as the callback applies them (mute = 0).
	Gains []float32
}

// SnapshotTo fills s. Safe from any goroutine.
func (r *Realtime) SnapshotTo(s *Snapshot) {
	s.Stats = r.Stats()
	s.InLevels = loadFloats(s.InLevels, r.pub.inLevel)
	s.OutLevels = loadFloats(s.OutLevels, r.pub.outLevel)
	if r.alphaRep != nil {
		s.Alpha = loadFloats(s.Alpha, r.pub.alpha)
	} else {
		s.Alpha = s.Alpha[:0]
	}
	s.Convergence = math.Float64frombits(r.pub.conv.Load())
	s.SceneChanges = r.SceneChanges()
	if r.classRep != nil {
		s.Classes = s.Classes[:0]
		for i := range r.pub.classes {
			s.Classes = append(s.Classes, int(r.pub.classes[i].Load()))
		}
	} else {
		s.Classes = s.Classes[:0]
	}
	s.Gains = s.Gains[:0]
	for i := range r.srcGain {
		s.Gains = append(s.Gains, r.SourceGain(i))
	}
}

func loadFloats(dst []float64, src []atomic.Uint64) []float64 {
	dst = dst[:0]
	for i := range src {
		dst = append(dst, math.Float64frombits(src[i].Load()))
	}
	return dst
}

// DeviceReport is what the device layer says about the stream.
type DeviceReport struct {
	HostAPI string `json:"host_api"`
	Input   string `json:"input"`
	Output  string `json:"output"`
	// JACKClient is the JACK client name, when the host is JACK.
	JACKClient string `json:"jack_client,omitempty"`
	// ReportedInputMs/ReportedOutputMs: PortAudio's stream latencies
	// (Pa_GetStreamInfo); JACK 19.6 always reports 0 for input.
	ReportedInputMs  float64 `json:"reported_input_ms"`
	ReportedOutputMs float64 `json:"reported_output_ms"`
	// DacLeadMs: OutputBufferDacTime − CurrentTime at the last callback.
	DacLeadMs float64 `json:"dac_lead_ms"`
	AdcLagMs  float64 `json:"adc_lag_ms"`

	Callbacks         int64 `json:"callbacks"`
	MinCallbackFrames int64 `json:"min_callback_frames"`
	MaxCallbackFrames int64 `json:"max_callback_frames"`
	// Callbacks flagged by PortAudio (host-level xruns).
	InputUnderflows  int64 `json:"input_underflow_flags"`
	InputOverflows   int64 `json:"input_overflow_flags"`
	OutputUnderflows int64 `json:"output_underflow_flags"`
	OutputOverflows  int64 `json:"output_overflow_flags"`
}

// LatencyTerm is one buffer on the path from the microphone to the speaker.
type LatencyTerm struct {
	Name   string  `json:"name"`
	Frames float64 `json:"frames"`
	Ms     float64 `json:"ms"`
	Note   string  `json:"note"`
}

// RealtimeReport is the real-time part of report.json: every buffer of the
// latency path, the budget, and every event that kept the bound.
type RealtimeReport struct {
	Device DeviceReport `json:"device"`
	// Path lists every term of the latency, in signal order; TotalMs is
	// their sum, the microphone-to-speaker latency.
	Path        []LatencyTerm `json:"latency_path"`
	TotalFrames float64       `json:"total_frames"`
	TotalMs     float64       `json:"total_ms"`
	// CallbackToCallbackFrames = stream delay + priming: the exact delay from
	// a frame in the callback's input buffer to the same frame in its output
	// buffer (what the loopback test measures, plus the host's own loop).
	CallbackToCallbackFrames int64 `json:"callback_to_callback_frames"`
	PrimeFrames              int64 `json:"prime_frames"`
	PeriodFrames             int64 `json:"period_frames"`
	// BudgetMs is the time a block has from its last input frame's arrival
	// to its output deadline (one callback period plus the margin).
	BudgetMs float64 `json:"budget_ms"`

	Blocks struct {
		Normal   int64 `json:"normal"`
		Degraded int64 `json:"degraded"`
		Passed   int64 `json:"passed_through"`
		Dropped  int64 `json:"dropped"`
		Late     int64 `json:"late"`
	} `json:"blocks"`
	UnderrunFrames   int64 `json:"underrun_frames"`
	UnderrunEvents   int64 `json:"underrun_events"`
	DiscardedFrames  int64 `json:"discarded_late_frames"`
	InputLostFrames  int64 `json:"input_lost_frames"`
	InputLostEvents  int64 `json:"input_lost_events"`
	RecordLostFrames int64 `json:"record_lost_frames"`

	InRingMeanFrames  float64 `json:"input_ring_mean_frames"`
	InRingMaxFrames   int64   `json:"input_ring_max_frames"`
	OutRingMeanFrames float64 `json:"output_ring_mean_frames"`
	OutRingMaxFrames  int64   `json:"output_ring_max_frames"`
}

// FillReport writes the real-time run into rep: processing percentiles,
// late and dropped blocks, and rep.Realtime with the latency path; dev is
// what the device layer reported.
func (r *Realtime) FillReport(rep *Report, dev DeviceReport) {
	r.publishStats()
	rep.fillProcessing(r.e)
	s := r.Stats()
	rate := float64(r.rate)
	ms := func(frames float64) float64 { return 1000 * frames / rate }
	// The same definition as file mode: the algorithmic latency is the
	// stream delay plus one block. In real time the block fills while the
	// callbacks bring its frames in, so the path below counts the stream
	// delay alone and the rest in the device and reblocking terms.
	rep.Latency = NewLatencyReport(r.lat, r.block, r.rate, r.cfg.Record != nil && r.cfg.Record.Compensate)
	rep.LateBlocks = s.Late
	rep.DroppedBlocks = s.Dropped

	rr := &RealtimeReport{Device: dev, PrimeFrames: s.PrimeFrames, PeriodFrames: s.PeriodFrames}
	p, h := s.PeriodFrames, int64(r.block)
	reblock := int64(0)
	if p > 0 {
		reblock = int64(PrimeFor(int(p), int(h))) - p
	}
	margin := int64(r.cfg.MarginFrames)
	add := func(name string, frames float64, note string) {
		rr.Path = append(rr.Path, LatencyTerm{Name: name, Frames: frames, Ms: ms(frames), Note: note})
		rr.TotalFrames += frames
	}
	add("device input", dev.ReportedInputMs*rate/1000, "PortAudio's reported input latency (ADC to callback)")
	add("reblocking", float64(reblock), "input ring: callbacks of P frames complete blocks of H only every lcm(P,H); worst case H−gcd(P,H)")
	add("stream delay", float64(r.lat), "processor latency after its block is in: the algorithmic latency less the block, whose filling the device period and reblocking cover")
	add("processing period", float64(p), "the callback consumes output one buffer at a time: one period reserved for processing (the budget)")
	add("safety margin", float64(margin), "extra output priming (--latency normal)")
	add("device output", dev.ReportedOutputMs*rate/1000, "PortAudio's reported output latency (callback to DAC)")
	rr.TotalMs = ms(rr.TotalFrames)
	rr.CallbackToCallbackFrames = int64(r.lat) + s.PrimeFrames
	if p > 0 {
		rr.BudgetMs = ms(float64(p + margin))
	}
	rr.Blocks.Normal, rr.Blocks.Degraded, rr.Blocks.Passed, rr.Blocks.Dropped, rr.Blocks.Late = s.Normal, s.Degraded, s.Passed, s.Dropped, s.Late
	rr.UnderrunFrames, rr.UnderrunEvents, rr.DiscardedFrames = s.UnderrunFrames, s.UnderrunEvents, s.DiscardedFrames
	rr.InputLostFrames, rr.InputLostEvents, rr.RecordLostFrames = s.InputLostFrames, s.InputLostEvents, s.RecordLostFrames
	rr.InRingMeanFrames, rr.InRingMaxFrames = s.InFillMeanFrames, s.InFillMaxFrames
	rr.OutRingMeanFrames, rr.OutRingMaxFrames = s.OutFillMeanFrames, s.OutFillMaxFrames
	rep.Realtime = rr
	rep.AudioSeconds = float64(r.inPos) / rate
	if rep.AudioSeconds > 0 {
		busy := time.Duration(float64(rep.Processing.MeanUs) * float64(rep.Processing.Blocks) * float64(time.Microsecond))
		rep.RealTimeFactor = busy.Seconds() / rep.AudioSeconds
	}
	if cs, ok := r.e.p.(interface{ ClippedSpectra() int64 }); ok {
		rep.Events.ClippedSpectra = cs.ClippedSpectra()
	}
	if nf, ok := r.e.p.(interface{ NonFinite() int64 }); ok {
		rep.Events.NonFiniteInput = nf.NonFinite()
	}
	if err := r.e.p.Err(); err != nil {
		rep.Events.ProcessorError = err.Error()
	}
}

// RuntimeProbe reads runtime/metrics (heap allocations, GC cycles, GC
// pauses) without allocating, for --stats lines and the report.
type RuntimeProbe struct{ s []metrics.Sample }

// NewRuntimeProbe allocates the metric samples.
func NewRuntimeProbe() *RuntimeProbe { return &RuntimeProbe{s: newRuntimeSamples()} }

// Read returns the cumulative figures since the process started.
func (p *RuntimeProbe) Read() RuntimeReport {
	var zero runtimeSample
	return zero.delta(readRuntime(p.s))
}
