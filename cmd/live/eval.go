package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/livesep/livesep/internal/bsseval"
	"github.com/livesep/livesep/stream/wav"
)

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// jsonFloat is a float64 that marshals NaN/Inf as null (JSON has no NaN).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'f', 4, 64), nil
}

// Metrics are the scores of one estimate against one reference, in dB.
type Metrics struct {
	SDR   jsonFloat `json:"sdr"`
	SIR   jsonFloat `json:"sir"`
	SAR   jsonFloat `json:"sar"`
	SISDR jsonFloat `json:"si_sdr"`
}

// SourceScore is one reference source's row of `live eval`.
type SourceScore struct {
	Reference   string   `json:"reference"`
	Estimate    string   `json:"estimate"`
	Metrics              // estimate vs reference
	Mixture     *Metrics `json:"mixture,omitempty"`     // mixture (mic 1) vs reference
	Improvement *Metrics `json:"improvement,omitempty"` // estimate − mixture
}

// WindowScores are per-window BSS Eval figures (for convergence curves).
type WindowScores struct {
	Seconds float64       `json:"seconds"`
	StartS  []float64     `json:"start_s"`
	SDR     [][]jsonFloat `json:"sdr"` // [source][window]
	SIR     [][]jsonFloat `json:"sir"`
	SAR     [][]jsonFloat `json:"sar"`
	MixSDR  [][]jsonFloat `json:"mixture_sdr,omitempty"`
	MixSIR  [][]jsonFloat `json:"mixture_sir,omitempty"`
}

// EvalResult is the output of `live eval` (--json prints it).
type EvalResult struct {
	RateHz      int           `json:"rate_hz"`
	Frames      int           `json:"frames"`
	Mixture     string        `json:"mixture,omitempty"`
	Permutation []int         `json:"permutation"` // permutation[j] = estimate paired with reference j
	Sources     []SourceScore `json:"sources"`
	Mean        SourceScore   `json:"mean"`
	Windows     *WindowScores `json:"windows,omitempty"`
	Notes       []string      `json:"notes,omitempty"`
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var refs, ests listFlag
	var mix, window string
	var asJSON bool
	c := newCLI("eval", "eval --ref REF --est EST [--mix MIX.wav] [--json] [--window 1s]",
		`  live eval --ref ../shared/data/dev/mixtures/dev_sim030_2x2 --est sep/ \
            --mix ../shared/data/dev/mixtures/dev_sim030_2x2/mix.wav
  live eval --ref a.wav,b.wav --est sep/source_1.wav,sep/source_2.wav --json
  live eval --ref refs/ --est sep/ --window 1s     # per-second figures too

References: a folder (its ref*.wav files, else all *.wav, in natural order)
or files. A multichannel reference is scored at its channel 1 (the source's
image at mic 1, as livesep's outputs are projected back to mic 1).
Estimates: a folder (its source_*.wav, else all *.wav) or files.
The pairing of estimates to references is the one with the best mean SIR
(as mir_eval's bss_eval_sources). SI-SDR has no mean removal.
With --mix, each source's improvement over the unprocessed mixture (its
channel 1) is shown: ΔSDR, ΔSIR, ΔSI-SDR.
`, stdout)
	c.fs.Var(&refs, "ref", "reference sources: a folder or comma-separated WAV files (required; repeatable)")
	c.fs.Var(&ests, "est", "estimated sources: a folder or comma-separated WAV files (required; repeatable)")
	c.fs.StringVar(&mix, "mix", "", "the mixture WAV, to report the improvement over it")
	c.fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.fs.StringVar(&window, "window", "", "also score successive windows of this length, e.g. 1s or 500ms")
	if err := c.parse(args); err != nil {
		return err
	}
	if len(refs) == 0 || len(ests) == 0 {
		return usagef("both --ref and --est are required")
	}
	var win time.Duration
	if window != "" {
		d, err := time.ParseDuration(window)
		if err != nil || d <= 0 {
			return usagef("--window %q: want a positive duration such as 1s or 500ms", window)
		}
		win = d
	}
	res, err := evaluate(refs, ests, mix, win)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printEval(stdout, res)
	return nil
}

var refPattern = regexp.MustCompile(`(?i)^ref.*\.wav$`)
var srcPattern = regexp.MustCompile(`(?i)^source_.*\.wav$`)

// expand turns folders into their WAV files (preferring those matching
// prefer) and keeps files as they are.
func expand(list []string, prefer *regexp.Regexp) ([]string, error) {
	var out []string
	for _, p := range list {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var all, preferred []string
		for _, e := range entries {
			if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".wav") {
				continue
			}
			all = append(all, filepath.Join(p, e.Name()))
			if prefer.MatchString(e.Name()) {
				preferred = append(preferred, filepath.Join(p, e.Name()))
			}
		}
		pick := preferred
		if len(pick) == 0 {
			pick = all
		}
		if len(pick) == 0 {
			return nil, fmt.Errorf("%s: no WAV files in this folder", p)
		}
		sortNatural(pick)
		out = append(out, pick...)
	}
	return out, nil
}

