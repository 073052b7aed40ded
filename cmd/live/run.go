package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/device"
	"github.com/livesep/livesep/stream/wav"
)

// runOptions are `live run`'s settings on top of the separation ones.
type runOptions struct {
	sep      separateOptions
	in, out  string
	channels int
	rate     int
	monitor  string
	record   string
	report   string
	stats    bool
	duration time.Duration
	jackName string
	ui       string
}

// monitorRoute is one entry of --monitor: device output channel k plays
// source (0-based) with gain.
type monitorRoute struct {
	source int
	gain   float64
}

// parseMonitor reads --monitor "1:0.8,2": output channel k (in order)
// plays the listed source (1-based) at the given linear gain (default 1);
// "0" is a silent channel.
func parseMonitor(spec string, sources int) ([]monitorRoute, error) {
	var out []monitorRoute
	for i, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		src, g, hasGain := strings.Cut(f, ":")
		s, err := strconv.Atoi(src)
		if err != nil || s < 0 {
			return nil, usagef("--monitor %q: entry %d %q: want SOURCE[:GAIN] with SOURCE a source number (1..M, 0 for silence)", spec, i+1, f)
		}
		if sources > 0 && s > sources {
			return nil, usagef("--monitor %q: source %d does not exist (separating %d sources)", spec, s, sources)
		}
		gain := 1.0
		if hasGain {
			gain, err = strconv.ParseFloat(g, 64)
			if err != nil || math.IsNaN(gain) || math.IsInf(gain, 0) || gain < 0 || gain > 16 {
				return nil, usagef("--monitor %q: gain %q: want a number from 0 to 16", spec, g)
			}
		}
		out = append(out, monitorRoute{source: s - 1, gain: gain})
	}
	return out, nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o runOptions
	c := newCLI("run", "run [--in DEVICE] [--out DEVICE] [flags]",
		`  live run                                   # default devices (JACK's when those cannot open)
  live run --in 3 --channels 4 --sources 2   # device index 3, 4 mics, 2 sources
  live run --in jack:system --monitor 1:0.8,2 --record takes/
  live run --latency low --stats --duration 30s

Separates live audio with the same pipeline as "live separate". The latency
is bounded: a block that would be late is first given less time (fewer
dictionary steps), then passed through (mic 1), then dropped; each event is
counted, and the output never falls further behind. In a terminal a monitor
shows per-source levels, α, convergence, processing time and xruns; keys:
1-9 select a source, m mute, s solo, +/- gain, r rotate outputs, 0 reset,
q quit. --record DIR writes DIR/input.wav (raw input), DIR/source_K.wav
(aligned with the input) and DIR/report.json (every buffer on the latency
path, processing time, xruns); files stay valid on Ctrl-C.
`, stdout)
	fs := c.fs
	fs.StringVar(&o.in, "in", "", "input device: name, unique substring, index (see \"live devices\"), or API:name (default: the default input)")
	fs.StringVar(&o.out, "out", "", "output device, as --in (default: the default output)")
	fs.IntVar(&o.channels, "channels", 0, "input channels (mics) to open (default: 2, or fewer if the device has fewer)")
	fs.IntVar(&o.rate, "rate", 0, "sample rate in Hz (default: the input device's default rate)")
	fs.StringVar(&o.monitor, "monitor", "", "which source goes to which output channel, with gains: \"1:0.8,2\" = out 1 plays source 1 at 0.8, out 2 plays source 2; 0 = silence (default: source k on output k)")
	fs.StringVar(&o.record, "record", "", "folder for input.wav, source_K.wav and report.json")
	fs.StringVar(&o.report, "report", "", "write report.json here (default: in the --record folder, if any)")
	fs.BoolVar(&o.stats, "stats", false, "print one JSON line of statistics per second on stdout (no terminal monitor);\nwith scene tracking it includes scene_changes, the restarts so far")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (e.g. 30s; default: until Ctrl-C)")
	fs.StringVar(&o.jackName, "jack-name", "livesep", "JACK client name (ports become NAME:in_0 …)")
	fs.StringVar(&o.ui, "ui", "auto", "monitor: auto (terminal UI on a terminal, plain lines otherwise), tui, plain or none")
	o.sep.register(c)
	if err := c.parse(args); err != nil {
		return err
	}
	switch o.ui {
	case "auto", "tui", "plain", "none":
	default:
		return usagef("--ui %q: want auto, tui, plain or none", o.ui)
	}
	if o.channels < 0 || o.rate < 0 || o.duration < 0 {
		return usagef("--channels, --rate and --duration must not be negative")
	}
	if o.monitor != "" {
		if _, err := parseMonitor(o.monitor, 0); err != nil {
			return err
		}
	}
	format, err := o.sep.wavFormat()
	if err != nil {
		return err
	}
	cfg, err := o.sep.stftConfig()
	if err != nil && o.sep.method != "ica" {
		return err
	}
	block := cfg.Hop
	if block <= 0 {
		block = defaultWindow / defaultHopDiv
	}
	if o.ui == "auto" {
		o.ui = "plain"
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !o.stats {
			o.ui = "tui"
		}
	}
	if o.stats && o.ui != "none" {
		o.ui = "none" // stdout carries the JSON lines
	}

	if err := device.Init(o.jackName); err != nil {
		return err
	}
	defer device.Terminate() // a no-op after Abandon

	in, out, err := pickDevices(o.in, o.out, o.channels, o.rate)
	if err != nil {
		return err
	}
	channels := o.channels
	if channels == 0 {
		channels = min(2, in.InChannels)
	}
	rate := o.rate
	if rate == 0 {
		rate = int(math.Round(in.DefaultRate))
	}
	o.sep.in = fmt.Sprintf("device %q", in.Name)
	o.sep.rate = rate
	proc, settings, err := o.sep.buildProcessor(channels)
	if err != nil {
		return err
	}
	eng, err := stream.NewEngine(proc, stream.EngineConfig{Spec: stream.Spec{Rate: stream.Rate(rate), Channels: channels, MaxFrames: block}, RingFrames: ringFramesFor(block, rate)})
	if err != nil {
		return fmt.Errorf("%s: %w", o.sep.in, err)
	}
	m := eng.OutChannels()

	var routes []stream.Route
	if o.monitor != "" {
		mr, err := parseMonitor(o.monitor, m)
		if err != nil {
			return err
		}
		for _, r := range mr {
			routes = append(routes, stream.Route{Source: r.source, Gain: float32(r.gain)})
		}
		if len(routes) > out.OutChannels {
			return usagef("--monitor lists %d output channels; %s has %d", len(routes), out, out.OutChannels)
		}
	} else {
		for k := 0; k < min(m, out.OutChannels); k++ {
			routes = append(routes, stream.Route{Source: k, Gain: 1})
		}
	}

	margin := block // --latency normal: one block of headroom for late wake-ups
	if o.sep.latency == "low" {
		margin = 0
	}
	rcfg := stream.RealtimeConfig{InChannels: channels, OutChannels: len(routes), Routes: routes, MarginFrames: margin}

	var srcSink *stream.WAVSink
	var inSink *wav.Writer
	closed := false
	closeFiles := func() error {
		if closed || srcSink == nil {
			return nil
		}
		closed = true
		var ierr error
		if inSink != nil {
			ierr = inSink.Close()
		}
		return errors.Join(srcSink.Close(), ierr)
	}
	defer closeFiles()
	reportPath := o.report
	if o.record != "" {
		if fi, err := os.Stat(o.record); err == nil && !fi.IsDir() {
			return fmt.Errorf("--record %s exists and is not a folder", o.record)
		}
		if srcSink, err = stream.CreateWAVSink(o.record, stream.Rate(rate), m, format); err != nil {
			return err
		}
		if inSink, err = wav.Create(filepath.Join(o.record, "input.wav"), rate, channels, format); err != nil {
			return err
		}
		rcfg.Record = &stream.Recording{Input: inSink, Sources: srcSink, Compensate: true}
		if reportPath == "" {
			reportPath = filepath.Join(o.record, "report.json")
		}
	}
	rt, err := stream.NewRealtime(eng, rcfg)
	if err != nil {
		return err
	}

	dcfg := device.Config{In: in, Out: out, InChannels: channels, OutChannels: len(routes), Rate: float64(rate), LowLatency: o.sep.latency == "low"}
	dev, err := device.Open(dcfg, func(in, out []float32, _ device.Status) { rt.Callback(in, out) })
	if err != nil {
		if o.rate != 0 && float64(o.rate) != in.DefaultRate {
			return fmt.Errorf("%w (--rate %d: %q runs at %.0f Hz by default; try --rate %.0f or leave --rate out)", err, o.rate, in.Name, in.DefaultRate, in.DefaultRate)
		}
		return err
	}
	defer dev.Close(2 * time.Second)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.duration > 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithTimeout(runCtx, o.duration)
		defer c2()
	}
	probe := stream.NewRuntimeProbe()
	base := probe.Read()

	started := time.Now()
	if err := dev.Start(); err != nil {
		return err
	}
	// PortAudio's reported latencies, read while the stream is open.
	il, ol := dev.Latency()
	header := runHeader(in, out, channels, m, rate, rt, proc.Latency()+block, settings)
	var ui *monitorHandle
	switch {
	case o.stats:
		ui = startStats(rt, dev, probe, stdout)
	case o.ui == "tui":
		ui = startTUI(rt, header, stdout, cancel)
	case o.ui == "plain":
		fmt.Fprintln(stdout, header)
		ui = startPlain(rt, stdout)
	}
	// No liveness probe: Pa_IsStreamActive may block on a dead JACK server.
	runErr := rt.Run(runCtx, nil)
	interrupted := ctx.Err() != nil
	if ui != nil {
		if ui.stop() {
			interrupted = true // Ctrl-C inside the terminal UI
		}
	}
	var closeErr error
	if errors.Is(runErr, stream.ErrDeviceStalled) {
		dev.Abandon() // closing a dead JACK stream hangs, then aborts
	} else {
		closeErr = dev.Close(2 * time.Second)
	}

	// Report: the device's view, the driver's, the runtime's.
	rep := &stream.Report{Version: 1, Command: "run", Input: o.sep.in, Rate: rate, Channels: channels, Sources: m, Settings: settings}
	rep.Settings["format"] = o.sep.format
	rep.Settings["margin_frames"] = margin
	rep.Settings["routes"] = routeStrings(rt.Routes())
	ds := dev.Stats()
	dr := stream.DeviceReport{
		HostAPI: in.HostAPI, Input: in.Name, Output: out.Name,
		ReportedInputMs: ms(il), ReportedOutputMs: ms(ol), DacLeadMs: ms(ds.DacLead), AdcLagMs: ms(ds.AdcLag),
		Callbacks: ds.Callbacks, MinCallbackFrames: ds.MinFrames, MaxCallbackFrames: ds.MaxFrames,
		InputUnderflows: ds.InputUnderflows, InputOverflows: ds.InputOverflows,
		OutputUnderflows: ds.OutputUnderflows, OutputOverflows: ds.OutputOverflows,
	}
	if strings.Contains(strings.ToLower(in.HostAPI), "jack") {
		dr.JACKClient = device.JACKClientName()
	}
	rt.FillReport(rep, dr)
	now := probe.Read()
	rep.Runtime = stream.RuntimeReport{
		HeapAllocObjects: now.HeapAllocObjects - base.HeapAllocObjects,
		HeapAllocBytes:   now.HeapAllocBytes - base.HeapAllocBytes,
		GCCycles:         now.GCCycles - base.GCCycles,
		GCPauseSeconds:   now.GCPauseSeconds - base.GCPauseSeconds,
	}
	rep.WallSeconds = time.Since(started).Seconds()
	rep.Interrupted = interrupted

	var fileErr error
	if srcSink != nil {
		fileErr = closeFiles()
		for _, p := range srcSink.Paths() {
			rep.Outputs = append(rep.Outputs, filepath.Base(p))
		}
		rep.Outputs = append(rep.Outputs, "input.wav")
		rep.Events.ClippedOutput = srcSink.Clipped()
	}
	if ev := ivaEvents(proc); ev != nil {
		rep.Events.SeparatorEvents = ev
	}
	if runErr != nil {
		runErr = fmt.Errorf("%s → %q: %w", o.sep.in, out.Name, runErr)
		rep.Error = runErr.Error()
	}
	if reportPath != "" {
		if err := rep.WriteFile(reportPath); err != nil {
			fileErr = errors.Join(fileErr, err)
		}
	}
	printRunSummary(stdout, rep, o.stats)
	if closeErr != nil && runErr == nil {
		fmt.Fprintf(stderr, "live run: warning: %v\n", closeErr)
	}
	if runErr != nil || fileErr != nil {
		return errors.Join(runErr, fileErr)
	}
	if interrupted {
		return context.Canceled
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pickDevices resolves --in/--out. With neither given, it takes the default
// devices, and JACK's when those cannot open but a JACK server runs.
func pickDevices(inQ, outQ string, channels, rate int) (in, out device.Info, err error) {
	if in, err = device.Find(inQ, true); err == nil {
		out, err = device.Find(outQ, false)
	}
	if inQ != "" || outQ != "" {
		return in, out, err
	}
	ok := err == nil
	if ok {
		ch := channels
		if ch == 0 {
			ch = min(2, in.InChannels)
		}
		r := float64(rate)
		if r == 0 {
			r = in.DefaultRate
		}
		ok = device.Check(device.Config{In: in, Out: out, InChannels: ch, OutChannels: 1, Rate: r}) == nil
	}
	if !ok {
		if jin, jout, jok := device.JACK(); jok {
			return jin, jout, nil
		}
		if err == nil {
			err = errors.New("the default devices cannot open with these settings and no JACK server is running (see \"live devices\")")
		}
	}
	return in, out, err
}

func routeStrings(rs []stream.Route) []string {
	out := make([]string, len(rs))
	for k, r := range rs {
		if r.Source < 0 {
			out[k] = fmt.Sprintf("out %d: silent", k+1)
		} else {
			out[k] = fmt.Sprintf("out %d: source %d × %.2f", k+1, r.Source+1, r.Gain)
		}
	}
	return out
}

func runHeader(in, out device.Info, channels, m, rate int, rt *stream.Realtime, lat int, settings map[string]any) string {
	return fmt.Sprintf("live run: %s → %s (%s), %d mics → %d sources at %d Hz, method %v, algorithmic latency %d frames (%.1f ms)",
		in.Name, out.Name, in.HostAPI, channels, m, rate, settings["method"], lat, 1000*float64(lat)/float64(rate))
}

func printRunSummary(w io.Writer, r *stream.Report, quiet bool) {
	if quiet {
		return
	}
	rr := r.Realtime
	state := "stopped"
	if r.Interrupted {
		state = "interrupted"
	}
	if r.Error != "" {
		state = "failed"
	}
	fmt.Fprintf(w, "%s after %.1f s: %d mics → %d sources at %d Hz on %s (%s → %s)\n", state, r.AudioSeconds, r.Channels, r.Sources, r.Rate, rr.Device.HostAPI, rr.Device.Input, rr.Device.Output)
	fmt.Fprintf(w, "  latency:     %.1f ms total =", rr.TotalMs)
	for i, t := range rr.Path {
		sep := " +"
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s %.1f", sep, t.Name, t.Ms)
	}
	fmt.Fprintf(w, " (callback period %d frames, priming %d)\n", rr.PeriodFrames, rr.PrimeFrames)
	p := r.Processing
	fmt.Fprintf(w, "  per block:   p50 %.1f µs, p99 %.1f µs, max %.1f µs; budget %.1f ms\n", p.P50Us, p.P99Us, p.MaxUs, rr.BudgetMs)
	fmt.Fprintf(w, "  blocks:      %d normal, %d degraded, %d passed through, %d dropped, %d late\n", rr.Blocks.Normal, rr.Blocks.Degraded, rr.Blocks.Passed, rr.Blocks.Dropped, rr.Blocks.Late)
	fmt.Fprintf(w, "  xruns:       %d output frames of silence (%d events), %d input frames lost, host flags in/out %d/%d\n",
		rr.UnderrunFrames, rr.UnderrunEvents, rr.InputLostFrames, rr.Device.InputOverflows+rr.Device.InputUnderflows, rr.Device.OutputUnderflows+rr.Device.OutputOverflows)
	fmt.Fprintf(w, "  runtime:     %d allocations, %d GC cycles during the run\n", r.Runtime.HeapAllocObjects, r.Runtime.GCCycles)
	printIVAEvents(w, r)
	if len(r.Outputs) > 0 {
		fmt.Fprintf(w, "  recorded:    %s\n", strings.Join(r.Outputs, ", "))
	}
}
