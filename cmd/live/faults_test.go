package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livesep/livesep/stream/wav"
)

// A full disk mid-run: a clear error naming the file, a non-zero exit, and
// the files are still valid WAVs holding what fitted (never garbage
// presented as success). Needs root to mount a small tmpfs; skips otherwise.
func TestSeparateDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	in := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim030_2x4", "mix.wav")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	code, stdout, stderr := runCLI(t, "separate", "--in", in, "--out", dir, "--method", "none", "--format", "pcm16")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\nstdout:%s\nstderr:%s", code, exitFailure, stdout, stderr)
	}
	if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "source_1.wav") {
		t.Errorf("stderr does not name the file and the cause: %q", stderr)
	}
	info, y, err := wav.ReadFile(filepath.Join(dir, "source_1.wav"))
	if err != nil {
		t.Fatalf("the partial output is not a valid WAV: %v", err)
	}
	if info.Frames == 0 || info.Frames >= 160000 {
		t.Errorf("partial output has %d frames; want some but not all of 160000", info.Frames)
	}
	_, x, _ := wav.ReadFile(in)
	for i := range y[0] {
		if y[0][i] != x[0][i] {
			t.Fatalf("frame %d of the partial output differs from the input", i)
		}
	}
	t.Logf("disk full after %d frames; error: %s", info.Frames, strings.TrimSpace(stderr))
}

// Issue #7: what IVA did about faulty input is in report.json and in the
// summary: a mic that died (excluded), a stretch of clipping (spectra not
// learnt from).
func TestSeparateReportsIVAEvents(t *testing.T) {
	in := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim030_2x4", "mix.wav")
	_, x, err := wav.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for c := range x {
		for i := 32000; i < 40000; i++ { // 2.0–2.5 s clipped on every mic
			x[c][i] = max(-1, min(1, 20*x[c][i]))
		}
	}
	clear(x[3][64000:]) // mic 4 dead from 4 s
	dir := t.TempDir()
	faulty := filepath.Join(dir, "faulty.wav")
	if err := wav.WriteFile(faulty, 16000, wav.Float32, x); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "separate", "--in", faulty, "--out", out, "--sources", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Events struct {
			ClippedSpectra int64 `json:"clipped_spectra"`
			IVA            struct {
				Quiet    int64 `json:"quiet_channel_spectra"`
				Held     int64 `json:"clipped_spectra_not_learnt"`
				Excluded int   `json:"excluded_mics"`
			} `json:"separator_events"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	e := rep.Events
	// 8000 clipped frames reach 8000/256 + 4 spectra's windows, about 35.
	if e.ClippedSpectra < 30 || e.ClippedSpectra > 40 || e.IVA.Held != e.ClippedSpectra {
		t.Errorf("clipped spectra %d, IVA held %d; want about 35, equal", e.ClippedSpectra, e.IVA.Held)
	}
	// Quiet for 0.5 s (31 spectra), then excluded.
	if e.IVA.Excluded != 1 || e.IVA.Quiet < 25 || e.IVA.Quiet > 40 {
		t.Errorf("excluded %d mics after %d quiet spectra; want 1 after about 31", e.IVA.Excluded, e.IVA.Quiet)
	}
	if !strings.Contains(stdout+stderr, "1 mic(s) excluded as dead") {
		t.Errorf("the summary does not say a mic was excluded:\n%s%s", stdout, stderr)
	}
}
