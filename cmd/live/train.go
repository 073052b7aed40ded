package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/livesep/livesep/online/dict"
)

// classFlag collects repeatable --class NAME=DIR_OR_FILES values.
type classFlag []dict.ClassFiles

func (c *classFlag) String() string {
	var s []string
	for _, cf := range *c {
		s = append(s, cf.Class+"="+strings.Join(cf.Files, ","))
	}
	return strings.Join(s, " ")
}

func (c *classFlag) Set(v string) error {
	name, list, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(list) == "" {
		return fmt.Errorf("want NAME=DIR_OR_FILES, got %q", v)
	}
	var items []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	*c = append(*c, dict.ClassFiles{Class: name, Files: items})
	return nil
}

// dryList parses a comma-separated list of class names.
type dryList struct{ p *[]string }

func (l *dryList) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *dryList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l.p = append(*l.p, s)
		}
	}
	return nil
}

// intList parses "128,64" flags.
type intList struct {
	p *[]int
}

func (l intList) String() string {
	if l.p == nil {
		return ""
	}
	var s []string
	for _, v := range *l.p {
		s = append(s, strconv.Itoa(v))
	}
	return strings.Join(s, ",")
}

func (l intList) Set(v string) error {
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want comma-separated integers, got %q", v)
		}
		out = append(out, n)
	}
	*l.p = out
	return nil
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var classes classFlag
	var cfg dict.TrainConfig
	var out, plotPath, histPath string
	c := newCLI("train", "train --class NAME=DIR_OR_FILES [--class …] --out MODEL.lsd [flags]",
		`  live train --class speech=../shared/data/train/speech \
             --class music=../shared/data/train/music \
             --class noise=../shared/data/train/noise --out model.lsd
  live separate --in mix.wav --out sep/ --method dict --model model.lsd

Trains one autoencoder per class on random mixtures of the classes' files
(16-bit or float WAV, all at the model's rate; folders mean their *.wav
files). Part of each class's files is held out: its loss and mask gain
are shown per epoch; the learning rate follows a cosine from --lr to
--min-lr over all epochs and the running average of the weights after the
last epoch is kept (--keep best: the best epoch's, with early stopping).
The same files, flags and seed give the same model file, byte for byte
(on the same GOARCH).

Writes MODEL.lsd (versioned, checksummed), a loss curve (PNG) and the
per-epoch history (JSON) beside it.
`, stdout)
	fs := c.fs
	fs.Var(&classes, "class", "a source class and its audio: NAME=DIR_OR_FILES (comma-separated; repeat per class, at least 1)")
	fs.StringVar(&out, "out", "", "model file to write (required)")
	fs.StringVar(&plotPath, "plot", "", "loss-curve PNG (default: MODEL with _loss.png; \"none\" to skip)")
	fs.StringVar(&histPath, "history", "", "per-epoch history JSON (default: MODEL with _history.json; \"none\" to skip)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed (same seed, data and flags → same model bytes)")
	fs.IntVar(&cfg.Rate, "rate", 16000, "sample rate of the training audio in Hz")
	fs.IntVar(&cfg.Size, "window", 1024, "STFT window N the model is for")
	fs.IntVar(&cfg.Hop, "hop", 0, "STFT hop H (default window/4)")
	fs.IntVar(&cfg.Epochs, "epochs", 0, "epochs (default 20; with --keep best early stopping may end sooner)")
	fs.IntVar(&cfg.Segments, "segments", 0, "random training mixtures per epoch (default 400)")
	fs.IntVar(&cfg.Batch, "batch", 0, "mini-batch size (default 128)")
	fs.Float64Var(&cfg.LearnRate, "lr", 0, "Adam learning rate at the start (default 2e-3)")
	fs.Float64Var(&cfg.MinLearnRate, "min-lr", 0, "learning rate at the end of the cosine schedule (default lr/20)")
	fs.StringVar(&cfg.Schedule, "schedule", "", "learning-rate schedule: cosine (lr to min-lr over all epochs) or plateau (halved after every second epoch without validation improvement) (default cosine)")
	fs.StringVar(&cfg.Keep, "keep", "", "weights saved: last (running average after the last epoch) or best (epoch with the best validation mask gain, early stopping) (default last)")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", 0, "decoupled weight decay (default 0.01)")
	fs.IntVar(&cfg.Patience, "patience", 0, "with --keep best: epochs without validation improvement before stopping (default 5)")
	fs.IntVar(&cfg.ValSegments, "val-segments", 0, "fixed validation mixtures made from the held-out files (default 400)")
	fs.Float64Var(&cfg.ValFraction, "val", 0, "share of each class's files held out for validation (default 0.15)")
	fs.IntVar(&cfg.Bands, "bands", 0, "mel bands of the model (default 64)")
	fs.Var(intList{&cfg.Lags}, "lags", "encoder input: delays in hops of the spectra it sees (default 0,1,2,3)")
	fs.Var(intList{&cfg.EncHidden}, "enc-hidden", "encoder hidden layer widths (default 128)")
	fs.IntVar(&cfg.Latent, "latent", 0, "latent code dimension (default 16)")
	fs.Var(intList{&cfg.DecHidden}, "dec-hidden", "decoder hidden layer widths (default 96)")
	fs.BoolVar(&cfg.NoTonal, "no-tonal", false, "leave the band tonality out of the encoder input")
	fs.Float64Var(&cfg.SlowFrames, "slow", 0, "time constant in hops of the running band statistics in the encoder input (default 31; negative: none)")
	fs.Float64Var(&cfg.Reverb, "reverb", 0, "probability of a synthetic room response on each training excerpt (default 0.7; negative: never)")
	fs.Var(&dryList{&cfg.DryClasses}, "dry", "classes never given a room response, comma-separated (e.g. noise)")
	fs.Float64Var(&cfg.MaskLoss, "mask-loss", 0, "weight of the masked-mixture term of the loss, 0..1 (default 0.5; negative: 0)")
	if err := c.parse(args); err != nil {
		return err
	}
	if len(classes) == 0 || out == "" {
		return usagef("--out and at least one --class are required")
	}
	for i := range classes {
		files, err := dict.ExpandFiles(classes[i].Files)
		if err != nil {
			return fmt.Errorf("--class %s: %w", classes[i].Class, err)
		}
		classes[i].Files = files
	}
	base := strings.TrimSuffix(out, filepath.Ext(out))
	if plotPath == "" {
		plotPath = base + "_loss.png"
	}
	if histPath == "" {
		histPath = base + "_history.json"
	}
	if dir := filepath.Dir(out); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--out %s: folder %s does not exist", out, dir)
		}
	}

	progress, stop := trainProgress(term.IsTerminal(int(os.Stderr.Fd())), stderr)
	t0 := time.Now()
	m, hist, err := dict.Train(ctx, classes, cfg, progress)
	stop()
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	if err := m.Save(out); err != nil {
		return err
	}
	if histPath != "none" {
		b, _ := json.MarshalIndent(hist, "", "  ")
		if err := os.WriteFile(histPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", histPath, err)
		}
	}
	if plotPath != "none" {
		if err := lossPlot(hist, plotPath); err != nil {
			return fmt.Errorf("writing %s: %w", plotPath, err)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	h := m.Header()
	ti := h.Train
	fmt.Fprintf(stdout, "trained %d classes (%s) in %s: %s\n", len(h.Classes), strings.Join(h.Classes, ", "), elapsed.Round(time.Second), hist.Stopping)
	fmt.Fprintf(stdout, "  best epoch:  %d of %d, train loss %.5f, validation loss %.5f, validation mask gain %.2f dB\n",
		ti.BestEpoch, ti.Epochs, ti.TrainLoss, ti.ValLoss, ti.ValGainDB)
	fmt.Fprintf(stdout, "  inference:   step size %g, mask power %g (chosen on the validation mixtures)\n", h.StepSize, h.MaskPower)
	fmt.Fprintf(stdout, "  model:       %s, %d parameters, %d bytes, sha256 %s\n", out, m.Params(), len(data), hex.EncodeToString(sum[:]))
	fmt.Fprintf(stdout, "  STFT:        window %d, hop %d at %d Hz (use --window %d --hop %d when separating)\n", h.Size, h.Hop, h.Rate, h.Size, h.Hop)
	if plotPath != "none" {
		fmt.Fprintf(stdout, "  loss curve:  %s\n", plotPath)
	}
	if histPath != "none" {
		fmt.Fprintf(stdout, "  history:     %s\n", histPath)
	}
	return nil
}

// trainProgress returns Train's progress callback and a function that
// finishes the display. With a terminal, a bar per epoch shows the running
// loss; otherwise one line per epoch is printed.
func trainProgress(tty bool, stderr io.Writer) (func(dict.Progress), func()) {
	var bar *progressbar.ProgressBar
	finish := func() {
		if bar != nil {
			bar.Finish()
			bar = nil
		}
	}
	cb := func(p dict.Progress) {
		switch {
		case p.Calibrating:
			finish()
			fmt.Fprintln(stderr, "choosing the inference step size and mask power on the validation mixtures …")
		case p.EpochDone:
			finish()
			e := p.Epoch1
			mark := ""
			if e.Best {
				mark = "  *best"
			}
			fmt.Fprintf(stderr, "epoch %2d/%d  train %.5f  validation %.5f  mask gain %5.2f dB  lr %.2g%s\n",
				e.Epoch, p.Epochs, e.TrainLoss, e.ValLoss, e.ValGainDB, e.LearnRate, mark)
			if p.Stopping != "" {
				fmt.Fprintln(stderr, p.Stopping)
			}
		case tty:
			if bar == nil {
				bar = progressbar.NewOptions(p.Batches,
					progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetWidth(30),
					progressbar.OptionShowCount(),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
			}
			bar.Describe(fmt.Sprintf("epoch %d/%d  loss %.5f", p.Epoch, p.Epochs, p.TrainLoss))
			bar.Set(p.Batch)
		}
	}
	return cb, finish
}

// lossPlot draws two panels: the training and validation loss per epoch,
// and the validation mask SNR gain that picks the kept (best) epoch.
func lossPlot(h *dict.History, path string) error {
	if len(h.Epochs) == 0 {
		return errors.New("no epochs to plot")
	}
	tr := make(plotter.XYs, len(h.Epochs))
	va := make(plotter.XYs, len(h.Epochs))
	gain := make(plotter.XYs, len(h.Epochs))
	var keptLoss, keptGain plotter.XYs
	for i, e := range h.Epochs {
		x := float64(e.Epoch)
		tr[i] = plotter.XY{X: x, Y: e.TrainLoss}
		va[i] = plotter.XY{X: x, Y: e.ValLoss}
		gain[i] = plotter.XY{X: x, Y: e.ValGainDB}
		if e.Best {
			keptLoss = plotter.XYs{{X: x, Y: e.ValLoss}}
			keptGain = plotter.XYs{{X: x, Y: e.ValGainDB}}
		}
	}
	top := plot.New()
	top.Title.Text = "dictionary autoencoder training"
	top.Y.Label.Text = "loss (MSE, compressed bands)"
	bottom := plot.New()
	bottom.X.Label.Text = "epoch"
	bottom.Y.Label.Text = "validation mask gain (dB)"
	lt, pt, err := plotter.NewLinePoints(tr)
	if err != nil {
		return err
	}
	lv, pv, err := plotter.NewLinePoints(va)
	if err != nil {
		return err
	}
	lv.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	top.Add(lt, pt, lv, pv)
	top.Legend.Add("training", lt, pt)
	top.Legend.Add("validation (held-out files)", lv, pv)
	lg, pg, err := plotter.NewLinePoints(gain)
	if err != nil {
		return err
	}
	bottom.Add(lg, pg)
	for _, k := range []struct {
		p   *plot.Plot
		xys plotter.XYs
	}{{top, keptLoss}, {bottom, keptGain}} {
		if k.xys == nil {
			continue
		}
		sc, err := plotter.NewScatter(k.xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Radius = vg.Points(5)
		k.p.Add(sc)
		if k.p == top {
			k.p.Legend.Add("kept epoch (best mask gain)", sc)
		}
	}
	top.Legend.Top = true
	const w, hgt = 7 * vg.Inch, 3 * vg.Inch
	img := vgimg.New(w, 2*hgt)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: 3 * vg.Millimeter, PadTop: 2 * vg.Millimeter,
		PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
