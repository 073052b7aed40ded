package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/online/dict"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/wav"
)

// Defaults of the separation pipeline.
const (
	defaultWindow = 1024 // 64 ms at 16 kHz
	defaultHopDiv = 4    // hop = window/4

	icaBlock = 64 // --method ica: frames per update and per engine block (4 ms)

	lowLatencyWindow = 512 // --latency low: analysis window
	lowLatencySynth  = 128 // --latency low: synthesis window (hop is half of it)
)

// separateOptions are the settings shared by `live separate` and `live demo`.
type separateOptions struct {
	in, out  string
	sources  int
	method   string
	update   string
	window   int
	hop      int
	latency  string
	format   string
	model    string
	progress bool
	memory   time.Duration // IVA statistics memory (0: the package default)
	track    string        // IVA scene tracking: auto, off or a memory ("": auto)
	rate     int           // of the input, set before buildProcessor (0: 16 kHz)
}

// ivaConfig is the IVA configuration for these options with the STFT cfg
// and the input's channel count: the forgetting memory is stated in
// seconds, so IVA must know how many spectra a second holds, and how many
// spectra one input sample reaches.
func (o *separateOptions) ivaConfig(upd online.Update, cfg stft.Config, channels int, method string) (online.IVAConfig, error) {
	rate := o.rate
	if rate == 0 {
		rate = 16000
	}
	track, err := o.trackMemory(channels, method)
	if err != nil {
		return online.IVAConfig{}, err
	}
	return online.IVAConfig{Sources: o.sources, Update: upd, SpectraPerSecond: float64(rate) / float64(cfg.Hop), Memory: o.memory,
		WindowHops: (cfg.Size + cfg.Hop - 1) / cfg.Hop, Track: track}, nil
}

// defaultTrack is the short memory of --track auto (online.IVAConfig.Track).
const defaultTrack = time.Second

