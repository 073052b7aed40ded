package dict

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/mat"

	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream/wav"
)

// TrainConfig holds the settings of Train. The zero value of every field
// selects the default given in its comment (filled in by Train; the filled
// settings are stored in the model's header).
type TrainConfig struct {
	Seed uint64 `json:"seed"` // default 1

	Rate int `json:"rate_hz"`   // training audio sample rate, default 16000
	Size int `json:"stft_size"` // STFT window, default 1024
	Hop  int `json:"stft_hop"`  // STFT hop, default Size/4

	Bands int   `json:"bands"` // mel bands, default 64
	Lags  []int `json:"lags"`  // encoder input delays in spectra, default [0 1 2 3]
	// NoTonal leaves the band tonality out of the encoder input.
	NoTonal bool `json:"no_tonal"`
	// SlowFrames adds each band's running mean and deviation over that
	// many spectra to the encoder input; default 31 (0.5 s), negative
	// means none.
	SlowFrames float64 `json:"slow_frames"`
	EncHidden  []int   `json:"enc_hidden"` // encoder hidden widths, default [128]
	Latent     int     `json:"latent"`     // code dimension, default 16
	DecHidden  []int   `json:"dec_hidden"` // decoder hidden widths, default [96]
	Hidden     string  `json:"hidden_act"` // hidden activation relu|tanh, default tanh
	// LevelFrames is the level normaliser's time constant in spectra,
	// default 1 s worth (Rate/Hop).
	LevelFrames float64 `json:"level_frames"`
	EpsAbs      float64 `json:"eps_abs"` // default 1e-6
	EpsRel      float64 `json:"eps_rel"` // default 1e-3

	Epochs        int     `json:"epochs"`         // default 20 (fewer only with Keep "best" and early stopping)
	Segments      int     `json:"segments"`       // new random mixtures per epoch, default 400
	SegmentFrames int     `json:"segment_frames"` // spectra per mixture, default 96
	ValSegments   int     `json:"val_segments"`   // fixed validation mixtures, default 400
	Batch         int     `json:"batch"`          // mini-batch, default 128
	LearnRate     float64 `json:"learn_rate"`     // Adam step, default 2e-3 (the start of the schedule)
	WeightDecay   float64 `json:"weight_decay"`   // decoupled (AdamW), default 0.01
	// Schedule is the learning-rate schedule: "cosine" (default: from
	// LearnRate down to MinLearnRate over all Epochs, per step, whatever
	// the validation says) or "plateau" (halved after every second epoch
	// without a better validation mask gain).
	Schedule     string  `json:"lr_schedule,omitempty"`
	MinLearnRate float64 `json:"min_learn_rate,omitempty"` // end of the cosine schedule, default LearnRate/20
	// Keep says which weights are saved: "last" (default: the running
	// average after the last epoch; every epoch is run) or "best" (the
	// running average of the epoch with the best validation mask gain,
	// with early stopping after Patience epochs without improvement).
	Keep        string  `json:"keep,omitempty"`
	Patience    int     `json:"patience"`     // epochs without a better validation mask gain before stopping (Keep "best"), default 5
	ValFraction float64 `json:"val_fraction"` // held-out share of each class's files, default 0.15
	// Single is the share of training mixtures that hold one class only
	// (default 0.3; negative means none); the others hold two or more,
	// each class present with probability Present (default 0.6).
	Single  float64 `json:"single"`
	Present float64 `json:"present"`
	GainDB  float64 `json:"gain_db"` // ± range of each source's level around unit RMS, default 10
	// Reverb is the probability that a source is convolved with a
	// synthetic room response (exponentially decaying noise with an RT60
	// drawn from [0.1, MaxRT60] s and a direct-to-reverberant ratio drawn
	// from [0, 12] dB) before mixing, default 0.7; negative means never.
	// Targets are the reverberant sources, as heard at the mic.
	Reverb  float64 `json:"reverb"`
	MaxRT60 float64 `json:"max_rt60_s"` // default 0.5
	// DryClasses are never given a room response: classes of ambient
	// recordings (noise) that already carry their room, so that
	// reverberation does not become evidence for them.
	DryClasses []string `json:"dry_classes,omitempty"`
	// Speed is the ± range of a random speed change (pitch and tempo)
	// of each source excerpt, default 0.1; negative means none.
	Speed float64 `json:"speed"`
	// EQDB is the size in dB of a random smooth equaliser curve applied
	// to each source excerpt, default 6; negative means none.
	EQDB float64 `json:"eq_db"`
	// MaskLoss is λ, the weight of the masked-mixture term of the loss
	// (see lossGrad), in [0, 1]; default 0.5; negative means 0 (pure
	// reconstruction).
	MaskLoss float64 `json:"mask_loss"`

	// Inference defaults stored in the model. 0 means: pick on the
	// validation mixtures (StepSize from a grid, MaskPower from {1, 2}).
	StepSize   float64 `json:"step_size"`
	MaskPower  float64 `json:"mask_power"`
	CalibSteps int     `json:"calib_steps"` // latent steps per spectrum while calibrating, default 4
}

