package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/device"
	"github.com/livesep/livesep/stream/wav"
)

// benchConfig is one point of the sweep.
type benchConfig struct {
	Channels int    `json:"channels"`
	Sources  int    `json:"sources"`
	Method   string `json:"method"`
	Update   string `json:"update,omitempty"`
	Window   string `json:"window"` // "1024/256", "low", or "-" for time-domain methods
	// Track is IVA's scene-tracking memory ("1s", method iva-track: what
	// "live run" does by default for two sources); "" is tracking off.
	Track string `json:"track,omitempty"`
}

func (c benchConfig) String() string {
	return fmt.Sprintf("%d×%d %s %s", c.Channels, c.Sources, c.methodLabel(), c.Window)
}

// methodLabel names the method as tables and plots show it: "iva aux",
// "iva aux +track 1s", "ica".
func (c benchConfig) methodLabel() string {
	m := c.Method
	if c.Update != "" && c.Method != "ica" {
		m += " " + c.Update
	}
	if c.Track != "" {
		m += " +track " + c.Track
	}
	return m
}

// benchRow is one measured configuration.
type benchRow struct {
	benchConfig
	LatencyFrames int     `json:"latency_frames"`
	LatencyMs     float64 `json:"latency_ms"`
	HopFrames     int     `json:"hop_frames"`
	P50Us         float64 `json:"p50_us"`
	P99Us         float64 `json:"p99_us"`
	P999Us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	PeriodUs      float64 `json:"hop_period_us"`
	RTF           float64 `json:"real_time_factor"`
	Headroom      float64 `json:"headroom_p999"`
	Allocs        uint64  `json:"heap_alloc_objects"`
	GCCycles      uint64  `json:"gc_cycles"`
	GCPauseMs     float64 `json:"gc_pause_ms"`
	Late          int64   `json:"late_blocks"`
	Dropped       int64   `json:"dropped_blocks"`
	Seconds       float64 `json:"audio_seconds"`
	Error         string  `json:"error,omitempty"`
	// Device: what device mode measured (see bench_device.go); absent in
	// file mode. In device mode the fields above come from the real-time run.
	Device *benchRowDevice `json:"device,omitempty"`

	hist []histBin
}

type histBin struct {
	upperUs float64
	count   uint64
}