// trackMemory resolves --track: auto tracks 2-source separations with
// --method iva (on still 3-source scenes the detector fires falsely, and
// iva+dict would pass its 0.05 × real-time budget: 0.049 tracked against
// 0.042 measured; README, Faults).
func (o *separateOptions) trackMemory(channels int, method string) (time.Duration, error) {
	switch o.track {
	case "", "auto":
		m := o.sources
		if m == 0 {
			m = channels
		}
		if m == 2 && method == "iva" {
			return defaultTrack, nil
		}
		return 0, nil
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(o.track)
	if err != nil || d <= 0 {
		return 0, usagef("--track %q: want auto, off or a duration such as 1s", o.track)
	}
	if o.memory != 0 && d >= o.memory || o.memory == 0 && d >= 8*time.Second {
		return 0, usagef("--track %v: the tracking memory must be shorter than --memory", d)
	}
	return d, nil
}

// newIVA builds the IVA of these options and states its scene tracking in
// settings (report.json: "off" or the short memory).
func (o *separateOptions) newIVA(upd online.Update, cfg stft.Config, channels int, method string, settings map[string]any) (*online.IVA, error) {
	icfg, err := o.ivaConfig(upd, cfg, channels, method)
	if err != nil {
		return nil, err
	}
	sep, err := online.NewIVA(icfg)
	if err != nil {
		return nil, err
	}
	settings["track"] = "off"
	if icfg.Track > 0 {
		settings["track"] = icfg.Track.String()
	}
	return sep, nil
}

func (o *separateOptions) register(c *cli) {
	fs := c.fs
	fs.StringVar(&o.method, "method", "", "separation method: none (mic 1 through the STFT unchanged), ica, iva, dict, iva+dict\n(default: iva for 2+ channels, dict for 1)")
	fs.IntVar(&o.sources, "sources", 0, "number of sources M to separate (default: the channel count)")
	fs.StringVar(&o.update, "update", "aux", "IVA update rule: aux (auxiliary function, fastest convergence) or ng (natural gradient)")
	fs.DurationVar(&o.memory, "memory", 0, "IVA: how long the separator remembers (default 8s; 4-16s measured alike on still scenes)")
	fs.StringVar(&o.track, "track", "auto", "IVA scene tracking: a second separator with this short memory learns alongside and,\nwhen it predicts the input clearly better for 0.5 s (a talker moved, another started),\nthe main one restarts from it: separation comes back seconds sooner after a change,\nand a still 2-source scene is separated as without. auto = 1s for 2 sources with --method iva, else off;\noff; or a duration. Costs twice the IVA time (figures: README, Faults)")
	fs.IntVar(&o.window, "window", 0, fmt.Sprintf("STFT window N in frames (default %d)", defaultWindow))
	fs.IntVar(&o.hop, "hop", 0, fmt.Sprintf("STFT hop H in frames (default window/%d)", defaultHopDiv))
	fs.StringVar(&o.latency, "latency", "normal", "latency mode: normal (window as given) or low (asymmetric windows, <= 8 ms)")
	fs.StringVar(&o.format, "format", "float32", "output sample format: float32 or pcm16")
	fs.StringVar(&o.model, "model", "", "dictionary model file from \"live train\" (methods dict and iva+dict; default: the built-in speech/music/noise model)")
}

// loadModel returns the --model file, or the embedded default model.
func (o *separateOptions) loadModel() (*dict.Model, error) {
	if o.model == "" {
		return dict.Default()
	}
	return dict.Load(o.model)
}

// dictSTFT is the STFT the model was trained with; --window/--hop must agree.
func (o *separateOptions) dictSTFT(m *dict.Model) (stft.Config, error) {
	cfg := m.STFT()
	if o.latency == "low" {
		return stft.Config{}, usagef("--latency low: the dictionary model needs its own window (%d/%d); use --method iva or ica for low latency", cfg.Size, cfg.Hop)
	}
	if (o.window != 0 && o.window != cfg.Size) || (o.hop != 0 && o.hop != cfg.Hop) {
		return stft.Config{}, usagef("--window/--hop: the dictionary model was trained with window %d and hop %d", cfg.Size, cfg.Hop)
	}
	return cfg, nil
}

// stftConfig resolves --window/--hop/--latency.
func (o *separateOptions) stftConfig() (stft.Config, error) {
	switch o.latency {
	case "normal":
	case "low":
		if o.window != 0 || o.hop != 0 {
			return stft.Config{}, usagef("--latency low chooses its own windows; drop --window/--hop")
		}
		// 512-point analysis for frequency resolution, a 128-frame synthesis
		// window: 126 frames (7.9 ms at 16 kHz) of algorithmic latency.
		cfg, err := stft.LowDelay(lowLatencyWindow, lowLatencySynth/2, lowLatencySynth)
		if err == nil {
			err = cfg.Validate()
		}
		return cfg, err
	default:
		return stft.Config{}, usagef("--latency %q: want normal or low", o.latency)
	}
	n := o.window
	if n == 0 {
		n = defaultWindow
	}
	h := o.hop
	if h == 0 {
		h = n / defaultHopDiv
	}
	cfg := stft.New(n, h)
	if err := cfg.Validate(); err != nil {
		return stft.Config{}, usagef("--window %d --hop %d: %v", n, h, err)
	}
	return cfg, nil
}

func (o *separateOptions) wavFormat() (wav.Format, error) {
	switch o.format {
	case "float32":
		return wav.Float32, nil
	case "pcm16":
		return wav.PCM16, nil
	}
	return 0, usagef("--format %q: want float32 or pcm16", o.format)
}

// buildProcessor turns the options into the processor for a mixture of the
// given channel count. It returns the processor and the settings to report.
func (o *separateOptions) buildProcessor(channels int) (stream.Processor, map[string]any, error) {
	if o.sources < 0 {
		return nil, nil, usagef("--sources %d: must be positive", o.sources)
	}
	if o.sources > channels && o.method != "dict" {
		return nil, nil, usagef("--sources %d is more than the %d channels of %s: this separator needs at least as many mics as sources", o.sources, channels, o.in)
	}
	method := o.method
	if method == "" {
		method = "iva"
		if channels == 1 {
			method = "dict"
		}
	}
	settings := map[string]any{"method": method}
	switch method {
	case "none":
		cfg, err := o.stftConfig()
		if err != nil {
			return nil, nil, err
		}
		p, err := stream.NewSpectral(cfg, online.Passthrough{})
		if err != nil {
			return nil, nil, err
		}
		o.addSTFTSettings(settings, cfg)
		return p, settings, nil
	case "ica":
		upd, err := online.ParseUpdate(o.update)
		if err != nil {
			return nil, nil, usagef("--update %q: want aux or ng", o.update)
		}
		p, err := online.NewICA(online.ICAConfig{Sources: o.sources, Update: upd, Block: icaBlock})
		if err != nil {
			return nil, nil, err
		}
		settings["update"] = upd.String()
		settings["block"] = p.Config().Block
		return p, settings, nil
	case "iva":
		upd, err := online.ParseUpdate(o.update)
		if err != nil {
			return nil, nil, usagef("--update %q: want aux or ng", o.update)
		}
		cfg, err := o.stftConfig()
		if err != nil {
			return nil, nil, err
		}
		sep, err := o.newIVA(upd, cfg, channels, method, settings)
		if err != nil {
			return nil, nil, err
		}
		p, err := stream.NewSpectral(cfg, sep)
		if err != nil {
			return nil, nil, err
		}
		o.addSTFTSettings(settings, cfg)
		settings["update"] = upd.String()
		return p, settings, nil
	case "dict", "iva+dict":
		model, err := o.loadModel()
		if err != nil {
			return nil, nil, err
		}
		cfg, err := o.dictSTFT(model)
		if err != nil {
			return nil, nil, err
		}
		var sep stream.Separator
		if method == "dict" {
			if sep, err = dict.NewSeparator(model, dict.SeparatorConfig{Sources: o.sources}); err != nil {
				return nil, nil, err
			}
		} else {
			if channels < 2 {
				return nil, nil, usagef("--method iva+dict needs 2 or more channels; %s has 1 (use --method dict)", o.in)
			}
			upd, err := online.ParseUpdate(o.update)
			if err != nil {
				return nil, nil, usagef("--update %q: want aux or ng", o.update)
			}
			inner, err := o.newIVA(upd, cfg, channels, method, settings)
			if err != nil {
				return nil, nil, err
			}
			if sep, err = dict.NewPostFilter(inner, model, dict.PostFilterConfig{}); err != nil {
				return nil, nil, err
			}
			settings["update"] = upd.String()
		}
		p, err := stream.NewSpectral(cfg, sep)
		if err != nil {
			return nil, nil, err
		}
		o.addSTFTSettings(settings, cfg)
		settings["model"] = "built-in"
		if o.model != "" {
			settings["model"] = o.model
		}
		settings["classes"] = model.Classes()
		return p, settings, nil
	}
	return nil, nil, usagef("--method %q: want none, ica, iva, dict or iva+dict", method)
}

func (o *separateOptions) addSTFTSettings(s map[string]any, cfg stft.Config) {
	s["window"] = cfg.Size
	s["hop"] = cfg.Hop
	s["latency_mode"] = o.latency
	if o.latency == "low" {
		s["window_kind"] = fmt.Sprintf("low-delay (Mauler-Martin), synthesis %d", lowLatencySynth)
	} else {
		s["window_kind"] = "sqrt-hann"
	}
}

func runSeparate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o separateOptions
	c := newCLI("separate", "separate --in MIX.wav --out DIR [flags]",
		`  live separate --in mix.wav --out sep/                 # IVA, as many sources as mics
  live separate --in mix.wav --out sep/ --sources 2     # 2 sources from a 4-mic array
  live separate --in mix.wav --out sep/ --method none   # STFT round trip of mic 1 (checks alignment)

Writes DIR/source_1.wav … DIR/source_M.wav (mono, same rate, each source as
heard at mic 1, sample k aligned with input sample k) and DIR/report.json
(settings, latency, per-block processing time percentiles, real-time factor,
late/dropped blocks, allocations and GC cycles during the run).
`, stdout)
	c.fs.StringVar(&o.in, "in", "", "input mixture: a WAV file with one channel per mic (required)")
	c.fs.StringVar(&o.out, "out", "", "output folder, created if needed (required)")
	o.register(c)
	if err := c.parse(args); err != nil {
		return err
	}
	if o.in == "" || o.out == "" {
		return usagef("both --in and --out are required")
	}
	o.progress = term.IsTerminal(int(os.Stderr.Fd()))
	rep, err := separateFile(ctx, &o, stderr)
	if rep != nil {
		printSeparateSummary(stdout, rep)
	}
	return err
}