func (c *TrainConfig) fill() error {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	def(&c.Rate, 16000)
	def(&c.Size, 1024)
	def(&c.Hop, c.Size/4)
	def(&c.Bands, 64)
	if c.Lags == nil {
		c.Lags = []int{0, 1, 2, 3}
	}
	if c.EncHidden == nil {
		c.EncHidden = []int{128}
	}
	def(&c.Latent, 16)
	if c.DecHidden == nil {
		c.DecHidden = []int{96}
	}
	if c.Hidden == "" {
		c.Hidden = "tanh"
	}
	deff(&c.LevelFrames, float64(c.Rate)/float64(c.Hop))
	deff(&c.EpsAbs, 1e-6)
	deff(&c.EpsRel, 1e-3)
	def(&c.Epochs, 20)
	def(&c.Segments, 400)
	def(&c.SegmentFrames, 96)
	def(&c.ValSegments, 400)
	def(&c.Batch, 128)
	deff(&c.LearnRate, 2e-3)
	if c.Schedule == "" {
		c.Schedule = "cosine"
	}
	if c.Keep == "" {
		c.Keep = "last"
	}
	if c.Schedule == "cosine" {
		deff(&c.MinLearnRate, c.LearnRate/20)
	}
	deff(&c.WeightDecay, 0.01)
	def(&c.Patience, 5)
	deff(&c.ValFraction, 0.15)
	deff(&c.Present, 0.6)
	deff(&c.Single, 0.3)
	c.Single = max(c.Single, 0)
	deff(&c.GainDB, 10)
	def(&c.CalibSteps, 4)
	deff(&c.Reverb, 0.7)
	deff(&c.MaxRT60, 0.5)
	deff(&c.SlowFrames, 31)
	deff(&c.MaskLoss, 0.5)
	deff(&c.Speed, 0.1)
	deff(&c.EQDB, 6)
	c.Speed = max(c.Speed, 0)
	c.EQDB = max(c.EQDB, 0)
	if c.Speed >= 0.5 {
		return fmt.Errorf("dict: speed range %v must be below 0.5", c.Speed)
	}
	if c.MaskLoss < 0 {
		c.MaskLoss = 0
	}
	if c.MaskLoss > 1 {
		return fmt.Errorf("dict: mask loss weight %v above 1", c.MaskLoss)
	}
	if c.Reverb < 0 {
		c.Reverb = 0
	}
	if a, err := parseAct(c.Hidden); err != nil || (a != ReLU && a != Tanh) {
		return fmt.Errorf("dict: hidden activation %q: want relu or tanh", c.Hidden)
	}
	switch {
	case c.Epochs < 1 || c.Segments < 1 || c.SegmentFrames < 1 || c.ValSegments < 1 || c.Batch < 1:
		return errors.New("dict: epochs, segments, segment frames, validation segments and batch must be positive")
	case !(c.ValFraction > 0 && c.ValFraction < 1):
		return fmt.Errorf("dict: validation fraction %v not in (0, 1)", c.ValFraction)
	case !(c.Present > 0 && c.Present <= 1) || c.Single > 1:
		return fmt.Errorf("dict: presence probability %v not in (0, 1] or single share %v above 1", c.Present, c.Single)
	case !(c.LearnRate > 0) || c.WeightDecay < 0 || c.GainDB < 0 || c.StepSize < 0 || c.MaskPower < 0:
		return errors.New("dict: learning rate must be positive; weight decay, gain range, step size and mask power not negative")
	case c.Schedule != "cosine" && c.Schedule != "plateau":
		return fmt.Errorf("dict: learning-rate schedule %q: want cosine or plateau", c.Schedule)
	case c.Keep != "last" && c.Keep != "best":
		return fmt.Errorf("dict: keep %q: want last or best", c.Keep)
	case c.MinLearnRate < 0 || c.MinLearnRate > c.LearnRate:
		return fmt.Errorf("dict: minimum learning rate %v not in [0, %v]", c.MinLearnRate, c.LearnRate)
	case c.Patience < 1:
		return fmt.Errorf("dict: patience %d must be positive", c.Patience)
	case c.Latent < 1:
		return fmt.Errorf("dict: latent dimension %d must be positive", c.Latent)
	}
	for _, w := range append(slices.Clone(c.EncHidden), c.DecHidden...) {
		if w < 1 {
			return fmt.Errorf("dict: hidden width %d must be positive", w)
		}
	}
	if err := stft.New(c.Size, c.Hop).Validate(); err != nil {
		return fmt.Errorf("dict: %w", err)
	}
	return nil
}

// header builds the model header (without training results) for c.
func (c *TrainConfig) header(classes []string) Header {
	h := Header{
		Rate: c.Rate, Size: c.Size, Hop: c.Hop,
		Bands: c.Bands, Lags: slices.Clone(c.Lags), Tonal: !c.NoTonal, SlowFrames: max(c.SlowFrames, 0), LevelFrames: c.LevelFrames,
		EpsAbs: c.EpsAbs, EpsRel: c.EpsRel,
		Classes:  slices.Clone(classes),
		StepSize: c.StepSize, MaskPower: c.MaskPower,
	}
	if h.MaskPower == 0 {
		h.MaskPower = 1
	}
	in := h.inputs()
	for _, w := range c.EncHidden {
		h.Enc = append(h.Enc, LayerShape{In: in, Out: w, Act: c.Hidden})
		in = w
	}
	h.Enc = append(h.Enc, LayerShape{In: in, Out: c.Latent, Act: "linear"})
	in = c.Latent
	for _, w := range c.DecHidden {
		h.Dec = append(h.Dec, LayerShape{In: in, Out: w, Act: c.Hidden})
		in = w
	}
	h.Dec = append(h.Dec, LayerShape{In: in, Out: c.Bands, Act: "softplus"})
	return h
}

