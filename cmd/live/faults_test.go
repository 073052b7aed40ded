package main

import (
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
