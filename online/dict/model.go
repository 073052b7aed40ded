package dict

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/livesep/livesep/stft"
)

// Model file format (version 1), all integers little-endian:
//
//	offset  size  content
//	0       8     magic "LSDICT\x00\x01"
//	8       4     format version (uint32) = 1
//	12      4     header length H (uint32)
//	16      H     header: JSON (Header)
//	16+H    8     parameter count P (uint64)
//	24+H    4P    parameters, float32, in the order of Header.Nets
//	24+H+4P 32    SHA-256 of all bytes before it
//
// The checksum covers everything, so a corrupt byte anywhere is found; the
// magic tells a foreign file from a damaged one; the version lets a later
// build refuse (or convert) a layout it does not know.
const (
	magic         = "LSDICT\x00\x01"
	formatVersion = 1
	maxHeaderLen  = 1 << 20
	maxParams     = 1 << 26
)

// ErrFormat is wrapped by every error about a model file that is not a
// valid model (foreign, truncated, corrupt, unsupported version).
var ErrFormat = errors.New("not a valid livesep dictionary model")

// Header is the self-description of a model: STFT, features, classes,
// network shapes, inference defaults and how it was trained.
type Header struct {
	Rate  int `json:"rate_hz"`   // sample rate the model was trained at
	Size  int `json:"stft_size"` // STFT window N (periodic √Hann analysis)
	Hop   int `json:"stft_hop"`  // STFT hop H
	Bands int `json:"bands"`     // mel-spaced bands (see bandMap)
	// Lags are the spectra in the encoder input, as delays from the
	// current one (0 first, increasing): e.g. [0 1 2 4 8] sees 8 hops back.
	Lags []int `json:"lags"`
	// Tonal appends the tonality of the current spectrum's bands to the
	// encoder input (see frontend).
	Tonal bool `json:"tonal"`
	// SlowFrames > 0 appends the running mean and standard deviation of
	// every band's log magnitude, over SlowFrames spectra, to the encoder
	// input (see frontend).
	SlowFrames float64 `json:"slow_frames,omitempty"`
	// LevelFrames is the time constant, in spectra, of the running level
	// that normalises the bands.
	LevelFrames float64 `json:"level_frames"`
	EpsAbs      float64 `json:"eps_abs"` // added to the level (absolute floor)
	EpsRel      float64 `json:"eps_rel"` // added to normalised bands before log

	Classes []string `json:"classes"`
	// Enc and Dec are the layer shapes of every class's encoder and decoder
	// (all classes share the shape).
	Enc []LayerShape `json:"encoder"`
	Dec []LayerShape `json:"decoder"`

	// Inference defaults chosen at training time.
	StepSize  float64 `json:"step_size"`  // latent gradient step η
	MaskPower float64 `json:"mask_power"` // p in M_k = (g_k·Ŝ_k)^p/Σ_j (g_j·Ŝ_j)^p
	// ClassGains are the g_k above (empty means all 1): calibrated
	// corrections of each decoder's systematic over- or under-estimate.
	ClassGains []float64 `json:"class_gains,omitempty"`
	// Confusion[a][b] is the mean energy share the model gives class b on
	// validation streams dominated by class a (rows sum to 1): how much it
	// confuses a for b. Labels compare a stream's shares with these rows;
	// ReduceGroup merges confusable classes.
	Confusion [][]float64 `json:"confusion,omitempty"`

	Train TrainInfo `json:"train"`
}

// LayerShape is one dense layer of a Header.
type LayerShape struct {
	In  int    `json:"in"`
	Out int    `json:"out"`
	Act string `json:"act"`
}

// TrainInfo records how a model was made, so that it can be rebuilt.
type TrainInfo struct {
	Settings  TrainConfig `json:"settings"`
	Data      []ClassData `json:"data"`
	Epochs    int         `json:"epochs"`      // epochs run
	BestEpoch int         `json:"best_epoch"`  // epoch whose weights were kept (1-based)
	TrainLoss float64     `json:"train_loss"`  // mean training loss of BestEpoch
	ValLoss   float64     `json:"val_loss"`    // validation loss of BestEpoch
	ValGainDB float64     `json:"val_gain_db"` // validation mask SNR gain of BestEpoch
	GoVersion string      `json:"go_version"`
	GoArch    string      `json:"goarch"`
}

// ClassData summarises one class's training audio.
type ClassData struct {
	Class    string  `json:"class"`
	Files    int     `json:"files"`
	Seconds  float64 `json:"seconds"`
	ValFiles int     `json:"val_files"` // of Files, held out for validation
	SHA256   string  `json:"sha256"`    // of the decoded samples, in file order
}

