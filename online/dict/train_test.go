package dict

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/livesep/livesep/stream/wav"
)

// TestTrainDeterministic: the same files, settings and seed give the same
// model bytes; another seed gives other bytes.
func TestTrainDeterministic(t *testing.T) {
	tinyModel(t)
	dir := t.TempDir()
	classes := synFiles(t, dir)
	m, _, err := Train(context.Background(), classes, tinyConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	if !bytes.Equal(b, tiny.bytes) {
		t.Fatal("a second training run with the same seed gave different model bytes")
	}
	// The thread count must not matter either (gonum splits products by
	// position; the classes train on their own goroutines).
	prev := runtime.GOMAXPROCS(1)
	m1, _, err := Train(context.Background(), classes, tinyConfig(), nil)
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if b1, _ := m1.MarshalBinary(); !bytes.Equal(b1, b) {
		t.Fatal("training with GOMAXPROCS=1 gave different model bytes")
	}
	cfg := tinyConfig()
	cfg.Seed = 4
	cfg.Epochs = 1 // enough to differ
	m2, _, err := Train(context.Background(), classes, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := m2.MarshalBinary()
	if bytes.Equal(b, b2) {
		t.Error("seeds 3 and 4 gave the same model")
	}
}

// TestTrainHistory: the loss falls, the cosine schedule runs every epoch
// from LearnRate down towards MinLearnRate, the last epoch's averaged
// weights are kept, the held-out mixtures are separated, and the
// calibration grid is recorded.
func TestTrainHistory(t *testing.T) {
	m := tinyModel(t)
	h := tiny.hist
	cfg := tinyConfig()
	if len(h.Epochs) != cfg.Epochs || h.Stopping == "" {
		t.Fatalf("%d epochs of %d; history %+v", len(h.Epochs), cfg.Epochs, h)
	}
	first, last := h.Epochs[0], h.Epochs[len(h.Epochs)-1]
	if !(last.TrainLoss < first.TrainLoss) {
		t.Errorf("training loss %.4g → %.4g; want lower", first.TrainLoss, last.TrainLoss)
	}
	ti := m.Header().Train
	if ti.BestEpoch != cfg.Epochs {
		t.Errorf("kept epoch %d; want the last, %d", ti.BestEpoch, cfg.Epochs)
	}
	for i, e := range h.Epochs {
		if e.Best != (i == len(h.Epochs)-1) {
			t.Errorf("epoch %d marked best=%v; only the last is kept", e.Epoch, e.Best)
		}
		if i > 0 && !(e.LearnRate < h.Epochs[i-1].LearnRate) {
			t.Errorf("epoch %d learning rate %.4g after %.4g; want falling", e.Epoch, e.LearnRate, h.Epochs[i-1].LearnRate)
		}
	}
	// The rate recorded is the epoch's last step's: at the end of the
	// cosine, LearnRate/20 plus what the last step leaves of the decay.
	if lr := last.LearnRate; !(lr >= cfg.LearnRate/20 && lr < cfg.LearnRate/20*1.01) {
		t.Errorf("final learning rate %.5g; want just above %.5g", lr, cfg.LearnRate/20)
	}
	if abs(last.ValGainDB-ti.ValGainDB) > 1e-6 {
		t.Errorf("last epoch %+v vs header %+v", last, ti)
	}
	// Measured ≈ 12 dB of mask SNR gain on held-out tone+hiss mixtures.
	if ti.ValGainDB < 8 {
		t.Errorf("validation mask gain %.2f dB; want ≥ 8", ti.ValGainDB)
	}
	// The tiny config fixes the power and step size: one power/gain point
	// and one step point, the latter chosen.
	if len(h.Calib) != 2 || !h.Calib[1].Chosen || len(m.Header().ClassGains) != 2 {
		t.Errorf("calibration %+v, class gains %v", h.Calib, m.Header().ClassGains)
	}
	// Confusion: each class takes most of its own streams.
	cm := m.Header().Confusion
	if len(cm) != 2 || !(cm[0][0] > 0.7) || !(cm[1][1] > 0.7) {
		t.Errorf("confusion %v", cm)
	}
}

// TestTrainKeepBest: with Keep "best" and the plateau schedule, the epoch
// with the best validation mask gain is kept, no epoch beats it, and the
// rate is only ever halved.
func TestTrainKeepBest(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig()
	cfg.Keep, cfg.Schedule = "best", "plateau"
	m, h, err := Train(context.Background(), synFiles(t, dir), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ti := m.Header().Train
	best := h.Epochs[ti.BestEpoch-1]
	if !best.Best || abs(best.ValGainDB-ti.ValGainDB) > 1e-6 {
		t.Errorf("best epoch %d: %+v vs header %+v", ti.BestEpoch, best, ti)
	}
	for i, e := range h.Epochs {
		if e.ValGainDB > best.ValGainDB+0.01 {
			t.Errorf("epoch %d has validation gain %.3f dB above the kept epoch's %.3f", e.Epoch, e.ValGainDB, best.ValGainDB)
		}
		if r := cfg.LearnRate / e.LearnRate; r != math.Exp2(math.Round(math.Log2(r))) || (i > 0 && e.LearnRate > h.Epochs[i-1].LearnRate) {
			t.Errorf("epoch %d learning rate %.4g: want %.4g halved, never raised", e.Epoch, e.LearnRate, cfg.LearnRate)
		}
	}
	if ti.ValGainDB < 8 {
		t.Errorf("validation mask gain %.2f dB; want ≥ 8", ti.ValGainDB)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	classes := synFiles(t, dir)
	odd := filepath.Join(dir, "odd.wav")
	if err := wav.WriteFile(odd, 8000, wav.PCM16, [][]float32{make([]float32, 8000)}); err != nil {
		t.Fatal(err)
	}
	silent := filepath.Join(dir, "silent.wav")
	if err := wav.WriteFile(silent, synRate, wav.PCM16, [][]float32{make([]float32, synRate)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		classes []ClassFiles
		want    string
	}{
		{"rate", []ClassFiles{classes[0], {Class: "x", Files: []string{odd}}}, "odd.wav is at 8000 Hz"},
		{"silent", []ClassFiles{classes[0], {Class: "x", Files: []string{silent}}}, "silent.wav is silent"},
		{"missing", []ClassFiles{{Class: "x", Files: []string{filepath.Join(dir, "nope.wav")}}}, "nope.wav"},
		{"duplicate", []ClassFiles{classes[0], classes[0]}, "given twice"},
		{"empty", []ClassFiles{{Class: "x"}}, "has no files"},
		{"none", nil, "no classes"},
	}
	for _, c := range cases {
		_, _, err := Train(context.Background(), c.classes, tinyConfig(), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
	cfg := tinyConfig()
	cfg.Hop = 100
	if _, _, err := Train(context.Background(), classes, cfg, nil); err == nil {
		t.Error("hop 100 with window 256 accepted")
	}
	for _, c := range []struct {
		edit func(*TrainConfig)
		want string
	}{
		{func(c *TrainConfig) { c.Schedule = "step" }, `schedule "step"`},
		{func(c *TrainConfig) { c.Keep = "first" }, `keep "first"`},
		{func(c *TrainConfig) { c.MinLearnRate = 2 * c.LearnRate }, "minimum learning rate"},
	} {
		cfg := tinyConfig()
		c.edit(&cfg)
		if _, _, err := Train(context.Background(), classes, cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v; want %q", err, c.want)
		}
	}
}

func TestTrainCancel(t *testing.T) {
	dir := t.TempDir()
	classes := synFiles(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, _, err := Train(ctx, classes, tinyConfig(), func(p Progress) {
		if n++; n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
}
