package stream

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"time"
)

// Report describes one run: what was asked, the latency budget term by term,
// how long the processing took, and what went wrong. It is written as
// DIR/report.json by `live separate` and `live run`.
type Report struct {
	Version  int            `json:"version"`
	Command  string         `json:"command"`
	Input    string         `json:"input,omitempty"`
	Rate     int            `json:"rate_hz"`
	Channels int            `json:"channels"`
	Sources  int            `json:"sources"`
	Settings map[string]any `json:"settings"`

	Latency    LatencyReport    `json:"latency"`
	Processing ProcessingReport `json:"processing"`

	AudioSeconds   float64 `json:"audio_seconds"`
	WallSeconds    float64 `json:"wall_seconds"`
	RealTimeFactor float64 `json:"real_time_factor"` // processing time / audio time

	LateBlocks    int64 `json:"late_blocks"`    // blocks that took longer than they last
	DroppedBlocks int64 `json:"dropped_blocks"` // never in file mode

	Runtime RuntimeReport `json:"runtime"`
	// Realtime is set by `live run`: the device, the latency path term by
	// term, and the events that kept the latency bounded.
	Realtime *RealtimeReport `json:"realtime,omitempty"`
	Events   EventReport     `json:"events"`

	Interrupted bool     `json:"interrupted"`
	Outputs     []string `json:"outputs,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// LatencyReport lists every term of the latency path, in frames and ms.
type LatencyReport struct {
	// AlgorithmicFrames is what the processing itself costs, the synthesis
	// window's reach for an STFT separator (DESIGN.md): a sample waits for
	// its block to fill (BlockFrames), then the processor's stream delay
	// (StreamDelayFrames). Device buffers and processing time come on top.
	AlgorithmicFrames int     `json:"algorithmic_frames"`
	AlgorithmicMs     float64 `json:"algorithmic_ms"`
	// StreamDelayFrames is Processor.Latency: input frame k reaches the
	// output stream at frame k+StreamDelayFrames.
	StreamDelayFrames int `json:"stream_delay_frames"`
	BlockFrames       int `json:"block_frames"`
	// CompensatedInFile says the stream delay was removed from the written
	// files (file mode), so output frame k lines up with input frame k.
	CompensatedInFile bool `json:"compensated_in_file"`
}

// NewLatencyReport fills a LatencyReport for a processor with the given
// stream delay, driven in blocks of block frames at rate.
func NewLatencyReport(streamDelay, block int, rate Rate, compensated bool) LatencyReport {
	alg := streamDelay + block
	return LatencyReport{
		AlgorithmicFrames: alg,
		AlgorithmicMs:     1000 * float64(alg) / float64(rate),
		StreamDelayFrames: streamDelay,
		BlockFrames:       block,
		CompensatedInFile: compensated,
	}
}

// ProcessingReport is the per-block processing time distribution.
type ProcessingReport struct {
	Blocks   int64   `json:"blocks"`
	PeriodUs float64 `json:"block_period_us"` // real-time duration of one block
	MeanUs   float64 `json:"mean_us"`
	P50Us    float64 `json:"p50_us"`
	P99Us    float64 `json:"p99_us"`
	P999Us   float64 `json:"p999_us"`
	MaxUs    float64 `json:"max_us"`
	// HeadroomP999 is block period / p99.9: how many times over the
	// processing would still keep up.
	HeadroomP999 float64 `json:"headroom_p999"`
}

// RuntimeReport holds runtime/metrics deltas over the steady-state run
// (after the first block): process-wide, so a progress display adds to them.
type RuntimeReport struct {
	HeapAllocObjects uint64  `json:"heap_alloc_objects"`
	HeapAllocBytes   uint64  `json:"heap_alloc_bytes"`
	GCCycles         uint64  `json:"gc_cycles"`
	GCPauseSeconds   float64 `json:"gc_pause_seconds"`
}

// EventReport counts repaired numerical and I/O events.
type EventReport struct {
	NonFiniteInput int64 `json:"nonfinite_input_samples"`
	ClippedInput   int64 `json:"clipped_input_samples"`
	// ClippedSpectra: spectra whose analysis window held clipped input;
	// separated, but an adaptive separator did not learn from them.
	ClippedSpectra   int64  `json:"clipped_spectra,omitempty"`
	ClippedOutput    int64  `json:"clipped_output_samples"`
	ProcessorError   string `json:"processor_error,omitempty"`
	ProcessorDetails any    `json:"processor_details,omitempty"`
	// SeparatorEvents: the adaptive separator's own counters (for IVA:
	// repaired numerical events, spectra not learnt from and why, channels
	// excluded), if it keeps any.
	SeparatorEvents any `json:"separator_events,omitempty"`
}

// WriteFile writes r as indented JSON, via a temporary file and a rename so
// that a crash never leaves half a report.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("stream: report: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("stream: write report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("stream: write report: %w", err)
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// fillProcessing copies the engine's histogram into the report.
func (r *Report) fillProcessing(e *Engine) {
	h := e.Histogram()
	p := &r.Processing
	p.Blocks = e.Blocks()
	p.PeriodUs = us(e.period)
	p.MeanUs = us(h.Mean())
	p.P50Us = us(h.Quantile(0.50))
	p.P99Us = us(h.Quantile(0.99))
	p.P999Us = us(h.Quantile(0.999))
	p.MaxUs = us(h.Max())
	if p.P999Us > 0 {
		p.HeadroomP999 = p.PeriodUs / p.P999Us
	}
	r.LateBlocks = e.Late()
}

// runtimeSample reads the runtime/metrics this report cares about.
type runtimeSample struct {
	objects, bytes, cycles uint64
	pause                  float64
}

var runtimeMetricNames = []string{
	"/gc/heap/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/gc/cycles/total:gc-cycles",
	"/sched/pauses/total/gc:seconds",
}

func readRuntime(s []metrics.Sample) runtimeSample {
	metrics.Read(s)
	var out runtimeSample
	for _, m := range s {
		switch m.Name {
		case "/gc/heap/allocs:objects":
			out.objects = m.Value.Uint64()
		case "/gc/heap/allocs:bytes":
			out.bytes = m.Value.Uint64()
		case "/gc/cycles/total:gc-cycles":
			out.cycles = m.Value.Uint64()
		case "/sched/pauses/total/gc:seconds":
			if m.Value.Kind() == metrics.KindFloat64Histogram {
				h := m.Value.Float64Histogram()
				for i, c := range h.Counts {
					// midpoint of each bucket; the edges may be ±Inf
					lo, hi := h.Buckets[i], h.Buckets[i+1]
					mid := hi
					if lo > 0 && hi < 1e300 {
						mid = (lo + hi) / 2
					} else if lo > 0 {
						mid = lo
					}
					out.pause += float64(c) * mid
				}
			}
		}
	}
	return out
}

func newRuntimeSamples() []metrics.Sample {
	s := make([]metrics.Sample, len(runtimeMetricNames))
	for i, n := range runtimeMetricNames {
		s[i].Name = n
	}
	// The first Read allocates the pause histogram; later Reads reuse it.
	// Without this warm-up the base sample's own allocation (and the span
	// refill it may cause, which the runtime counts a whole span at a
	// time) would show up as allocations of the run.
	metrics.Read(s)
	return s
}

func (a runtimeSample) delta(b runtimeSample) RuntimeReport {
	return RuntimeReport{
		HeapAllocObjects: b.objects - a.objects,
		HeapAllocBytes:   b.bytes - a.bytes,
		GCCycles:         b.cycles - a.cycles,
		GCPauseSeconds:   b.pause - a.pause,
	}
}

// OutputPaths are the written files, joined to dir.
func (r *Report) OutputPaths(dir string) []string {
	p := make([]string, len(r.Outputs))
	for i, o := range r.Outputs {
		p[i] = filepath.Join(dir, o)
	}
	return p
}