// separateFile runs the file pipeline and writes the outputs and
// report.json. On interruption the files written so far are finalised and
// the report says so.
func separateFile(ctx context.Context, o *separateOptions, stderr io.Writer) (*stream.Report, error) {
	format, err := o.wavFormat()
	if err != nil {
		return nil, err
	}
	// The block is the hop; resolve it before opening anything.
	cfg, err := o.stftConfig()
	if err != nil && o.method != "ica" {
		return nil, err
	}
	block := cfg.Hop
	if o.method == "dict" || o.method == "iva+dict" {
		if m, err := o.loadModel(); err == nil {
			block = m.STFT().Hop
		}
	}
	if o.method == "ica" {
		block = icaBlock // time-domain: the latency is one block
	}
	src, err := stream.OpenWAV(o.in, block)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	info := src.Info()
	if info.Frames == 0 {
		return nil, fmt.Errorf("%s: the file holds no audio frames", o.in)
	}
	o.rate = info.Rate
	proc, settings, err := o.buildProcessor(info.Channels)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(o.out); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("--out %s exists and is not a folder", o.out)
	}
	// Prepare once here so the sink knows the source count.
	spec := src.Spec()
	m, err := proc.Prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.in, err)
	}
	sink, err := stream.CreateWAVSink(o.out, spec.Rate, m, format)
	if err != nil {
		return nil, err
	}

	var progress atomic.Int64
	stopBar := startProgress(o.progress, info.Frames, &progress, stderr)
	rep, runErr := stream.RunFile(ctx, src, sink, proc, stream.FileOptions{Progress: &progress})
	stopBar()
	closeErr := sink.Close()
	if rep == nil {
		return nil, errors.Join(runErr, closeErr)
	}
	rep.Command = "separate"
	rep.Input = o.in
	rep.Settings = settings
	rep.Settings["format"] = o.format
	rep.Events.ClippedOutput = sink.Clipped()
	if d := dictDetails(proc); d != nil {
		rep.Events.ProcessorDetails = d
	}
	if ev := ivaEvents(proc); ev != nil {
		rep.Events.SeparatorEvents = ev
	}
	for _, p := range sink.Paths() {
		rep.Outputs = append(rep.Outputs, filepath.Base(p))
	}
	if closeErr != nil && rep.Error == "" {
		rep.Error = closeErr.Error()
	}
	if err := rep.WriteFile(filepath.Join(o.out, "report.json")); err != nil {
		return rep, errors.Join(runErr, closeErr, err)
	}
	return rep, errors.Join(runErr, closeErr)
}