// ClassFiles names a source class and its training WAV files.
type ClassFiles struct {
	Class string
	Files []string
}

// Progress is reported to Train's callback after every mini-batch and at
// the end of every epoch (EpochDone).
type Progress struct {
	Epoch, Epochs  int     // 1-based epoch, maximum epochs
	Batch, Batches int     // 1-based batch in the epoch
	TrainLoss      float64 // running mean of this epoch's batch losses
	EpochDone      bool
	Epoch1         EpochStats // the finished epoch (EpochDone only)
	Stopping       string     // why training stops, set with the last EpochDone
	Calibrating    bool       // after the last epoch: picking inference defaults
}

// EpochStats are one epoch's figures.
type EpochStats struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`  // mean MSE of the compressed band magnitudes, over batches and classes
	ValLoss   float64 `json:"val_loss"`    // the same on the fixed validation mixtures
	ValGainDB float64 `json:"val_gain_db"` // mean mask SNR improvement on validation mixtures of ≥ 2 classes (encoder warm start only)
	LearnRate float64 `json:"learn_rate"`
	Best      bool    `json:"best"` // the highest ValGainDB so far (these weights are kept)
}

// History is the per-epoch record of a training run.
type History struct {
	Epochs   []EpochStats `json:"epochs"`
	Stopping string       `json:"stopping"`
	Calib    []CalibPoint `json:"calibration"`
}

// CalibPoint is one setting tried on the validation mixtures, with the
// mean mask SNR gain it gave.
type CalibPoint struct {
	StepSize     float64   `json:"step_size"`
	MaskPower    float64   `json:"mask_power"`
	ClassGainsDB []float64 `json:"class_gains_db"`
	GainDB       float64   `json:"gain_db"`
	Chosen       bool      `json:"chosen"`
}

// clip is one training file (or its held-out part), at unit RMS.
type clip struct {
	x []float64
}

type classSet struct {
	name       string
	train, val []clip
	trainLen   int
	valLen     int
}

// checkClasses checks the class list before any file is read.
func checkClasses(classes []ClassFiles) error {
	if len(classes) < 1 {
		return errors.New("dict: no classes to train")
	}
	for ci, cf := range classes {
		if cf.Class == "" || strings.ContainsAny(cf.Class, "=,") {
			return fmt.Errorf("dict: class name %q must be non-empty and free of '=' and ','", cf.Class)
		}
		for _, o := range classes[:ci] {
			if o.Class == cf.Class {
				return fmt.Errorf("dict: class %q given twice", cf.Class)
			}
		}
		if len(cf.Files) == 0 {
			return fmt.Errorf("dict: class %q has no files", cf.Class)
		}
	}
	return nil
}

// loadClasses reads, checks and splits the training audio.
func loadClasses(classes []ClassFiles, c *TrainConfig) ([]classSet, []ClassData, error) {
	if err := checkClasses(classes); err != nil {
		return nil, nil, err
	}
	var sets []classSet
	var info []ClassData
	for _, cf := range classes {
		hash := sha256.New()
		var all []clip
		total := 0
		for _, path := range cf.Files {
			info, data, err := wav.ReadFile(path)
			if err != nil {
				return nil, nil, fmt.Errorf("dict: class %q: %w", cf.Class, err)
			}
			if info.Rate != c.Rate {
				return nil, nil, fmt.Errorf("dict: class %q: %s is at %d Hz; the model is trained at %d Hz (resample it, or set the rate)", cf.Class, path, info.Rate, c.Rate)
			}
			n := len(data[0])
			if n < c.Size {
				return nil, nil, fmt.Errorf("dict: class %q: %s holds %d frames, fewer than one STFT window (%d)", cf.Class, path, n, c.Size)
			}
			x := make([]float64, n)
			var b [4]byte
			for i := range x {
				var s float64
				for ch := range data {
					s += float64(data[ch][i])
				}
				v := float32(s / float64(len(data)))
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
				hash.Write(b[:])
				x[i] = float64(v)
			}
			var e float64
			for _, v := range x {
				e += v * v
			}
			rms := math.Sqrt(e / float64(n))
			if rms < 1e-6 {
				return nil, nil, fmt.Errorf("dict: class %q: %s is silent (RMS %.2g)", cf.Class, path, rms)
			}
			for i := range x {
				x[i] /= rms
			}
			all = append(all, clip{x: x})
			total += n
		}
		set := classSet{name: cf.Class}
		nVal := 0
		if len(all) >= 4 {
			// Hold out whole files (other speakers/pieces), evenly spread
			// over the (sorted) list.
			nVal = max(1, int(math.Round(float64(len(all))*c.ValFraction)))
			isVal := make([]bool, len(all))
			for i := 0; i < nVal; i++ {
				isVal[int((float64(i)+0.5)*float64(len(all))/float64(nVal))] = true
			}
			for i, cl := range all {
				if isVal[i] {
					set.val = append(set.val, cl)
				} else {
					set.train = append(set.train, cl)
				}
			}
		} else {
			// Too few files to hold one out: hold out the last part of each.
			for _, cl := range all {
				cut := int(float64(len(cl.x)) * (1 - c.ValFraction))
				set.train = append(set.train, clip{x: cl.x[:cut]})
				set.val = append(set.val, clip{x: cl.x[cut:]})
			}
		}
		for _, cl := range set.train {
			set.trainLen += len(cl.x)
		}
		for _, cl := range set.val {
			set.valLen += len(cl.x)
		}
		sets = append(sets, set)
		info = append(info, ClassData{
			Class: cf.Class, Files: len(cf.Files), ValFiles: nVal,
			Seconds: math.Round(float64(total)/float64(c.Rate)*10) / 10,
			SHA256:  hex.EncodeToString(hash.Sum(nil)),
		})
	}
	return sets, info, nil
}

// examples is a batch of synthesised mixtures turned into model inputs and
// targets, one row per spectrum.
type examples struct {
	n       int
	in      []float64 // n × Header.inputs()
	target  []float64 // n × K·Bands (√-compressed, level-normalised class bands)
	mixNorm []float64 // n × Bands (X̄, normalised mixture bands)
	// For the mask SNR (validation only): bin spectra, per spectrum.
	mix   [][]complex64   // [n][bins]
	comp  [][][]complex64 // [n][k][bins]
	multi []bool          // [n] ≥ 2 classes present
	level []float64       // [n] the normaliser L_t+EpsAbs
	seg   []int           // [n] segment index (fitter runs restart at a new segment)
	stats *maskStats      // mask SNR statistics (validation only)
}

// synth builds segs random mixtures from split (train or validation clips).
// What synth keeps besides the model inputs and targets.
const (
	keepNone  = iota
	keepStats // the mixture spectra and the mask SNR statistics (validation)
	keepAll   // also every class's spectrum (tests: the naive oracle)
)

func synth(m *Model, sets []classSet, c *TrainConfig, rng *rand.Rand, segs int, val bool, keep int) *examples {
	keepSpectra := keep >= keepStats
	k, B := len(sets), c.Bands
	T := c.SegmentFrames
	bins := c.Size/2 + 1
	cfg := stft.New(c.Size, c.Hop)
	ans := make([]*stft.Analyzer, k)
	for i := range ans {
		ans[i], _ = stft.NewAnalyzer(cfg, 1)
	}
	fe := newFrontend(m)
	ex := &examples{n: segs * T}
	ex.in = make([]float64, ex.n*m.hdr.inputs())
	ex.target = make([]float64, ex.n*k*B)
	ex.mixNorm = make([]float64, ex.n*B)
	if keepSpectra {
		ex.mix = make([][]complex64, ex.n)
		ex.stats = newMaskStats(m.bm, k)
		if keep == keepAll {
			ex.comp = make([][][]complex64, ex.n)
		}
		ex.multi = make([]bool, ex.n)
		ex.level = make([]float64, ex.n)
		ex.seg = make([]int, ex.n)
	}
	hop := make([][]float64, 1)
	hop[0] = make([]float64, c.Hop)
	spec := make([][][]complex128, k)
	for i := range spec {
		spec[i] = [][]complex128{make([]complex128, bins)}
	}
	mixSpec := make([]complex128, bins)
	sig := make([][]float64, k)
	for i := range sig {
		sig[i] = make([]float64, T*c.Hop)
	}
	present := make([]bool, k)
	rv := newReverber(c, T*c.Hop)
	ext := make([]float64, rv.maxL+T*c.Hop)
	eq := make([][]complex128, k)
	for i := range eq {
		eq[i] = make([]complex128, bins)
	}
	in := make([]float32, m.hdr.inputs())
	band := make([]float32, B)
	mag := make([]float32, bins)
	row := 0
	for s := 0; s < segs; s++ {
		np := pickClasses(present, rng, c.Single, c.Present)
		for i, set := range sets {
			if !present[i] {
				continue
			}
			clips, total := set.train, set.trainLen
			if val {
				clips, total = set.val, set.valLen
			}
			// A length-weighted random clip and offset; loop short clips.
			pos := rng.IntN(total)
			ci := 0
			for pos >= len(clips[ci].x) {
				pos -= len(clips[ci].x)
				ci++
			}
			x := clips[ci].x
			g := math.Pow(10, (2*rng.Float64()-1)*c.GainDB/20)
			r := 1 + (2*rng.Float64()-1)*c.Speed
			excerpt(ext, x, float64(pos)-float64(rv.maxL)*r, r)
			if rng.Float64() < c.Reverb && !slices.Contains(c.DryClasses, set.name) {
				rv.apply(sig[i], ext, g, rng)
			} else {
				for t := range sig[i] {
					sig[i][t] = g * ext[rv.maxL+t]
				}
			}
			// A random smooth EQ curve (3 cosines across the band, in dB).
			var a [3]float64
			for m := range a {
				a[m] = (2*rng.Float64() - 1) * c.EQDB / float64(m+1)
			}
			for f := range eq[i] {
				var db float64
				for m, am := range a {
					db += am * math.Cos(math.Pi*float64((m+1)*f)/float64(bins-1))
				}
				eq[i][f] = complex(math.Pow(10, db/20), 0)
			}
			ans[i].Reset()
		}
		fe.reset()
		for t := 0; t < T; t++ {
			clear(mixSpec)
			for i := range sets {
				if !present[i] {
					continue
				}
				copy(hop[0], sig[i][t*c.Hop:(t+1)*c.Hop])
				ans[i].Analyze(spec[i], hop)
				for f, v := range spec[i][0] {
					v *= eq[i][f]
					spec[i][0][f] = v
					mixSpec[f] += v
				}
			}
			for f, v := range mixSpec {
				fe.mag[f] = float32(cmplx.Abs(v))
			}
			fe.pushMag(in)
			lv := fe.level
			for j, v := range in {
				ex.in[row*len(in)+j] = float64(v)
			}
			for j, v := range fe.norm {
				ex.mixNorm[row*B+j] = float64(v)
			}
			for i := range sets {
				tg := ex.target[row*k*B+i*B : row*k*B+(i+1)*B]
				if !present[i] {
					continue // zeros
				}
				for f, v := range spec[i][0] {
					mag[f] = float32(cmplx.Abs(v))
				}
				m.bm.analyze(band, mag)
				for j, v := range band {
					tg[j] = math.Sqrt(float64(v) / lv)
				}
			}
			if keepSpectra {
				ex.mix[row] = make([]complex64, bins)
				for f, v := range mixSpec {
					ex.mix[row][f] = complex64(v)
				}
				if keep == keepAll {
					ex.comp[row] = make([][]complex64, k)
					for i := range sets {
						ex.comp[row][i] = make([]complex64, bins)
						if present[i] {
							for f, v := range spec[i][0] {
								ex.comp[row][i][f] = complex64(v)
							}
						}
					}
				}
				if np >= 2 {
					ex.stats.add(m.bm, row, mixSpec, spec, present)
				}
				ex.multi[row] = np >= 2
				ex.level[row] = lv
				ex.seg[row] = s
			}
			row++
		}
	}
	return ex
}

// Train trains one autoencoder per class on random mixtures of the classes'
// files and returns the model with the running-average weights after the
// last epoch (or, with Keep "best", of the epoch with the best validation
// mask SNR gain). It is deterministic: the same files, settings and seed
// give the same model bytes (on the same GOARCH; gonum's parallel matrix
// products split work by position, not by thread timing). progress, if not
// nil, is called from Train's goroutine. ctx cancels between batches.
func Train(ctx context.Context, classes []ClassFiles, cfg TrainConfig, progress func(Progress)) (*Model, *History, error) {
	if err := cfg.fill(); err != nil {
		return nil, nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	if err := checkClasses(classes); err != nil {
		return nil, nil, err
	}
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = c.Class
	}
	for _, d := range cfg.DryClasses {
		if !slices.Contains(names, d) {
			return nil, nil, fmt.Errorf("dict: dry class %q is not one of the classes %q", d, names)
		}
	}
	h := cfg.header(names)
	m, err := newModel(h)
	if err != nil {
		return nil, nil, fmt.Errorf("dict: %w", err)
	}
	sets, info, err := loadClasses(classes, &cfg)
	if err != nil {
		return nil, nil, err
	}
	K, B := len(sets), cfg.Bands
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x11dc7))
	valRng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	nets := make([]*tnet, K)
	for k := range nets {
		nets[k] = newTNet(h.Enc, h.Dec, rng)
	}
	val := synth(m, sets, &cfg, valRng, cfg.ValSegments, true, keepStats)

	opt := make([]*adam, K)
	for k := range opt {
		opt[k] = &adam{lr: cfg.LearnRate, b1: 0.9, b2: 0.999, eps: 1e-8, wd: cfg.WeightDecay}
	}
	hist := &History{}
	best := make([][][]float64, K)
	cur := make([][][]float64, K)
	bestGain := math.Inf(-1)
	bad := 0
	lr := cfg.LearnRate
	nb := cfg.Batch
	batches := cfg.Segments * cfg.SegmentFrames / nb
	// rate is the cosine schedule's learning rate at step i (0-based) of
	// the whole run.
	rate := func(i int) float64 {
		f := float64(i) / float64(max(cfg.Epochs*batches, 1))
		return cfg.MinLearnRate + (cfg.LearnRate-cfg.MinLearnRate)*0.5*(1+math.Cos(math.Pi*f))
	}
	X := mat.NewDense(nb, h.inputs(), nil)
	Xm := mat.NewDense(nb, B, nil)
	T := make([]*mat.Dense, K)
	dC := make([]*mat.Dense, K)
	for k := range T {
		T[k] = mat.NewDense(nb, B, nil)
		dC[k] = mat.NewDense(nb, B, nil)
		nets[k].setBatch(nb)
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		ex := synth(m, sets, &cfg, rng, cfg.Segments, false, keepNone)
		if epoch == 1 {
			// Start each decoder's output bias at the mean target, so
			// training starts from the class's average spectrum.
			for k, n := range nets {
				last := n.layers[len(n.layers)-1]
				for j := 0; j < B; j++ {
					var s float64
					for r := 0; r < ex.n; r++ {
						s += ex.target[r*K*B+k*B+j]
					}
					mu := math.Max(s/float64(ex.n), 1e-3)
					last.b[j] = math.Log(math.Expm1(mu))
				}
			}
		}
		perm := rng.Perm(ex.n)
		var sum float64
		for bi := 0; bi < batches; bi++ {
			if err := ctx.Err(); err != nil {
				return nil, hist, err
			}
			xr := X.RawMatrix()
			w := h.inputs()
			for r := 0; r < nb; r++ {
				e := perm[bi*nb+r]
				copy(xr.Data[r*xr.Stride:r*xr.Stride+w], ex.in[e*w:(e+1)*w])
				for k := range T {
					tr := T[k].RawMatrix()
					copy(tr.Data[r*tr.Stride:r*tr.Stride+B], ex.target[e*K*B+k*B:e*K*B+(k+1)*B])
				}
			}
			mr := Xm.RawMatrix()
			for r := 0; r < nb; r++ {
				e := perm[bi*nb+r]
				copy(mr.Data[r*mr.Stride:r*mr.Stride+B], ex.mixNorm[e*B:(e+1)*B])
			}
			if cfg.Schedule == "cosine" {
				lr = rate((epoch-1)*batches + bi)
			}
			l := trainStep(nets, opt, X, Xm, T, dC, lr, cfg.MaskLoss)
			sum += l
			progress(Progress{Epoch: epoch, Epochs: cfg.Epochs, Batch: bi + 1, Batches: batches, TrainLoss: sum / float64(bi+1)})
		}
		// Validate (and keep) the running average of the weights.
		for k, n := range nets {
			cur[k] = n.snapshot(cur[k])
			n.restore(opt[k].avg)
		}
		vl, gain := validate(m, nets, val, &cfg)
		st := EpochStats{Epoch: epoch, TrainLoss: sum / float64(batches), ValLoss: vl, ValGainDB: gain, LearnRate: lr}
		stop := ""
		// With Keep "best", keep and stop on the separation the masks make
		// on held-out files (the validation mask SNR gain), the quantity
		// the model is for. That metric moves by tenths of a dB from epoch
		// to epoch (a few held-out files, weights that still move), so the
		// epoch it picks and the plateaus that halve the rate are partly
		// luck; Keep "last" with the cosine schedule depends on it not at
		// all, and the average over the last, small steps is what is kept.
		switch {
		case cfg.Keep == "last":
			if epoch == cfg.Epochs {
				st.Best = true
				for k, n := range nets {
					best[k] = n.snapshot(best[k])
				}
			}
		case gain > bestGain+0.01:
			bestGain = gain
			bad = 0
			st.Best = true
			for k, n := range nets {
				best[k] = n.snapshot(best[k])
			}
		default:
			bad++
			if bad%2 == 0 && cfg.Schedule == "plateau" {
				lr *= 0.5 // a plateau of two epochs: smaller steps
			}
			if bad >= cfg.Patience {
				stop = fmt.Sprintf("early stop: no validation improvement in %d epochs", bad)
			}
		}
		for k, n := range nets {
			n.restore(cur[k])
		}
		if stop == "" && epoch == cfg.Epochs {
			stop = fmt.Sprintf("reached the maximum of %d epochs", cfg.Epochs)
		}
		hist.Epochs = append(hist.Epochs, st)
		progress(Progress{Epoch: epoch, Epochs: cfg.Epochs, Batch: batches, Batches: batches, TrainLoss: st.TrainLoss, EpochDone: true, Epoch1: st, Stopping: stop})
		if stop != "" {
			hist.Stopping = stop
			break
		}
	}
	bestEpoch := 0
	for _, e := range hist.Epochs {
		if e.Best {
			bestEpoch = e.Epoch
		}
	}
	for k, n := range nets {
		n.restore(best[k])
		n.toMLP(m.enc[k], m.dec[k])
	}
	be := hist.Epochs[bestEpoch-1]
	m.hdr.Train = TrainInfo{
		Settings: cfg, Data: info, Epochs: len(hist.Epochs), BestEpoch: bestEpoch,
		TrainLoss: round6(be.TrainLoss), ValLoss: round6(be.ValLoss), ValGainDB: round6(be.ValGainDB),
		GoVersion: runtime.Version(), GoArch: runtime.GOARCH,
	}
	progress(Progress{Epoch: len(hist.Epochs), Epochs: cfg.Epochs, Calibrating: true})
	if err := calibrate(ctx, m, val, &cfg, hist); err != nil {
		return nil, hist, err
	}
	return m, hist, nil
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// trainStep does one forward/backward/AdamW step of every class's
// autoencoder on the batch X (mixture bands Xm, class targets T) and returns
// the batch loss (see lossGrad). The classes' networks are independent
// except through the loss, so they run on their own goroutines; each
// network's arithmetic is the same whatever the scheduling.
func trainStep(nets []*tnet, opt []*adam, X, Xm *mat.Dense, T, dC []*mat.Dense, lr, maskLoss float64) float64 {
	C := make([]*mat.Dense, len(nets))
	parallel(len(nets), func(k int) { C[k] = nets[k].forward(X, 0, len(nets[k].layers)) })
	loss := lossGrad(dC, C, T, Xm, maskLoss)
	parallel(len(nets), func(k int) {
		nets[k].backward(X, dC[k], 0, len(nets[k].layers), nil)
		opt[k].t++
		opt[k].lr = lr
		opt[k].step(nets[k])
		opt[k].average(nets[k])
	})
	return loss
}

func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// maskEps keeps the mask denominator Σ_i c_i² away from 0 in training.
const maskEps = 1e-6

// lossGrad returns the loss of the decoder outputs C[k] (rows × bands) for
// targets T[k] and mixture bands Xm, and writes ∂loss/∂C[k] to dC[k] (if
// dC is not nil). Per spectrum and band, with o_k = c_k·√(X̄/Q) the
// square-root-compressed masked mixture, Q = Σ_i c_i² + ε,
//
//	ℓ = (1−λ)·(1/K)·Σ_k (c_k − t_k)²  +  λ·(1/K)·Σ_k (o_k − t_k)²
//
// averaged over rows and bands. The first term is each autoencoder's own
// reconstruction of its class; the second (λ = MaskLoss) scores the
// separation the masks actually make, which couples the classes.
//
//	∂ℓ/∂c_m = (2/K)[(1−λ)(c_m − t_m) + λ·√(X̄/Q)·((o_m − t_m) − (c_m/Q)·Σ_k (o_k − t_k)·c_k)]
func lossGrad(dC, C, T []*mat.Dense, Xm *mat.Dense, lam float64) float64 {
	K := len(C)
	rows, B := C[0].Dims()
	cr := make([]blas64.General, K)
	tr := make([]blas64.General, K)
	dr := make([]blas64.General, K)
	for k := range C {
		cr[k], tr[k] = C[k].RawMatrix(), T[k].RawMatrix()
		if dC != nil {
			dr[k] = dC[k].RawMatrix()
		}
	}
	xr := Xm.RawMatrix()
	scale := 2 / float64(K*rows*B)
	var loss float64
	c := make([]float64, K)
	t := make([]float64, K)
	o := make([]float64, K)
	for r := 0; r < rows; r++ {
		for j := 0; j < B; j++ {
			q := maskEps
			for k := range C {
				c[k] = cr[k].Data[r*cr[k].Stride+j]
				t[k] = tr[k].Data[r*tr[k].Stride+j]
				q += c[k] * c[k]
			}
			g := math.Sqrt(xr.Data[r*xr.Stride+j] / q)
			var cross float64
			for k := range C {
				o[k] = c[k] * g
				d0, d1 := c[k]-t[k], o[k]-t[k]
				loss += (1-lam)*d0*d0 + lam*d1*d1
				cross += d1 * c[k]
			}
			if dC == nil {
				continue
			}
			for k := range C {
				d := (1-lam)*(c[k]-t[k]) + lam*g*((o[k]-t[k])-c[k]/q*cross)
				dr[k].Data[r*dr[k].Stride+j] = scale * d
			}
		}
	}
	return loss / float64(K*rows*B)
}

// validate returns the validation loss and the mean mask SNR gain (dB) of
// the encoder–decoder outputs (no latent steps) with mask power 1.
func validate(m *Model, nets []*tnet, ex *examples, c *TrainConfig) (float64, float64) {
	K, B := len(nets), c.Bands
	w := m.hdr.inputs()
	const chunk = 256
	var loss float64
	outs := make([][]float64, K) // n × B per class
	for k := range outs {
		outs[k] = make([]float64, ex.n*B)
	}
	C := make([]*mat.Dense, K)
	T := make([]*mat.Dense, K)
	for r0 := 0; r0 < ex.n; r0 += chunk {
		r1 := min(r0+chunk, ex.n)
		rows := r1 - r0
		X := mat.NewDense(rows, w, slices.Clone(ex.in[r0*w:r1*w]))
		Xm := mat.NewDense(rows, B, slices.Clone(ex.mixNorm[r0*B:r1*B]))
		for k, n := range nets {
			n.setBatch(rows)
			C[k] = mat.DenseCopyOf(n.forward(X, 0, len(n.layers)))
			T[k] = mat.NewDense(rows, B, nil)
			for r := 0; r < rows; r++ {
				copy(T[k].RawMatrix().Data[r*B:(r+1)*B], ex.target[(r0+r)*K*B+k*B:(r0+r)*K*B+(k+1)*B])
				copy(outs[k][(r0+r)*B:(r0+r+1)*B], C[k].RawMatrix().Data[r*B:(r+1)*B])
			}
		}
		loss += lossGrad(nil, C, T, Xm, c.MaskLoss) * float64(rows)
	}
	for _, n := range nets {
		n.setBatch(c.Batch)
	}
	loss /= float64(ex.n)
	cs := make([][]float32, K)
	for k := range cs {
		cs[k] = make([]float32, B)
	}
	gain := ex.stats.gain(func(r int, dst [][]float32) {
		for k := range cs {
			for j := range cs[k] {
				cs[k][j] = float32(outs[k][r*B+j])
			}
		}
		bandMasks(dst, cs, 1, nil)
	})
	return loss, gain
}

// bandMasks writes M_k = (g_k·Ŝ_k)^p/Σ_i (g_i·Ŝ_i)^p, Ŝ = c², to dst (g = 1
// if gains is nil).
func bandMasks(dst, c [][]float32, p float64, gains []float64) {
	B := len(c[0])
	for j := 0; j < B; j++ {
		var sum float64
		for k := range c {
			s := float64(c[k][j]) * float64(c[k][j])
			if gains != nil {
				s *= gains[k]
			}
			w := math.Pow(s, p)
			dst[k][j] = float32(w)
			sum += w
		}
		for k := range c {
			if sum > 1e-30 {
				dst[k][j] = float32(float64(dst[k][j]) / sum)
			} else {
				dst[k][j] = 1 / float32(len(c))
			}
		}
	}
}

// ExpandFiles turns a list of WAV files and folders (their *.wav files,
// sorted by name, not recursive) into a sorted-by-argument list of files.
func ExpandFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("dict: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("dict: %w", err)
		}
		n := 0
		for _, e := range ents {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".wav") {
				out = append(out, filepath.Join(a, e.Name()))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("dict: %s: no .wav files in this folder", a)
		}
	}
	return out, nil
}

// reverber convolves training excerpts with synthetic room responses:
// h[0] = 1 (direct sound), then from an onset of 1–5 ms exponentially
// decaying Gaussian noise, h[n] = σ·w[n]·10^(−3n/(RT60·fs)), until RT60,
// with σ set by a direct-to-reverberant ratio; h is scaled to unit energy.
// The convolution is done by FFT over the excerpt and RT60 seconds of the
// audio before it, so the tail entering the excerpt is the real one.
type reverber struct {
	rate, n, maxL int
	p             int
	fft           *fourier.FFT
	xe, h         []float64
	X, H          []complex128
	maxRT         float64
}

func newReverber(c *TrainConfig, n int) *reverber {
	maxL := int(c.MaxRT60 * float64(c.Rate))
	p := (n + maxL + 4095) / 4096 * 4096
	return &reverber{
		rate: c.Rate, n: n, maxL: maxL, p: p, maxRT: c.MaxRT60,
		fft: fourier.NewFFT(p),
		xe:  make([]float64, p), h: make([]float64, p),
		X: make([]complex128, p/2+1), H: make([]complex128, p/2+1),
	}
}

// apply writes g·(h ∗ xe)[maxL : maxL+len(dst)] to dst: xe holds the
// maxL samples before the excerpt and the excerpt itself.
func (r *reverber) apply(dst, xe []float64, g float64, rng *rand.Rand) {
	rt := 0.1 + rng.Float64()*(r.maxRT-0.1)
	L := max(int(rt*float64(r.rate)), 2)
	L = min(L, r.maxL)
	drr := 3 + rng.Float64()*12
	onset := int((0.001 + 0.004*rng.Float64()) * float64(r.rate))
	clear(r.h)
	r.h[0] = 1
	var e float64
	for t := onset; t < L; t++ {
		v := rng.NormFloat64() * math.Pow(10, -3*float64(t)/(rt*float64(r.rate)))
		r.h[t] = v
		e += v * v
	}
	if e > 0 {
		s := math.Sqrt(math.Pow(10, -drr/10) / e)
		for t := onset; t < L; t++ {
			r.h[t] *= s
		}
	}
	var eh float64
	for _, v := range r.h[:L] {
		eh += v * v
	}
	gh := g / math.Sqrt(eh)
	clear(r.xe)
	copy(r.xe, xe[r.maxL-L:r.maxL+len(dst)])
	r.fft.Coefficients(r.X, r.xe)
	r.fft.Coefficients(r.H, r.h)
	for i := range r.X {
		r.X[i] *= r.H[i]
	}
	r.fft.Sequence(r.xe, r.X)
	scale := gh / float64(r.p)
	for i := range dst {
		dst[i] = scale * r.xe[L+i]
	}
}

// excerpt writes x read from position start in steps of rate (linear
// interpolation, x looped) to dst: a speed change by 1/rate (pitch and
// tempo), the cheapest augmentation that moves formants and harmonics.
func excerpt(dst, x []float64, start, rate float64) {
	n := float64(len(x))
	p := math.Mod(start, n)
	if p < 0 {
		p += n
	}
	for i := range dst {
		j := int(p)
		fr := p - float64(j)
		j1 := j + 1
		if j1 == len(x) {
			j1 = 0
		}
		dst[i] = x[j]*(1-fr) + x[j1]*fr
		p += rate
		if p >= n {
			p -= n
		}
	}
}

// pickClasses marks the classes of one training mixture in present and
// returns their number: with probability single one class (uniformly);
// otherwise each class with probability p, drawn again until at least two
// are present (one if there is only one class).
func pickClasses(present []bool, rng *rand.Rand, single, p float64) int {
	clear(present)
	if len(present) == 1 || rng.Float64() < single {
		present[rng.IntN(len(present))] = true
		return 1
	}
	for {
		n := 0
		for i := range present {
			present[i] = rng.Float64() < p
			if present[i] {
				n++
			}
		}
		if n >= 2 {
			return n
		}
	}
}
