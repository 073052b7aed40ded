package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"gonum.org/v1/plot"

	"github.com/livesep/livesep/stream/wav"
)

// demoData is a 10 s two-speaker, two-mic room mixture and the two sources'
// images at the mics; provenance and licences in demodata/SOURCES.md.
//
//go:embed demodata/mix.wav demodata/ref0.wav demodata/ref1.wav demodata/SOURCES.md demodata/meta.json
var demoData embed.FS

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o separateOptions
	var dir string
	c := newCLI("demo", "demo [--out DIR] [separation flags]",
		`  live demo                      # writes ./livesep-demo/
  live demo --update ng          # the natural-gradient update instead
  live demo --window 2048        # a longer window

Separates the 10 s two-speaker room recording built into the binary through
the same streaming engine as "live run", then scores the result against the
true sources. Writes DIR/input/ (the mixture and the true sources),
DIR/source_1.wav, DIR/source_2.wav, DIR/report.json, DIR/eval.json and
DIR/demo.png (spectrograms of the mixture and each output, and the
per-second SIR convergence curve).
`, stdout)
	c.fs.StringVar(&dir, "out", "livesep-demo", "output folder, created if needed")
	o.register(c)
	if err := c.parse(args); err != nil {
		return err
	}
	if o.method == "none" {
		return usagef("--method none has one output; the demo separates two sources (try iva or ica)")
	}
	inDir := filepath.Join(dir, "input")
	if err := os.MkdirAll(inDir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, name := range []string{"mix.wav", "ref0.wav", "ref1.wav", "SOURCES.md", "meta.json"} {
		b, err := demoData.ReadFile("demodata/" + name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(inDir, name), b, 0o644); err != nil {
			return fmt.Errorf("write demo input: %w", err)
		}
	}
	mixPath := filepath.Join(inDir, "mix.wav")
	o.in, o.out = mixPath, dir
	o.progress = term.IsTerminal(int(os.Stderr.Fd()))

	fmt.Fprintf(stdout, "livesep demo: two speakers, two mics 5 cm apart, simulated room (RT60 0.15 s), 10 s at 16 kHz\n")
	start := time.Now()
	rep, err := separateFile(ctx, &o, stderr)
	if err != nil {
		return err
	}
	sepTime := time.Since(start)

	res, err := evaluate([]string{filepath.Join(inDir, "ref0.wav"), filepath.Join(inDir, "ref1.wav")},
		rep.OutputPaths(dir), mixPath, time.Second)
	if err != nil {
		return fmt.Errorf("scoring the demo: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, "eval.json"), res); err != nil {
		return err
	}
	figure := filepath.Join(dir, "demo.png")
	if err := demoFigure(figure, mixPath, rep.OutputPaths(dir), res); err != nil {
		return fmt.Errorf("drawing %s: %w", figure, err)
	}

	track := ""
	if t, ok := rep.Settings["track"].(string); ok && t != "off" {
		track = ", scene tracking " + t
	}
	fmt.Fprintf(stdout, "\nmethod %v, window %v, hop %v%s — separated in %.2f s wall time\n\n",
		rep.Settings["method"], rep.Settings["window"], rep.Settings["hop"], track, sepTime.Seconds())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "true source\toutput\tSDR\tSIR\tSI-SDR\tΔSDR\tΔSIR\t")
	for _, s := range append(res.Sources, res.Mean) {
		est := ""
		if s.Estimate != "" {
			est = filepath.Base(s.Estimate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", filepath.Base(s.Reference), est,
			s.SDR, s.SIR, s.SISDR, s.Improvement.SDR, s.Improvement.SIR)
	}
	tw.Flush()
	p := rep.Processing
	fmt.Fprintf(stdout, "\n(dB, whole 10 s, single causal pass; Δ = improvement over the mixture at mic 1)\n")
	fmt.Fprintf(stdout, "algorithmic latency %d frames = %.1f ms; real-time factor %.4f (%.0fx faster than real time)\n",
		rep.Latency.AlgorithmicFrames, rep.Latency.AlgorithmicMs, rep.RealTimeFactor, 1/max(rep.RealTimeFactor, 1e-9))
	fmt.Fprintf(stdout, "per hop: p50 %.0f µs, p99 %.0f µs, max %.0f µs of a %.0f µs budget; %d heap allocations during the run\n",
		p.P50Us, p.P99Us, p.MaxUs, p.PeriodUs, rep.Runtime.HeapAllocObjects)
	fmt.Fprintf(stdout, "\nwrote %s: source_1.wav source_2.wav report.json eval.json demo.png input/\n", dir)
	return nil
}

// demoFigure draws the mixture's and each output's spectrogram and the
// per-second SIR curve into one PNG.
func demoFigure(path, mixPath string, outs []string, res *EvalResult) error {
	info, mix, err := wav.ReadFile(mixPath)
	if err != nil {
		return err
	}
	var plots []*plot.Plot
	p, err := spectrogramPlot("mixture at mic 1", mix[0], info.Rate)
	if err != nil {
		return err
	}
	plots = append(plots, p)
	for i, o := range outs {
		_, y, err := wav.ReadFile(o)
		if err != nil {
			return err
		}
		if p, err = spectrogramPlot(fmt.Sprintf("separated output %d (%s)", i+1, filepath.Base(o)), y[0], info.Rate); err != nil {
			return err
		}
		plots = append(plots, p)
	}
	if res.Windows == nil {
		return errors.New("no per-window scores")
	}
	if p, err = sirCurvePlot(res.Windows); err != nil {
		return err
	}
	plots = append(plots, p)
	return writeFigure(path, plots)
}