var digits = regexp.MustCompile(`\d+`)

// sortNatural sorts paths so that source_10 comes after source_9.
func sortNatural(s []string) {
	key := func(p string) string {
		return digits.ReplaceAllStringFunc(p, func(d string) string { return fmt.Sprintf("%020s", d) })
	}
	sort.Slice(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
}

// loadChannel1 reads a WAV file and returns its first channel.
func loadChannel1(path string) ([]float64, int, int, error) {
	info, data, err := wav.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	x := make([]float64, len(data[0]))
	for i, v := range data[0] {
		x[i] = float64(v)
	}
	return x, info.Rate, info.Channels, nil
}

func evaluate(refList, estList []string, mixPath string, win time.Duration) (*EvalResult, error) {
	refFiles, err := expand(refList, refPattern)
	if err != nil {
		return nil, fmt.Errorf("--ref: %w", err)
	}
	estFiles, err := expand(estList, srcPattern)
	if err != nil {
		return nil, fmt.Errorf("--est: %w", err)
	}
	if len(refFiles) != len(estFiles) {
		return nil, usagef("%d references but %d estimates: give as many estimates as references (refs: %s; estimates: %s)",
			len(refFiles), len(estFiles), strings.Join(refFiles, ", "), strings.Join(estFiles, ", "))
	}
	res := &EvalResult{}
	var refs, ests [][]float64
	rate := 0
	load := func(path string) ([]float64, error) {
		x, r, ch, err := loadChannel1(path)
		if err != nil {
			return nil, err
		}
		if rate == 0 {
			rate = r
		} else if r != rate {
			return nil, fmt.Errorf("%s is at %d Hz but the other files are at %d Hz", path, r, rate)
		}
		if ch > 1 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s has %d channels: scored at channel 1", path, ch))
		}
		return x, nil
	}
	for _, p := range refFiles {
		x, err := load(p)
		if err != nil {
			return nil, err
		}
		refs = append(refs, x)
	}
	for _, p := range estFiles {
		x, err := load(p)
		if err != nil {
			return nil, err
		}
		ests = append(ests, x)
	}
	var mix []float64
	if mixPath != "" {
		if mix, err = load(mixPath); err != nil {
			return nil, err
		}
	}
	// Equal lengths: cut to the shortest, and say so when it matters.
	n := len(refs[0])
	for _, x := range append(append([][]float64{}, refs...), ests...) {
		n = min(n, len(x))
	}
	if mix != nil {
		n = min(n, len(mix))
	}
	cut := func(name string, x []float64) []float64 {
		if len(x) > n {
			res.Notes = append(res.Notes, fmt.Sprintf("%s cut from %d to %d frames to match the shortest file", name, len(x), n))
		}
		return x[:n]
	}
	for i := range refs {
		refs[i] = cut(refFiles[i], refs[i])
	}
	for i := range ests {
		ests[i] = cut(estFiles[i], ests[i])
	}
	if mix != nil {
		mix = cut(mixPath, mix)
	}
	res.RateHz, res.Frames, res.Mixture = rate, n, mixPath

	r, err := bsseval.Sources(refs, ests)
	if err != nil {
		return nil, err
	}
	res.Permutation = r.Perm
	var mixR bsseval.Result
	var mixes [][]float64
	if mix != nil {
		mixes = make([][]float64, len(refs))
		ident := make([]int, len(refs))
		for j := range mixes {
			mixes[j], ident[j] = mix, j
		}
		if mixR, err = bsseval.SourcesPerm(refs, mixes, ident); err != nil {
			return nil, fmt.Errorf("scoring the mixture %s: %w", mixPath, err)
		}
	}
	var sum, sumMix Metrics
	for j := range refs {
		s := SourceScore{
			Reference: refFiles[j],
			Estimate:  estFiles[r.Perm[j]],
			Metrics: Metrics{
				SDR: jsonFloat(r.SDR[j]), SIR: jsonFloat(r.SIR[j]), SAR: jsonFloat(r.SAR[j]),
				SISDR: jsonFloat(bsseval.SISDR(refs[j], ests[r.Perm[j]])),
			},
		}
		addM(&sum, s.Metrics)
		if mix != nil {
			m := Metrics{SDR: jsonFloat(mixR.SDR[j]), SIR: jsonFloat(mixR.SIR[j]), SAR: jsonFloat(mixR.SAR[j]),
				SISDR: jsonFloat(bsseval.SISDR(refs[j], mix))}
			s.Mixture = &m
			d := subM(s.Metrics, m)
			s.Improvement = &d
			addM(&sumMix, m)
		}
		res.Sources = append(res.Sources, s)
	}
	k := float64(len(refs))
	res.Mean = SourceScore{Reference: "mean", Estimate: "", Metrics: scaleM(sum, 1/k)}
	if mix != nil {
		m := scaleM(sumMix, 1/k)
		d := subM(res.Mean.Metrics, m)
		res.Mean.Mixture, res.Mean.Improvement = &m, &d
	}

	if win > 0 {
		w := int(win.Seconds() * float64(rate))
		if w < 1 || w > n {
			return nil, usagef("--window %v: must be between one frame and the file's length (%.2f s)", win, float64(n)/float64(rate))
		}
		frames, err := bsseval.Framewise(refs, ests, w, w, r.Perm)
		if err != nil {
			return nil, err
		}
		ws := &WindowScores{Seconds: win.Seconds()}
		for range refs {
			ws.SDR = append(ws.SDR, nil)
			ws.SIR = append(ws.SIR, nil)
			ws.SAR = append(ws.SAR, nil)
		}
		for i, f := range frames {
			ws.StartS = append(ws.StartS, float64(i*w)/float64(rate))
			for j := range refs {
				ws.SDR[j] = append(ws.SDR[j], jsonFloat(f.SDR[j]))
				ws.SIR[j] = append(ws.SIR[j], jsonFloat(f.SIR[j]))
				ws.SAR[j] = append(ws.SAR[j], jsonFloat(f.SAR[j]))
			}
		}
		if mix != nil {
			ident := make([]int, len(refs))
			for j := range ident {
				ident[j] = j
			}
			mf, err := bsseval.Framewise(refs, mixes, w, w, ident)
			if err != nil {
				return nil, err
			}
			for range refs {
				ws.MixSDR = append(ws.MixSDR, nil)
				ws.MixSIR = append(ws.MixSIR, nil)
			}
			for _, f := range mf {
				for j := range refs {
					ws.MixSDR[j] = append(ws.MixSDR[j], jsonFloat(f.SDR[j]))
					ws.MixSIR[j] = append(ws.MixSIR[j], jsonFloat(f.SIR[j]))
				}
			}
		}
		res.Windows = ws
	}
	return res, nil
}

