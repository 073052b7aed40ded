package main

import (
	"github.com/livesep/livesep/internal/shareddata"

	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/wav"
)

// TestMain lets the test binary stand in for the live binary in subprocess
// tests (signals, exit codes): LIVE_AS_MAIN=1 runs main with the arguments
// after "--".
func TestMain(m *testing.M) {
	if os.Getenv("LIVE_AS_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"live"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// sharedData finds ../shared/data from the module root, or skips.
func sharedData(t testing.TB) string { return shareddata.Path(t) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// Issue #2: `live separate --method none` writes mic 1 back, sample for
// sample, up to 16-bit rounding — the end-to-end proof of reconstruction and
// latency compensation.
func TestSeparateNoneReconstructsMic1(t *testing.T) {
	in := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim030_2x4", "mix.wav")
	_, x, err := wav.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ format, latency string }{{"pcm16", "normal"}, {"float32", "normal"}, {"pcm16", "low"}} {
		format := v.format
		out := t.TempDir()
		code, stdout, stderr := runCLI(t, "separate", "--in", in, "--out", out, "--method", "none", "--format", format, "--latency", v.latency)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		_, y, err := wav.ReadFile(filepath.Join(out, "source_1.wav"))
		if err != nil {
			t.Fatal(err)
		}
		if len(y) != 1 || len(y[0]) != len(x[0]) {
			t.Fatalf("%s: got %d channels × %d frames, want 1 × %d", format, len(y), len(y[0]), len(x[0]))
		}
		worst := 0.0
		for i := range x[0] {
			worst = math.Max(worst, math.Abs(float64(y[0][i]-x[0][i])))
		}
		// pcm16: identical samples; float32: within half an LSB of 16 bits.
		limit := map[string]float64{"pcm16": 0, "float32": 0.5 / 32768}[format]
		if worst > limit {
			t.Errorf("%s/%s: worst |out[k]-mic1[k]| = %g (%.3f LSB), want <= %g", format, v.latency, worst, worst*32768, limit)
		}
		var rep map[string]any
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"latency", "processing", "real_time_factor", "late_blocks", "dropped_blocks", "runtime", "settings"} {
			if _, ok := rep[k]; !ok {
				t.Errorf("report.json lacks %q", k)
			}
		}
		if rep["error"] != nil {
			t.Errorf("report.json error: %v", rep["error"])
		}
	}
}

func TestUsageErrors(t *testing.T) {
	in := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim030_2x2", "mix.wav")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Commands:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"separate", "--in", in}, exitUsage, "--in and --out are required"},
		{[]string{"separate", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"separate", "--in", in, "--out", t.TempDir(), "--method", "magic"}, exitUsage, `--method "magic"`},
		{[]string{"separate", "--in", in, "--out", t.TempDir(), "--sources", "3"}, exitUsage, "--sources 3 is more than the 2 channels"},
		{[]string{"separate", "--in", in, "--out", t.TempDir(), "--method", "none", "--window", "512", "--hop", "384"}, exitUsage, "--window 512 --hop 384"},
		{[]string{"separate", "--in", in, "--out", t.TempDir(), "--track", "often"}, exitUsage, `--track "often": want auto, off or a duration`},
		{[]string{"separate", "--in", in, "--out", t.TempDir(), "--track", "10s"}, exitUsage, "--track 10s: the tracking memory must be shorter than --memory"},
		{[]string{"separate", "--in", "/nonexistent/mix.wav", "--out", t.TempDir()}, exitFailure, "/nonexistent/mix.wav"},
		{[]string{"eval", "--ref", in}, exitUsage, "--ref and --est are required"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("live %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
	if code, stdout, _ := runCLI(t, "separate", "--help"); code != 0 || !strings.Contains(stdout, "Examples:") {
		t.Errorf("separate --help: exit %d, %q", code, stdout)
	}
}

// Issues #2 and #7: Ctrl-C (SIGINT) or SIGTERM mid-run leaves valid WAV files holding everything
// processed up to the signal, aligned with the input, and a report saying
// the run was interrupted; the exit code is 130.
func TestSeparateInterruptFinalises(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 15-minute file")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "long.wav")
	const rate, frames = 16000, 16000 * 60 * 15
	x := make([][]float32, 2)
	for c := range x {
		x[c] = make([]float32, frames)
		for i := range x[c] {
			x[c][i] = float32(0.3 * math.Sin(float64(i*(c+1))*0.01))
		}
	}
	if err := wav.WriteFile(in, rate, wav.PCM16, x); err != nil {
		t.Fatal(err)
	}
	_, x, _ = wav.ReadFile(in) // compare against what was stored
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		out := filepath.Join(dir, "out-"+sig.String())
		cmd := exec.Command(os.Args[0], "--", "separate", "--in", in, "--out", out, "--method", "none", "--format", "pcm16")
		cmd.Env = append(os.Environ(), "LIVE_AS_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until audio is being written, then interrupt.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if fi, err := os.Stat(filepath.Join(out, "source_1.wav")); err == nil && fi.Size() > 200_000 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("no output after 20 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if code != exitInterrupted {
			t.Fatalf("%v: exit code %d (%v), want %d; stderr:\n%s", sig, code, err, exitInterrupted, stderr.String())
		}
		info, y, err := wav.ReadFile(filepath.Join(out, "source_1.wav"))
		if err != nil {
			t.Fatalf("output after %v is not a valid WAV: %v", sig, err)
		}
		if info.Frames == 0 || info.Frames >= frames {
			t.Fatalf("output has %d frames; want some but not all %d", info.Frames, frames)
		}
		for i := range y[0] {
			if y[0][i] != x[0][i] {
				t.Fatalf("frame %d: %g, want %g", i, y[0][i], x[0][i])
			}
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Interrupted bool `json:"interrupted"`
		}
		if json.Unmarshal(b, &rep); !rep.Interrupted {
			t.Errorf("report.json does not say interrupted:\n%s", b)
		}
		t.Logf("%v: stopped after %d of %d frames (%.1f s); files valid", sig, info.Frames, frames, float64(info.Frames)/rate)
	}
}

// `live demo` runs from the embedded mixture alone and leaves every file it
// promises: outputs, report, scores and the figure.
func TestDemo(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "demo", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"source_1.wav", "source_2.wav", "report.json", "eval.json", "demo.png", "input/mix.wav", "input/SOURCES.md"} {
		fi, err := os.Stat(filepath.Join(out, f))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	var r EvalResult
	b, _ := os.ReadFile(filepath.Join(out, "eval.json"))
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sources) != 2 || r.Windows == nil || r.Mean.Improvement == nil {
		t.Fatalf("eval.json incomplete: %s", b)
	}
	for _, want := range []string{"ΔSDR", "algorithmic latency", "real-time factor"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	t.Logf("demo: mean ΔSDR %.2f dB, ΔSIR %.2f dB", r.Mean.Improvement.SDR, r.Mean.Improvement.SIR)
}

// The --stats line shows the scene-change count when the separator tracks
// scenes, and nothing about it otherwise.
func TestPlainLineSceneChanges(t *testing.T) {
	s := stream.Snapshot{Convergence: math.NaN(), SceneChanges: 2}
	if l := plainLine(&s, nil, time.Second); !strings.Contains(l, "scene changes 2") {
		t.Errorf("tracking: %q lacks the count", l)
	}
	s.SceneChanges = -1
	if l := plainLine(&s, nil, time.Second); strings.Contains(l, "scene") {
		t.Errorf("not tracking: %q mentions scenes", l)
	}
}

// With the dictionary on, the plain line names each output's class, "—"
// while undecided; without it, no class column.
func TestPlainLineClasses(t *testing.T) {
	s := stream.Snapshot{Convergence: math.NaN(), SceneChanges: -1, Classes: []int{1, -1}}
	if l := plainLine(&s, []string{"speech", "music"}, time.Second); !strings.Contains(l, "| class music —") {
		t.Errorf("dictionary: %q lacks the classes", l)
	}
	s.Classes = nil
	if l := plainLine(&s, nil, time.Second); strings.Contains(l, "class") {
		t.Errorf("no dictionary: %q has a class column", l)
	}
}