// startProgress shows a progress bar on stderr while frames are processed,
// from its own goroutine so the pump never waits for the terminal.
func startProgress(show bool, total int64, done *atomic.Int64, stderr io.Writer) func() {
	if !show || total <= 0 {
		return func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("separating"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				bar.Set64(done.Load())
				bar.Finish()
				return
			case <-t.C:
				bar.Set64(done.Load())
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func printSeparateSummary(w io.Writer, r *stream.Report) {
	state := "done"
	switch {
	case r.Interrupted:
		state = "interrupted"
	case r.Error != "":
		state = "FAILED (files hold what was written before the error)"
	}
	fmt.Fprintf(w, "%s: %.2f s of %d-channel audio at %d Hz → %d source(s)\n", state, r.AudioSeconds, r.Channels, r.Rate, r.Sources)
	if len(r.Outputs) > 0 {
		fmt.Fprintf(w, "  outputs:     %s\n", strings.Join(r.Outputs, ", "))
	}
	fmt.Fprintf(w, "  latency:     %d frames (%.1f ms) algorithmic (%d-frame blocks + %d stream delay, compensated in the files)\n",
		r.Latency.AlgorithmicFrames, r.Latency.AlgorithmicMs, r.Latency.BlockFrames, r.Latency.StreamDelayFrames)
	p := r.Processing
	fmt.Fprintf(w, "  per block:   p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs (block lasts %.0f µs)\n", p.P50Us, p.P99Us, p.P999Us, p.MaxUs, p.PeriodUs)
	fmt.Fprintf(w, "  real time:   RTF %.4f, %d late and %d dropped blocks\n", r.RealTimeFactor, r.LateBlocks, r.DroppedBlocks)
	fmt.Fprintf(w, "  runtime:     %d allocations, %d GC cycles during the run\n", r.Runtime.HeapAllocObjects, r.Runtime.GCCycles)
	if r.Events.NonFiniteInput > 0 || r.Events.ClippedInput > 0 || r.Events.ClippedOutput > 0 {
		fmt.Fprintf(w, "  events:      %d NaN/Inf input samples replaced, %d clipped input samples, %d output samples clamped\n",
			r.Events.NonFiniteInput, r.Events.ClippedInput, r.Events.ClippedOutput)
	}
	if d, ok := r.Events.ProcessorDetails.(*dictReport); ok {
		for i, l := range d.Labels {
			fmt.Fprintf(w, "  output %d:    %s (confidence %.2f)\n", i+1, l.Class, l.Confidence)
		}
		fmt.Fprintf(w, "  dictionary:  %.1f latent steps per spectrum on average (%d–%d), %d spectra cut short by the budget\n",
			d.MeanSteps, d.Stats.MinSteps, d.Stats.MaxSteps, d.Stats.Cut)
	}
	printIVAEvents(w, r)
	if r.Events.ProcessorError != "" {
		fmt.Fprintf(w, "  warning:     %s\n", r.Events.ProcessorError)
	}
}

// printIVAEvents adds a summary line about IVA's events, if any happened.
func printIVAEvents(w io.Writer, r *stream.Report) {
	e, ok := r.Events.SeparatorEvents.(*ivaReport)
	if !ok {
		return
	}
	if e.SceneChanges != nil && *e.SceneChanges > 0 {
		fmt.Fprintf(w, "  scene:       %d change(s) of scene detected; the separator restarted from its short memory", *e.SceneChanges)
		if e.KeptRows != nil && *e.KeptRows > 0 {
			fmt.Fprintf(w, ", and %d time(s) kept the row that nulls a source that stayed", *e.KeptRows)
		}
		fmt.Fprintln(w)
	}
	if e.Quiet+e.Held+e.NonFinite+e.Singular+e.Alpha == 0 {
		return
	}
	fmt.Fprintf(w, "  IVA:         not learnt from: %d spectra with a quiet mic, %d with clipped input, %d with NaN/Inf; %d bin resets, %d α resets",
		e.Quiet, e.Held, e.NonFinite, e.Singular, e.Alpha)
	if e.Excluded > 0 {
		fmt.Fprintf(w, "; %d mic(s) excluded as dead", e.Excluded)
	}
	fmt.Fprintln(w)
}

// ivaReport is what report.json says about IVA's events (online.IVAEvents).
type ivaReport struct {
	NonFinite int64 `json:"nonfinite_spectra"`
	Singular  int64 `json:"bin_resets"`
	Alpha     int64 `json:"alpha_resets"`
	Silent    int64 `json:"silent_spectra"`
	Quiet     int64 `json:"quiet_channel_spectra"`
	Held      int64 `json:"clipped_spectra_not_learnt"`
	Excluded  int   `json:"excluded_mics"`
	// SceneChanges counts the changes of scene that scene tracking
	// detected (online.TrackStats); absent when tracking is off.
	SceneChanges *int64 `json:"scene_changes,omitempty"`
	// KeptRows counts the changes after which the separator kept the
	// demixing row of a source that stayed (online.TrackStats.KeptRows);
	// absent when tracking is off.
	KeptRows *int64 `json:"scene_kept_rows,omitempty"`
}

// ivaEvents finds the IVA inside p (alone or under the dictionary
// post-filter) and reports its event counts; nil if there is none.
func ivaEvents(p stream.Processor) *ivaReport {
	sp, ok := p.(*stream.Spectral)
	if !ok {
		return nil
	}
	sep := sp.Separator()
	if pf, ok := sep.(interface{ Inner() stream.Separator }); ok {
		sep = pf.Inner()
	}
	iva, ok := sep.(*online.IVA)
	if !ok {
		return nil
	}
	e := iva.Events()
	r := &ivaReport{NonFinite: e.NonFinite, Singular: e.Singular, Alpha: e.Alpha, Silent: e.Silent,
		Quiet: e.Quiet, Held: e.Held, Excluded: e.Excluded}
	if iva.Config().Track > 0 {
		st := iva.TrackStats()
		r.SceneChanges, r.KeptRows = &st.Changes, &st.KeptRows
	}
	return r
}

// dictReport is what report.json says about a dictionary separator: which
// output is which class, and how much latent inference was done.
type dictReport struct {
	Labels    []dict.Label `json:"labels"`
	Stats     dict.Stats   `json:"inference"`
	MeanSteps float64      `json:"mean_steps_per_spectrum"`
}

func dictDetails(p stream.Processor) *dictReport {
	sp, ok := p.(*stream.Spectral)
	if !ok {
		return nil
	}
	d, ok := sp.Separator().(interface {
		Labels() []dict.Label
		Stats() dict.Stats
	})
	if !ok {
		return nil
	}
	st := d.Stats()
	return &dictReport{Labels: d.Labels(), Stats: st, MeanSteps: st.MeanSteps()}
}