// Model is a trained dictionary model: one encoder/decoder pair per class.
// A Model is immutable after loading and safe to share between goroutines
// and separators.
type Model struct {
	hdr Header
	enc []mlp // per class
	dec []mlp
	bm  *bandMap
}

// Header returns a copy of the model's self-description.
func (m *Model) Header() Header {
	h := m.hdr
	h.Classes = slices.Clone(h.Classes)
	h.Enc = slices.Clone(h.Enc)
	h.Lags = slices.Clone(h.Lags)
	h.ClassGains = slices.Clone(h.ClassGains)
	h.Confusion = clone2(h.Confusion)
	h.Dec = slices.Clone(h.Dec)
	h.Train.Data = slices.Clone(h.Train.Data)
	return h
}

// Classes returns the class names in model order.
func (m *Model) Classes() []string { return slices.Clone(m.hdr.Classes) }

// STFT returns the STFT configuration the model was trained with (periodic
// √Hann analysis and synthesis of Size frames, hop Hop). Use it to wrap a
// Separator in stream.NewSpectral.
func (m *Model) STFT() stft.Config { return stft.New(m.hdr.Size, m.hdr.Hop) }

// Rate is the sample rate the model was trained at, in Hz.
func (m *Model) Rate() int { return m.hdr.Rate }

// Params is the number of weights and biases.
func (m *Model) Params() int {
	n := 0
	for k := range m.enc {
		n += m.enc[k].params() + m.dec[k].params()
	}
	return n
}

func shapesOf(n mlp) []LayerShape {
	s := make([]LayerShape, len(n))
	for i, l := range n {
		s[i] = LayerShape{In: l.In, Out: l.Out, Act: l.Act.String()}
	}
	return s
}

// newModel builds a model with zero weights from a header, after checking
// every field.
func newModel(h Header) (*Model, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	bm, err := newBandMap(h.Rate, h.Size/2+1, h.Bands)
	if err != nil {
		return nil, err
	}
	m := &Model{hdr: h, bm: bm}
	build := func(shapes []LayerShape) mlp {
		n := make(mlp, len(shapes))
		for i, s := range shapes {
			a, _ := parseAct(s.Act)
			n[i] = layer{In: s.In, Out: s.Out, Act: a, W: make([]float32, s.In*s.Out), B: make([]float32, s.Out)}
		}
		return n
	}
	for range h.Classes {
		m.enc = append(m.enc, build(h.Enc))
		m.dec = append(m.dec, build(h.Dec))
	}
	return m, nil
}

