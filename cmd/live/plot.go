package main

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/cmplx"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/livesep/livesep/stft"
)

// spectrogramPlot draws the log-magnitude spectrogram of x (dB, 80 dB range)
// as a raster image.
func spectrogramPlot(title string, x []float32, rate int) (*plot.Plot, error) {
	const n, hop = 512, 128
	cfg := stft.New(n, hop)
	an, err := stft.NewAnalyzer(cfg, 1)
	if err != nil {
		return nil, err
	}
	cols := len(x) / hop
	bins := cfg.Bins()
	spec := [][]complex128{make([]complex128, bins)}
	in := [][]float64{make([]float64, hop)}
	db := make([][]float64, cols)
	top := -math.MaxFloat64
	for t := range cols {
		for i := range in[0] {
			in[0][i] = float64(x[t*hop+i])
		}
		an.Analyze(spec, in)
		db[t] = make([]float64, bins)
		for k, v := range spec[0] {
			d := 20 * math.Log10(cmplx.Abs(v)+1e-12)
			db[t][k] = d
			top = math.Max(top, d)
		}
	}
	cmap := moreland.ExtendedBlackBody()
	cmap.SetMin(0)
	cmap.SetMax(1)
	img := image.NewRGBA(image.Rect(0, 0, max(cols, 1), bins))
	for t := range cols {
		for k := range bins {
			v := (db[t][k] - (top - 80)) / 80
			c, err := cmap.At(math.Max(0, math.Min(1, v)))
			if err != nil {
				c = color.Black
			}
			img.Set(t, bins-1-k, c) // low frequencies at the bottom
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "frequency (kHz)"
	dur := float64(len(x)) / float64(rate)
	p.Add(plotter.NewImage(img, 0, 0, dur, float64(rate)/2000))
	p.X.Min, p.X.Max = 0, dur
	p.Y.Min, p.Y.Max = 0, float64(rate)/2000
	return p, nil
}

// sirCurvePlot draws the per-window SIR of each output (and of the mixture,
// dashed) against time: the convergence curve.
func sirCurvePlot(ws *WindowScores) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("SIR per %gs window: separated (solid) vs mixture at mic 1 (dashed)", ws.Seconds)
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "SIR (dB)"
	p.Legend.Top = true
	p.Legend.Left = true
	for j := range ws.SIR {
		pts := make(plotter.XYs, 0, len(ws.StartS))
		mix := make(plotter.XYs, 0, len(ws.StartS))
		for i, t := range ws.StartS {
			mid := t + ws.Seconds/2
			if v := float64(ws.SIR[j][i]); !math.IsNaN(v) {
				pts = append(pts, plotter.XY{X: mid, Y: v})
			}
			if ws.MixSIR != nil {
				if v := float64(ws.MixSIR[j][i]); !math.IsNaN(v) {
					mix = append(mix, plotter.XY{X: mid, Y: v})
				}
			}
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(j)
		s.Color = plotutil.Color(j)
		p.Add(l, s)
		p.Legend.Add(fmt.Sprintf("true source %d", j+1), l)
		if len(mix) > 0 {
			m, err := plotter.NewLine(mix)
			if err != nil {
				return nil, err
			}
			m.Color = plotutil.Color(j)
			m.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(m)
		}
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// writeFigure stacks the plots in one column and saves a PNG.
func writeFigure(path string, plots []*plot.Plot) error {
	const w, h = 9 * vg.Inch, 2.3 * vg.Inch
	img := vgimg.New(w, h*vg.Length(len(plots)))
	dc := draw.New(img)
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	t := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 3 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(rows, t, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