func addM(dst *Metrics, m Metrics) {
	dst.SDR += m.SDR
	dst.SIR += m.SIR
	dst.SAR += m.SAR
	dst.SISDR += m.SISDR
}

func subM(a, b Metrics) Metrics {
	return Metrics{SDR: a.SDR - b.SDR, SIR: a.SIR - b.SIR, SAR: a.SAR - b.SAR, SISDR: a.SISDR - b.SISDR}
}

func scaleM(m Metrics, k float64) Metrics {
	f := jsonFloat(k)
	return Metrics{SDR: m.SDR * f, SIR: m.SIR * f, SAR: m.SAR * f, SISDR: m.SISDR * f}
}

func printEval(w io.Writer, r *EvalResult) {
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "%d sources, %d frames at %d Hz (%.2f s)\n\n", len(r.Sources), r.Frames, r.RateHz, float64(r.Frames)/float64(r.RateHz))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hasMix := r.Mixture != ""
	head := "ref\testimate\tSDR\tSIR\tSAR\tSI-SDR\t"
	if hasMix {
		head += "ΔSDR\tΔSIR\tΔSI-SDR\t"
	}
	fmt.Fprintln(tw, head)
	row := func(ref, est string, s SourceScore) {
		line := fmt.Sprintf("%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t", ref, est, s.SDR, s.SIR, s.SAR, s.SISDR)
		if hasMix && s.Improvement != nil {
			line += fmt.Sprintf("%.2f\t%.2f\t%.2f\t", s.Improvement.SDR, s.Improvement.SIR, s.Improvement.SISDR)
		}
		fmt.Fprintln(tw, line)
	}
	for _, s := range r.Sources {
		row(filepath.Base(s.Reference), filepath.Base(s.Estimate), s)
	}
	row("mean", "", r.Mean)
	tw.Flush()
	fmt.Fprintln(w, "\n(dB; BSS Eval v3 with 512-tap filters, pairing by best mean SIR; SI-SDR without mean removal)")
	if ws := r.Windows; ws != nil {
		fmt.Fprintf(w, "\nPer %gs window (SIR / SDR in dB; - = silent reference):\n", ws.Seconds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "start s\t"
		for j := range ws.SDR {
			head += fmt.Sprintf("SIR %d\tSDR %d\t", j+1, j+1)
		}
		fmt.Fprintln(tw, head)
		for i, t := range ws.StartS {
			line := fmt.Sprintf("%.1f\t", t)
			for j := range ws.SDR {
				line += fmtDB(ws.SIR[j][i]) + "\t" + fmtDB(ws.SDR[j][i]) + "\t"
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
}

func fmtDB(v jsonFloat) string {
	if math.IsNaN(float64(v)) {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(v))
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