func (h *Header) check() error {
	switch {
	case h.Rate <= 0 || h.Rate > 1_000_000:
		return fmt.Errorf("sample rate %d Hz out of range", h.Rate)
	case h.Size < 16 || h.Size > 1<<16 || h.Size%2 != 0:
		return fmt.Errorf("STFT size %d out of range (even, 16..65536)", h.Size)
	case h.Hop < 1 || h.Hop > h.Size:
		return fmt.Errorf("STFT hop %d out of range 1..%d", h.Hop, h.Size)
	case h.Bands < 2 || h.Bands > h.Size/2+1:
		return fmt.Errorf("%d bands out of range 2..%d", h.Bands, h.Size/2+1)
	case len(h.Lags) < 1 || len(h.Lags) > 64 || h.Lags[0] != 0 || h.Lags[len(h.Lags)-1] > 256:
		return fmt.Errorf("lags %v: want 1..64 increasing delays from 0, at most 256", h.Lags)
	case h.SlowFrames != 0 && !(h.SlowFrames >= 1 && h.SlowFrames < 1e6):
		return fmt.Errorf("slow time constant %v spectra out of range", h.SlowFrames)
	case !(h.LevelFrames >= 1 && h.LevelFrames < 1e6):
		return fmt.Errorf("level time constant %v spectra out of range", h.LevelFrames)
	case !(h.EpsAbs > 0 && h.EpsAbs < 1) || !(h.EpsRel > 0 && h.EpsRel < 1):
		return fmt.Errorf("floors eps_abs %v, eps_rel %v must be in (0, 1)", h.EpsAbs, h.EpsRel)
	case len(h.Classes) < 1 || len(h.Classes) > 16:
		return fmt.Errorf("%d classes; want 1..16", len(h.Classes))
	case !(h.StepSize >= 0 && h.StepSize < 1e6) || !(h.MaskPower > 0 && h.MaskPower <= 8):
		return fmt.Errorf("step size %v or mask power %v out of range", h.StepSize, h.MaskPower)
	}
	if len(h.ClassGains) != 0 && len(h.ClassGains) != len(h.Classes) {
		return fmt.Errorf("%d class gains for %d classes", len(h.ClassGains), len(h.Classes))
	}
	for _, row := range h.Confusion {
		for _, v := range row {
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("confusion share %v not in [0, 1]", v)
			}
		}
	}
	if len(h.Confusion) != 0 {
		if len(h.Confusion) != len(h.Classes) {
			return fmt.Errorf("confusion of %d classes, want %d", len(h.Confusion), len(h.Classes))
		}
		for _, row := range h.Confusion {
			if len(row) != len(h.Classes) {
				return fmt.Errorf("confusion rows of %d, want %d", len(row), len(h.Classes))
			}
		}
	}
	for _, g := range h.ClassGains {
		if !(g > 0 && g < 1e6) {
			return fmt.Errorf("class gain %v out of range", g)
		}
	}
	for i, c := range h.Classes {
		if c == "" || slices.Contains(h.Classes[:i], c) {
			return fmt.Errorf("class names %q must be non-empty and distinct", h.Classes)
		}
	}
	chain := func(what string, s []LayerShape, in, out int, last Act) error {
		if len(s) < 1 || len(s) > 8 {
			return fmt.Errorf("%s has %d layers; want 1..8", what, len(s))
		}
		for i, l := range s {
			if l.In < 1 || l.Out < 1 || l.In > 1<<14 || l.Out > 1<<14 {
				return fmt.Errorf("%s layer %d is %d×%d", what, i, l.Out, l.In)
			}
			if _, err := parseAct(l.Act); err != nil {
				return fmt.Errorf("%s layer %d: %v", what, i, err)
			}
			if i > 0 && s[i-1].Out != l.In {
				return fmt.Errorf("%s layer %d takes %d inputs but layer %d gives %d", what, i, l.In, i-1, s[i-1].Out)
			}
		}
		if s[0].In != in || s[len(s)-1].Out != out {
			return fmt.Errorf("%s maps %d to %d values; want %d to %d", what, s[0].In, s[len(s)-1].Out, in, out)
		}
		if a, _ := parseAct(s[len(s)-1].Act); a != last {
			return fmt.Errorf("%s ends in %s; want %s", what, s[len(s)-1].Act, last)
		}
		return nil
	}
	if len(h.Enc) == 0 || len(h.Dec) == 0 {
		return errors.New("encoder or decoder missing")
	}
	latent := h.Dec[0].In
	for i := 1; i < len(h.Lags); i++ {
		if h.Lags[i] <= h.Lags[i-1] {
			return fmt.Errorf("lags %v are not increasing", h.Lags)
		}
	}
	if err := chain("encoder", h.Enc, h.inputs(), latent, Linear); err != nil {
		return err
	}
	return chain("decoder", h.Dec, latent, h.Bands, Softplus)
}

// Latent is the dimension of every class's latent code.
func (m *Model) Latent() int { return m.hdr.Dec[0].In }

// eachParam calls f with every parameter slice in file order: per class,
// encoder layers then decoder layers, each W then B.
func (m *Model) eachParam(f func([]float32)) {
	for k := range m.enc {
		for _, n := range []mlp{m.enc[k], m.dec[k]} {
			for i := range n {
				f(n[i].W)
				f(n[i].B)
			}
		}
	}
}