// benchReport is `live bench --json`.
type benchReport struct {
	Machine string           `json:"machine"`
	Rate    int              `json:"rate_hz"`
	Device  *benchDeviceInfo `json:"device,omitempty"` // device mode only
	Rows    []benchRow       `json:"rows"`
	// Interrupted: Ctrl-C ended the sweep; Rows holds the configurations
	// that completed.
	Interrupted bool `json:"interrupted,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		quick    bool
		asJSON   bool
		dir      string
		seconds  float64
		chList   string
		methods  string
		windows  string
		inPath   string
		rateFlag int
		devQ     string
		devOut   string
		cable    bool
		jackName string
	)
	c := newCLI("bench", "bench [--quick] [--json] [--out DIR] [--device jack|DEVICE [--loopback]] [sweep flags]",
		`  live bench --quick                       # about 30 s: the main configurations
  live bench                               # the full sweep, 20 s of audio each
  live bench --channels 2 --methods iva-aux,iva-ng --windows 512,1024,2048,low
  live bench --seconds 60 --methods none   # 60 s runs: GC cycles must stay 0
  live bench --device jack --quick         # on the running JACK server, under a minute
  live bench --device "USB Audio" --loopback --methods iva-aux --channels 2

Runs each configuration through the real engine in file mode (the same block
loop as "live run", without a clock) on a multichannel signal made from the
built-in demo sources, or on --in. Measures per-hop processing time
(p50/p99/p99.9/max), the real-time factor, headroom (hop period / p99.9),
heap allocations, GC cycles and GC pause during the run, late and dropped
blocks, and the algorithmic latency. Writes DIR/bench.json and the plots
DIR/bench_hist.png, DIR/bench_rtf.png, DIR/bench_latency.png.

Device mode (--device) measures each configuration on an audio device in
real time instead, twice:
  loopback  the configuration's STFT with a passthrough separator, the same
            block and output margin as "live run", with output 1 wired to
            input 1: on JACK our own ports are connected (the system capture
            is disconnected from our input); on other host APIs only with
            --loopback (a cable from output 1 to input 1), else it is not
            measured. An impulse is sent round; the measured round trip is
            shown next to the prediction L + D + P (stream delay + output
            priming + one JACK period; with a cable the host's reported
            in+out latency instead of P) and whether they agree (JACK:
            exactly, on two laps; cable: within one period).
  load      the configuration's method for --seconds in real time, paced by
            the device's callbacks, with the generated signal (or --in) fed
            to the separator instead of the capture, so the load is that of
            the configuration's channel count: p50…max, RTF, headroom, blocks
            late/passed through/dropped, xruns (output underruns, lost input,
            callbacks the host flagged), allocations and GC over the steady
            state (after 0.25 s).
The device runs at its default rate; --rate or --in open it at theirs
(a JACK server runs at its own rate only).
--device takes "jack" (the JACK server's system ports), "default", or a
device as "live run --in" does (name, unique substring, index from "live
devices", API:name); --device-out picks a different output device.
Ctrl-C ends the sweep: bench.json and the plots hold what completed.
`, stdout)
	c.fs.BoolVar(&quick, "quick", false, "a short sweep of the main configurations (about 30 s; under a minute with --device)")
	c.fs.BoolVar(&asJSON, "json", false, "print JSON instead of the table")
	c.fs.StringVar(&dir, "out", "livesep-bench", "folder for bench.json and the plots")
	c.fs.Float64Var(&seconds, "seconds", 0, "seconds of audio per configuration (default 20, or 5 with --quick;\nwith --device: seconds of real time, default 10, or 1.5 with --quick)")
	c.fs.StringVar(&chList, "channels", "", "channel counts to sweep (default 1,2,4,8)")
	c.fs.StringVar(&methods, "methods", "", "methods: none, ica, iva-aux, iva-track (aux with scene tracking, the default of\n\"live run\" for 2 sources; iva-aux and iva-ng run without it), iva-ng, dict, iva+dict (default all)")
	c.fs.StringVar(&windows, "windows", "", "STFT windows N (hop N/4) or low (default 512,1024,2048,low)")
	c.fs.StringVar(&inPath, "in", "", "benchmark on this WAV file instead of the generated signal (its channel count is used)")
	c.fs.IntVar(&rateFlag, "rate", 16000, "sample rate of the generated signal (with --device: default the device's rate)")
	c.fs.StringVar(&devQ, "device", "", "measure on this audio device in real time: jack, default, or a device as \"live run --in\" takes it")
	c.fs.StringVar(&devOut, "device-out", "", "with --device: a different output device")
	c.fs.BoolVar(&cable, "loopback", false, "with --device (not JACK): output 1 is wired to input 1; measure the round trip through it")
	c.fs.StringVar(&jackName, "jack-name", "livesep-bench", "with --device on JACK: the JACK client name")
	if err := c.parse(args); err != nil {
		return err
	}
	rateSet := false
	c.fs.Visit(func(f *flag.Flag) { rateSet = rateSet || f.Name == "rate" })
	if devQ == "" && (devOut != "" || cable) {
		return usagef("--device-out and --loopback need --device (e.g. --device jack)")
	}
	if seconds == 0 {
		switch {
		case devQ != "" && quick:
			seconds = 1.5
		case devQ != "":
			seconds = 10
		case quick:
			seconds = 5
		default:
			seconds = 20
		}
	}
	if seconds <= 0 || seconds > 3600 {
		return usagef("--seconds %g: want 0 < seconds <= 3600", seconds)
	}
	configs, err := benchSweep(quick, chList, methods, windows)
	if err != nil {
		return err
	}
	var fileSig [][]float32
	rate := rateFlag
	if inPath != "" {
		info, x, err := wav.ReadFile(inPath)
		if err != nil {
			return err
		}
		fileSig, rate, rateSet = x, info.Rate, true
		var kept []benchConfig
		for _, cf := range configs {
			if cf.Channels == info.Channels {
				kept = append(kept, cf)
			}
		}
		if len(kept) == 0 {
			return usagef("--in %s has %d channels; no configuration in the sweep has that many", inPath, info.Channels)
		}
		configs = kept
	}
	var dev *benchDevice
	if devQ != "" {
		r := 0
		if rateSet {
			r = rate
		}
		if dev, err = openBenchDevice(devQ, devOut, jackName, cable, r); err != nil {
			return err
		}
		defer dev.close()
		rate = dev.rate
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	rep := benchReport{Machine: machineDescription(), Rate: rate}
	if !asJSON {
		if dev != nil {
			fmt.Fprintf(stdout, "%s; device %s at %d Hz, loopback %s\n%d configurations, loopback then %.1f s of real time each\n",
				rep.Machine, dev, rate, dev.info.Loopback, len(configs), seconds)
		} else {
			fmt.Fprintf(stdout, "%s; %d configurations, %.0f s of %d Hz audio each\n", rep.Machine, len(configs), seconds, rate)
		}
	}
	var runErr error
	for i, cf := range configs {
		if ctx.Err() != nil {
			break
		}
		if !asJSON {
			fmt.Fprintf(stderr, "\r\033[K[%d/%d] %-32s", i+1, len(configs), cf)
		}
		sig := fileSig
		if sig == nil {
			sig = benchSignal(cf.Channels, cf.Sources, int(seconds*float64(rate)), rate)
		}
		var row benchRow
		if dev != nil {
			row, runErr = dev.benchOneDevice(ctx, cf, sig, time.Duration(seconds*float64(time.Second)))
		} else {
			row = benchOne(ctx, cf, sig, rate)
		}
		if ctx.Err() != nil || runErr != nil {
			break // an interrupted or failed configuration is left out
		}
		rep.Rows = append(rep.Rows, row)
	}
	if !asJSON {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if dev != nil {
		dev.info.JACKClient = device.JACKClientName()
		rep.Device = &dev.info
	}
	rep.Interrupted = ctx.Err() != nil
	if err := writeJSON(filepath.Join(dir, "bench.json"), rep); err != nil {
		return errors.Join(runErr, err)
	}
	if err := benchPlots(dir, rep.Rows); err != nil {
		return errors.Join(runErr, fmt.Errorf("plots: %w", err))
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBench(stdout, rep.Rows)
		fmt.Fprintf(stdout, "\nwrote %s/bench.json, bench_hist.png, bench_rtf.png, bench_latency.png\n", dir)
	}
	if rep.Interrupted {
		if !asJSON {
			fmt.Fprintf(stdout, "interrupted after %d of %d configurations\n", len(rep.Rows), len(configs))
		}
		return context.Canceled
	}
	if runErr != nil {
		return fmt.Errorf("after %d of %d configurations: %w", len(rep.Rows), len(configs), runErr)
	}
	return nil
}

// benchSweep lists the configurations to run.
func benchSweep(quick bool, chList, methods, windows string) ([]benchConfig, error) {
	chs := []int{1, 2, 4, 8}
	ms := []string{"none", "ica", "iva-aux", "iva-track", "iva-ng", "dict", "iva+dict"}
	ws := []string{"512", "1024", "2048", "low"}
	if quick {
		ms = []string{"none", "ica", "iva-aux", "iva-track", "iva-ng", "dict", "iva+dict"}
		ws = []string{"1024", "low"}
	}
	var err error
	if chList != "" {
		chs = nil
		for _, s := range strings.Split(chList, ",") {
			n, e := strconv.Atoi(strings.TrimSpace(s))
			if e != nil || n < 1 || n > 32 {
				return nil, usagef("--channels %q: want numbers between 1 and 32", chList)
			}
			chs = append(chs, n)
		}
	}
	if methods != "" {
		ms = strings.Split(methods, ",")
		for _, m := range ms {
			switch m {
			case "none", "ica", "iva-aux", "iva-track", "iva-ng", "dict", "iva+dict":
			default:
				return nil, usagef("--methods: unknown method %q (want none, ica, iva-aux, iva-track, iva-ng, dict, iva+dict)", m)
			}
		}
	}
	if windows != "" {
		ws = strings.Split(windows, ",")
		for _, w := range ws {
			if w == "low" {
				continue
			}
			if n, e := strconv.Atoi(w); e != nil || n < 16 || n%4 != 0 {
				return nil, usagef("--windows: %q is not low or a window size divisible by 4", w)
			}
		}
	}
	var out []benchConfig
	for _, ch := range chs {
		src := min(ch, 4)
		for _, m := range ms {
			method, update, track := m, "", ""
			if m == "iva-track" {
				method, update, track = "iva", "aux", defaultTrack.String()
			} else if strings.HasPrefix(m, "iva-") {
				method, update = "iva", strings.TrimPrefix(m, "iva-")
			}
			multi := method == "ica" || method == "iva" || method == "iva+dict"
			if multi && ch < 2 {
				continue
			}
			if track != "" && src != 2 {
				continue // tracking is for two sources
			}
			if quick && method != "none" && ch != 2 && !(method == "iva" && update == "aux" && track == "" && ch == 4) {
				continue // quick: every method at 2 channels, the pipeline alone at every count
			}
			s := src
			if !multi {
				s = 1
			}
			if method == "ica" {
				out = append(out, benchConfig{Channels: ch, Sources: s, Method: method, Update: "aux", Window: "-"})
				continue
			}
			for _, w := range ws {
				if quick && w == "low" && !(method == "iva" && update == "aux" && track == "") && method != "none" {
					continue
				}
				win := w
				if w != "low" {
					n, _ := strconv.Atoi(w)
					win = fmt.Sprintf("%d/%d", n, n/4)
				}
				out = append(out, benchConfig{Channels: ch, Sources: s, Method: method, Update: update, Window: win, Track: track})
			}
		}
	}
	return out, err
}

// benchSignal mixes the demo's two speech sources and seeded noise sources
// into ch channels with a random (seeded) instantaneous mixing matrix, looped
// to the requested length.
func benchSignal(ch, sources, frames, rate int) [][]float32 {
	var base [][]float32
	for _, name := range []string{"ref0.wav", "ref1.wav"} {
		b, err := demoData.ReadFile("demodata/" + name)
		if err == nil {
			if r, err := wav.NewReader(bytesReadSeeker(b), name); err == nil {
				x := make([][]float32, r.Info().Channels)
				for c := range x {
					x[c] = make([]float32, r.Info().Frames)
				}
				if n, _ := r.ReadFrames(x); n > 0 {
					base = append(base, x[0][:n])
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, uint64(ch*100+sources)))
	srcs := make([][]float32, max(sources, 1))
	for j := range srcs {
		srcs[j] = make([]float32, frames)
		if j < len(base) {
			for i := range srcs[j] {
				srcs[j][i] = base[j][i%len(base[j])]
			}
			continue
		}
		for i := range srcs[j] {
			srcs[j][i] = float32(0.1 * rng.NormFloat64())
		}
	}
	x := make([][]float32, ch)
	for c := range x {
		x[c] = make([]float32, frames)
		for j := range srcs {
			a := float32(0.3 + 0.7*rng.Float64())
			for i := range x[c] {
				x[c][i] += a * srcs[j][i] / float32(len(srcs))
			}
		}
	}
	return x
}

// benchOne runs one configuration through stream.RunFile.
func benchOne(ctx context.Context, cf benchConfig, sig [][]float32, rate int) benchRow {
	row := benchRow{benchConfig: cf}
	o, block := benchOptions(cf, rate)
	proc, _, err := o.buildProcessor(cf.Channels)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	src := &memSource{x: sig, spec: stream.Spec{Rate: stream.Rate(rate), Channels: cf.Channels, MaxFrames: block}}
	var eng *stream.Engine
	// Collect the previous configuration's garbage now, so that a GC cycle
	// it would trigger does not land in (and allocate during) this run.
	runtime.GC()
	rep, err := stream.RunFile(ctx, src, discardSink{}, proc, stream.FileOptions{OnEngine: func(e *stream.Engine) { eng = e }})
	if err != nil {
		row.Error = err.Error()
		return row
	}
	p := rep.Processing
	row.LatencyFrames, row.LatencyMs, row.HopFrames = rep.Latency.AlgorithmicFrames, rep.Latency.AlgorithmicMs, rep.Latency.BlockFrames
	row.P50Us, row.P99Us, row.P999Us, row.MaxUs, row.PeriodUs = p.P50Us, p.P99Us, p.P999Us, p.MaxUs, p.PeriodUs
	row.RTF, row.Headroom = rep.RealTimeFactor, p.HeadroomP999
	row.Allocs, row.GCCycles, row.GCPauseMs = rep.Runtime.HeapAllocObjects, rep.Runtime.GCCycles, 1000*rep.Runtime.GCPauseSeconds
	row.Late, row.Dropped, row.Seconds = rep.LateBlocks, rep.DroppedBlocks, rep.AudioSeconds
	if eng != nil {
		eng.Histogram().Each(func(upper time.Duration, n uint64) {
			row.hist = append(row.hist, histBin{float64(upper) / float64(time.Microsecond), n})
		})
	}
	return row
}

// memSource serves an in-memory signal (benchmarks must not time the disk).
type memSource struct {
	x    [][]float32
	pos  int
	spec stream.Spec
}

func (s *memSource) Spec() stream.Spec { return s.spec }
func (s *memSource) ReadFrames(dst [][]float32) (int, error) {
	n := min(len(dst[0]), len(s.x[0])-s.pos)
	for c := range dst {
		copy(dst[c][:n], s.x[c][s.pos:s.pos+n])
	}
	s.pos += n
	if s.pos == len(s.x[0]) {
		return n, io.EOF
	}
	return n, nil
}

type discardSink struct{}

func (discardSink) WriteFrames(src [][]float32) (int, error) { return len(src[0]), nil }
func (discardSink) Close() error                             { return nil }

func printBench(w io.Writer, rows []benchRow) {
	devMode := false
	for _, r := range rows {
		devMode = devMode || r.Device != nil
	}
	var errs, notes []string
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "ch×src\tmethod\twindow\tlatency ms\tp50 µs\tp99 µs\tp99.9 µs\tmax µs\tRTF\theadroom\tallocs\tGC\tlate\t"
	if devMode {
		head += "passed\tdropped\txruns\tloop fr\tpredicted\tloop ms\tagree\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		m := r.methodLabel()
		if r.Error != "" {
			fmt.Fprintf(tw, "%d×%d\t%s\t%s\t(unavailable)\t\t\t\t\t\t\t\t\t\t", r.Channels, r.Sources, m, r.Window)
			if devMode {
				fmt.Fprint(tw, "\t\t\t\t\t\t\t")
			}
			fmt.Fprintln(tw)
			errs = append(errs, fmt.Sprintf("%d×%d %s %s: %s", r.Channels, r.Sources, m, r.Window, r.Error))
			continue
		}
		fmt.Fprintf(tw, "%d×%d\t%s\t%s\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.4f\t%.0fx\t%d\t%d\t%d\t",
			r.Channels, r.Sources, m, r.Window, r.LatencyMs, r.P50Us, r.P99Us, r.P999Us, r.MaxUs, r.RTF, r.Headroom, r.Allocs, r.GCCycles, r.Late)
		if d := r.Device; d != nil {
			fmt.Fprintf(tw, "%d\t%d\t%d\t", d.PassedBlocks, r.Dropped, d.Xruns)
			if lb := d.Loopback; lb != nil {
				agree := "yes"
				if !lb.Agree {
					agree = "NO"
				}
				fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t", lb.MeasuredFrames, lb.PredictedFrames, lb.MeasuredMs, agree)
			} else {
				fmt.Fprint(tw, "—\t—\t—\t—\t")
			}
			if d.LoopbackNote != "" {
				notes = append(notes, fmt.Sprintf("%d×%d %s %s: loopback %s", r.Channels, r.Sources, m, r.Window, d.LoopbackNote))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintf(w, "unavailable: %s\n", e)
	}
	if devMode {
		seen := map[string]bool{}
		for _, n := range notes {
			if !seen[n] {
				fmt.Fprintln(w, n)
			}
			seen[n] = true
		}
		fmt.Fprintln(w, "\n(device mode: per-hop processing time in real time on the device, the separator fed the\n generated signal; headroom = hop period / p99.9; late = finished after the output was due;\n passed = mic 1 passed through to keep the latency bound; xruns = output underruns + lost\n input + callbacks the host flagged; allocs and GC cycles are process-wide over the run after\n 0.25 s; loop fr = measured round trip output 1 → input 1 in frames, predicted = stream delay\n + output priming (margin included) + one device period, \"loop ms\" the measured one in ms)")
		return
	}
	fmt.Fprintln(w, "\n(file mode: per-hop processing time on this machine; headroom = hop period / p99.9;\n allocs and GC cycles are process-wide during the steady-state run)")
}

func machineDescription() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					cpu = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", cpu, numCPU())
}

// benchPlots draws the histograms, RTF vs channels and the latency
// breakdown.
func benchPlots(dir string, rows []benchRow) error {
	var ok []benchRow
	for _, r := range rows {
		if r.Error == "" {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	// Processing-time histograms, one panel per configuration.
	var panels []*plot.Plot
	for _, r := range ok {
		p := plot.New()
		p.Title.Text = r.benchConfig.String()
		p.X.Label.Text = "per-hop processing time (µs, log)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Label.Text = "hops"
		pts := make(plotter.XYs, 0, len(r.hist))
		for _, b := range r.hist {
			pts = append(pts, plotter.XY{X: b.upperUs, Y: float64(b.count)})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.StepStyle = plotter.PreStep
		p.Add(l)
		period := r.PeriodUs
		ln, _ := plotter.NewLine(plotter.XYs{{X: period, Y: 0}, {X: period, Y: maxCount(r.hist)}})
		ln.Color = plotutil.Color(1)
		ln.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(ln)
		p.Legend.Add("hop period", ln)
		panels = append(panels, p)
	}
	if err := writeFigure(filepath.Join(dir, "bench_hist.png"), panels); err != nil {
		return err
	}

	// RTF vs channels, one line per method/window.
	p := plot.New()
	p.Title.Text = "real-time factor vs channels (lower is better)"
	p.X.Label.Text = "channels"
	p.Y.Label.Text = "RTF (log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	series := map[string]plotter.XYs{}
	var order []string
	for _, r := range ok {
		k := r.methodLabel() + " " + r.Window
		if _, seen := series[k]; !seen {
			order = append(order, k)
		}
		series[k] = append(series[k], plotter.XY{X: float64(r.Channels), Y: math.Max(r.RTF, 1e-6)})
	}
	for i, k := range order {
		l, s, err := plotter.NewLinePoints(series[k])
		if err != nil {
			return err
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(k, l, s)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	if p.Y.Min == p.Y.Max {
		// One RTF value (e.g. a single configuration): plot would widen the
		// empty range by ±1, below zero, and its log scale panics.
		p.Y.Min, p.Y.Max = p.Y.Min/2, p.Y.Max*2
	}
	if err := p.Save(9*vg.Inch, 6*vg.Inch, filepath.Join(dir, "bench_rtf.png")); err != nil {
		return err
	}

	// Latency breakdown: the processor's stream delay + one block of
	// collection (together the algorithmic latency) + p99.9 processing.
	lp := plot.New()
	lp.Title.Text = "latency breakdown (ms): stream delay + block collection (= algorithmic) + p99.9 processing"
	lp.Y.Label.Text = "ms"
	alg, buf, proc := make(plotter.Values, len(ok)), make(plotter.Values, len(ok)), make(plotter.Values, len(ok))
	names := make([]string, len(ok))
	for i, r := range ok {
		buf[i] = r.PeriodUs / 1000
		alg[i] = r.LatencyMs - buf[i]
		proc[i] = r.P999Us / 1000
		names[i] = r.benchConfig.String()
	}
	w := vg.Points(10)
	b1, err := plotter.NewBarChart(alg, w)
	if err != nil {
		return err
	}
	b2, _ := plotter.NewBarChart(buf, w)
	b3, _ := plotter.NewBarChart(proc, w)
	b1.Color, b2.Color, b3.Color = plotutil.Color(0), plotutil.Color(1), plotutil.Color(2)
	b2.StackOn(b1)
	b3.StackOn(b2)
	lp.Add(b1, b2, b3)
	lp.Legend.Add("stream delay", b1)
	lp.Legend.Add("block collection", b2)
	lp.Legend.Add("processing p99.9", b3)
	// Device mode: the measured loopback round trip (our output to our
	// input, device buffers included) as points over the bars.
	var loop plotter.XYs
	for i, r := range ok {
		if r.Device != nil && r.Device.Loopback != nil {
			loop = append(loop, plotter.XY{X: float64(i), Y: r.Device.Loopback.MeasuredMs})
		}
	}
	if len(loop) > 0 {
		sc, err := plotter.NewScatter(loop)
		if err != nil {
			return err
		}
		sc.Color = plotutil.Color(3)
		sc.Shape = plotutil.Shape(1)
		lp.Add(sc)
		lp.Legend.Add("measured loopback (device)", sc)
		for _, q := range loop {
			lp.Y.Max = math.Max(lp.Y.Max, 1.1*q.Y) // keep the points off the frame
		}
	}
	lp.Legend.Top = true
	lp.NominalX(names...)
	lp.X.Tick.Label.Rotation = math.Pi / 2.5
	lp.X.Tick.Label.XAlign = -1
	return lp.Save(vg.Length(max(9, len(ok)/2+4))*vg.Inch, 6*vg.Inch, filepath.Join(dir, "bench_latency.png"))
}

func maxCount(h []histBin) float64 {
	m := 0.0
	for _, b := range h {
		m = math.Max(m, float64(b.count))
	}
	return m
}