// MarshalBinary encodes the model in the file format above. The bytes
// depend only on the header and the weights, so training with the same data
// and settings gives the same file.
func (m *Model) MarshalBinary() ([]byte, error) {
	hj, err := json.Marshal(m.hdr)
	if err != nil {
		return nil, fmt.Errorf("dict: encoding header: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(magic)
	var u4 [4]byte
	var u8 [8]byte
	binary.LittleEndian.PutUint32(u4[:], formatVersion)
	b.Write(u4[:])
	binary.LittleEndian.PutUint32(u4[:], uint32(len(hj)))
	b.Write(u4[:])
	b.Write(hj)
	binary.LittleEndian.PutUint64(u8[:], uint64(m.Params()))
	b.Write(u8[:])
	m.eachParam(func(p []float32) {
		for _, v := range p {
			binary.LittleEndian.PutUint32(u4[:], math.Float32bits(v))
			b.Write(u4[:])
		}
	})
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// Save writes the model to path (via a temporary file and rename, so a
// crash never leaves a half-written model under the final name).
func (m *Model) Save(path string) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("dict: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dict: writing %s: %w", path, err)
	}
	return nil
}

// Load reads and checks a model file. Every error names the file.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dict: reading model: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a model from the bytes of a model file; name (a path or
// "embedded") is used in error messages. Errors about the content wrap
// ErrFormat.
func Parse(data []byte, name string) (*Model, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("dict: %s: %w: %s", name, ErrFormat, fmt.Sprintf(format, a...))
	}
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		if len(data) < len(magic) && len(data) > 0 && string(data) == magic[:len(data)] {
			return nil, bad("truncated after %d bytes", len(data))
		}
		return nil, bad("wrong magic bytes (this is not a model written by live train)")
	}
	if len(data) < 16 {
		return nil, bad("truncated after %d bytes (header incomplete)", len(data))
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != formatVersion {
		return nil, bad("format version %d; this build reads version %d (retrain with this build's live train)", v, formatVersion)
	}
	hl := int(binary.LittleEndian.Uint32(data[12:]))
	if hl > maxHeaderLen {
		return nil, bad("header length %d is implausible (corrupt file)", hl)
	}
	if len(data) < 16+hl+8 {
		return nil, bad("truncated after %d bytes (header says %d header bytes)", len(data), hl)
	}
	np := binary.LittleEndian.Uint64(data[16+hl:])
	if np > maxParams {
		return nil, bad("parameter count %d is implausible (corrupt file)", np)
	}
	want := 16 + hl + 8 + 4*int(np) + sha256.Size
	if len(data) < want {
		return nil, bad("truncated: %d bytes, want %d", len(data), want)
	}
	if len(data) > want {
		return nil, bad("%d unexpected bytes after the checksum", len(data)-want)
	}
	body := data[:want-sha256.Size]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], data[want-sha256.Size:]) {
		return nil, bad("checksum mismatch (the file is corrupt)")
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader(data[16 : 16+hl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, bad("header: %v", err)
	}
	m, err := newModel(h)
	if err != nil {
		return nil, bad("%v", err)
	}
	if int(np) != m.Params() {
		return nil, bad("%d parameters stored, the header's shapes need %d", np, m.Params())
	}
	p := data[16+hl+8:]
	nonFinite := 0
	m.eachParam(func(w []float32) {
		for i := range w {
			v := math.Float32frombits(binary.LittleEndian.Uint32(p))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				nonFinite++
			}
			w[i] = v
			p = p[4:]
		}
	})
	if nonFinite > 0 {
		return nil, bad("%d parameters are NaN or Inf", nonFinite)
	}
	return m, nil
}

// inputs is the encoder input size: the bands of every lag, plus the
// tonality of every band for Tonal models.
func (h *Header) inputs() int {
	n := len(h.Lags) * h.Bands
	if h.Tonal {
		n += h.Bands
	}
	if h.SlowFrames > 0 {
		n += 2 * h.Bands
	}
	return n
}

// labelFloor is added to confusion shares before the log in the label
// model; labelTemp is its temperature (see Model.label).
const (
	labelFloor = 0.01
	labelTemp  = 10
)

// label names the class of a stream from its running class energies e,
// π = e/Σe: the class c whose confusion row C[c] (the shares the model gives
// on streams of class c) best explains π, by the multinomial log-likelihood
// ll_c = Σ_k π_k·log(C[c][k] + 0.01), with confidence
// exp(10·ll_c)/Σ_c' exp(10·ll_c') (as if π were 10 independent draws).
// Without a confusion matrix (older models) it returns the class of largest
// energy and its share. It does not allocate (K ≤ 16).
func (m *Model) label(e []float64) (int, float64) {
	var total float64
	best := 0
	for k, v := range e {
		total += v
		if v > e[best] {
			best = k
		}
	}
	if !(total > 0) {
		return best, 0
	}
	if len(m.hdr.Confusion) == 0 {
		return best, e[best] / total
	}
	var ll [maxGroupClasses]float64
	top := math.Inf(-1)
	for c, row := range m.hdr.Confusion {
		var s float64
		for k, v := range e {
			s += v / total * math.Log(row[k]+labelFloor)
		}
		ll[c] = labelTemp * s
		if ll[c] > top {
			top, best = ll[c], c
		}
	}
	var z float64
	for c := range m.hdr.Confusion {
		z += math.Exp(ll[c] - top)
	}
	return best, 1 / z
}

// maxGroupClasses bounds the class count (Header.check allows 16), so that
// label and grouping scratch can live on the stack.
const maxGroupClasses = 16

func clone2(x [][]float64) [][]float64 {
	if x == nil {
		return nil
	}
	out := make([][]float64, len(x))
	for i, r := range x {
		out[i] = slices.Clone(r)
	}
	return out
}
