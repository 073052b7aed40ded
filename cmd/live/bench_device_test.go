package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// streamDelayOf is the oracle for a configuration's stream delay L, from the
// stft package directly (not from the bench's own report): the Spectral
// processor adds nothing when the block is the hop (the engine's fixed
// blocks), and ICA has none.
func streamDelayOf(t *testing.T, window string) int {
	t.Helper()
	switch window {
	case "-":
		return 0
	case "low":
		cfg, err := stft.LowDelay(lowLatencyWindow, lowLatencySynth/2, lowLatencySynth)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Latency()
	}
	var n, h int
	if _, err := fmt.Sscanf(window, "%d/%d", &n, &h); err != nil {
		t.Fatalf("window %q: %v", window, err)
	}
	return stft.New(n, h).Latency()
}

// Issue #6, device mode: `live bench --device jack` on a real JACK server
// measures, for every configuration, the round trip from our output port to
// our input port, and it must be exactly the prediction on two laps:
// stream delay L + output priming D (P + H − gcd(P, H) + live run's margin)
// + one JACK period P — with L from the stft package and D recomputed here.
// The real-time load rows must be complete: callbacks and processed blocks
// for the requested time, and no allocation or GC cycle in steady state.
func TestBenchDeviceLoopback(t *testing.T) {
	requireJACK(t)
	bin := buildLive(t)
	out := t.TempDir()
	name := fmt.Sprintf("lsbench%d", os.Getpid())
	const seconds = 1.0
	cmd := exec.Command(bin, "bench", "--device", "jack", "--jack-name", name, "--json", "--out", out,
		"--channels", "2", "--methods", "none,ica,iva-aux", "--windows", "1024,low", "--seconds", fmt.Sprint(seconds))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("live bench --device jack: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("sweep took %v", time.Since(start).Round(time.Millisecond))

	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	var onDisk benchReport
	if b, err := os.ReadFile(filepath.Join(out, "bench.json")); err != nil || json.Unmarshal(b, &onDisk) != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(onDisk.Rows) != len(rep.Rows) {
		t.Fatalf("bench.json has %d rows, stdout %d", len(onDisk.Rows), len(rep.Rows))
	}
	d := rep.Device
	if d == nil || !strings.Contains(d.HostAPI, "JACK") || d.Loopback != "jack" || !strings.HasPrefix(d.JACKClient, name) {
		t.Fatalf("device section %+v: want the JACK host, loopback \"jack\", client %q", d, name)
	}
	if rep.Interrupted {
		t.Fatal("a complete sweep is marked interrupted")
	}
	// none 1024/256, none low, ica, iva aux 1024/256, iva aux low.
	if len(rep.Rows) != 5 {
		t.Fatalf("%d rows, want 5: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		label := r.benchConfig.String()
		if r.Error != "" || r.Device == nil || r.Device.Loopback == nil {
			t.Fatalf("%s: error %q, device %+v", label, r.Error, r.Device)
		}
		lb, dv := r.Device.Loopback, r.Device
		h := r.HopFrames
		margin := h
		if r.Window == "low" {
			margin = 0
		}
		L := streamDelayOf(t, r.Window)
		P := lb.PeriodFrames
		D := int64(stream.PrimeFor(int(P), h) + margin)
		want := int64(L) + D + P
		t.Logf("%-22s round trip %d frames (%.2f ms), second lap %d = L %d + D %d + P %d; load: p50 %.0f µs p99.9 %.0f µs, RTF %.4f, %d normal / %d passed / %d dropped blocks, %d xruns, %d allocs",
			label, lb.MeasuredFrames, lb.MeasuredMs, lb.SecondLapFrames, L, D, P, r.P50Us, r.P999Us, r.RTF, dv.NormalBlocks, dv.PassedBlocks, r.Dropped, dv.Xruns, r.Allocs)
		if P <= 0 || dv.PeriodFrames != P {
			t.Fatalf("%s: period %d in the loopback, %d in the load run", label, P, dv.PeriodFrames)
		}
		if lb.StreamDelayFrames != L || lb.PrimeFrames != D || lb.HostLoopFrames != P {
			t.Errorf("%s: reported terms L %d, D %d, host loop %d; want %d, %d, %d", label, lb.StreamDelayFrames, lb.PrimeFrames, lb.HostLoopFrames, L, D, P)
		}
		if lb.PredictedFrames != want || lb.MeasuredFrames != want || lb.SecondLapFrames != want || !lb.Agree {
			t.Errorf("%s: measured %d then %d, predicted %d, agree %v; want exactly L + D + P = %d", label, lb.MeasuredFrames, lb.SecondLapFrames, lb.PredictedFrames, lb.Agree, want)
		}
		if r.LatencyFrames != L+h {
			t.Errorf("%s: algorithmic latency %d frames, want L + H = %d", label, r.LatencyFrames, L+h)
		}
		if dv.MarginFrames != margin || dv.PrimeFrames != D {
			t.Errorf("%s: load run margin %d, priming %d; want %d, %d", label, dv.MarginFrames, dv.PrimeFrames, margin, D)
		}
		// The load ran for the requested time in real time.
		if r.Seconds < seconds || dv.WallSeconds < seconds || dv.Callbacks < int64(seconds*16000)/P/2 {
			t.Errorf("%s: %.2f s of audio, %.2f s wall, %d callbacks; want at least %.1f s", label, r.Seconds, dv.WallSeconds, dv.Callbacks, seconds)
		}
		if dv.NormalBlocks+dv.DegradedBlocks+dv.PassedBlocks+r.Dropped < int64(seconds*16000)/int64(h) || r.P50Us <= 0 || r.RTF <= 0 {
			t.Errorf("%s: %d blocks, p50 %.1f µs, RTF %g: the processor did not run", label, dv.NormalBlocks, r.P50Us, r.RTF)
		}
		if r.Allocs != 0 || r.GCCycles != 0 {
			t.Errorf("%s: %d allocations and %d GC cycles in the steady-state real-time run; want 0", label, r.Allocs, r.GCCycles)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bench_latency.png")); err != nil {
		t.Errorf("plots: %v", err)
	}
}

// Ctrl-C during a device sweep: exit 130, and bench.json holds the
// configurations that completed, marked interrupted.
func TestBenchDeviceLoopbackCtrlC(t *testing.T) {
	requireJACK(t)
	bin := buildLive(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "bench", "--device", "jack", "--jack-name", fmt.Sprintf("lsbenchint%d", os.Getpid()), "--out", out,
		"--channels", "1", "--methods", "none", "--windows", "512,1024,2048,low", "--seconds", "1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Each configuration takes about 2 s (loopback, then 1 s of load):
	// interrupt in the middle of the sweep.
	time.Sleep(4500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d\n%s%s", code, exitInterrupted, stdout.String(), stderr.String())
	}
	var rep benchReport
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("bench.json after Ctrl-C: %v\n%s", err, b)
	}
	t.Logf("interrupted with %d of 4 rows:\n%s", len(rep.Rows), stdout.String())
	if !rep.Interrupted || len(rep.Rows) < 1 || len(rep.Rows) > 3 {
		t.Fatalf("bench.json: interrupted %v with %d rows; want true with 1 to 3 of 4", rep.Interrupted, len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Device == nil || r.Device.Loopback == nil || r.Seconds < 1 {
			t.Fatalf("an incomplete row was kept: %+v", r)
		}
	}
	if !strings.Contains(stdout.String(), "interrupted after") {
		t.Errorf("the table does not say the sweep was interrupted:\n%s", stdout.String())
	}
}

// No JACK server: a clear error that names the flag and what to do, exit 1,
// nothing written.
func TestBenchDeviceNoServer(t *testing.T) {
	t.Setenv("JACK_DEFAULT_SERVER", fmt.Sprintf("livesep-none-%d", os.Getpid()))
	t.Setenv("JACK_NO_START_SERVER", "1")
	out := filepath.Join(t.TempDir(), "b")
	code, _, stderr := runCLI(t, "bench", "--device", "jack", "--quick", "--out", out)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
	}
	for _, want := range []string{"--device jack", "no JACK server", "jackd", "JACK_DEFAULT_SERVER", "live devices"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was created although nothing ran", out)
	}
	code, _, stderr = runCLI(t, "bench", "--device", "no such sound card anywhere", "--out", out)
	if code != exitFailure || !strings.Contains(stderr, `--device "no such sound card anywhere"`) || !strings.Contains(stderr, "live devices") {
		t.Errorf("unknown device: exit %d\n%s", code, stderr)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--loopback"},
		{"bench", "--device-out", "jack:system"},
		{"bench", "--seconds", "-1"},
		{"bench", "--methods", "magic"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
}

// File mode's JSON is unchanged by device mode: no device fields, no
// interrupted flag; and a Ctrl-C (here a cancelled context) still writes
// bench.json with what completed.
func TestBenchFileMode(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--methods", "none", "--channels", "1,2", "--windows", "512", "--seconds", "0.5", "--json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["device"]; ok {
		t.Error("file mode JSON has a device section")
	}
	if _, ok := raw["interrupted"]; ok {
		t.Error("file mode JSON of a complete run has interrupted")
	}
	rows, _ := raw["rows"].([]any)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, r := range rows {
		if _, ok := r.(map[string]any)["device"]; ok {
			t.Errorf("file mode row has device fields: %v", r)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	out2 := t.TempDir()
	if code := run(ctx, []string{"bench", "--methods", "none", "--channels", "1", "--windows", "512", "--seconds", "0.5", "--out", out2}, &o, &e); code != exitInterrupted {
		t.Fatalf("cancelled: exit %d, want %d\n%s", code, exitInterrupted, e.String())
	}
	var rep benchReport
	if b, err := os.ReadFile(filepath.Join(out2, "bench.json")); err != nil || json.Unmarshal(b, &rep) != nil || !rep.Interrupted || len(rep.Rows) != 0 {
		t.Fatalf("bench.json after cancel: %v %+v", err, rep)
	}
}

// The bench's own pieces on the real-time path — the load run's feeder
// (device callback) and the loopback's impulse processor — allocate
// nothing per call.
func TestBenchHotPathAllocs(t *testing.T) {
	if streamtest.RaceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	const ch, hop, period = 2, 256, 256
	sp, err := stream.NewSpectral(stft.New(1024, hop), online.Passthrough{})
	if err != nil {
		t.Fatal(err)
	}
	lp := &loopProc{Processor: sp, threshold: 0.5}
	eng, err := stream.NewEngine(lp, stream.EngineConfig{Spec: stream.Spec{Rate: 16000, Channels: ch, MaxFrames: hop}, RingFrames: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := stream.NewRealtime(eng, stream.RealtimeConfig{InChannels: ch, OutChannels: 1})
	if err != nil {
		t.Fatal(err)
	}
	sig := benchSignal(ch, 2, 3000, 16000) // not a multiple of the period: the feeder wraps
	x := make([]float32, ch*len(sig[0]))
	for c := range sig {
		for i, v := range sig[c] {
			x[i*ch+c] = v
		}
	}
	f := &feeder{rt: rt, x: x, ch: ch, outCh: 1, buf: make([]float32, feederMaxFrames*ch)}
	in, out := make([]float32, period), make([]float32, period)
	// The feeder hands over the signal in order, wrapping at its end: the
	// 12th callback carries frames 2816…2999, then 0…71.
	for k := 0; k < 12; k++ {
		f.callback(in, out, 0)
		eng.ProcessBlock()
	}
	for i := 0; i < period; i++ {
		j := (11*period + i) % len(sig[0])
		for c := 0; c < ch; c++ {
			if got := f.buf[i*ch+c]; got != sig[c][j] {
				t.Fatalf("callback 12, frame %d, channel %d: fed %v, want signal frame %d = %v", i, c, got, j, sig[c][j])
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		f.callback(in, out, 0)
		eng.ProcessBlock() // drains the input ring through loopProc
	}); n != 0 {
		t.Fatalf("feeder callback + loopProc block: %v allocations per run", n)
	}
	lp.arm.Store(true)
	if n := testing.AllocsPerRun(100, func() {
		f.callback(in, out, 0)
		eng.ProcessBlock()
	}); n != 0 {
		t.Fatalf("armed loopProc: %v allocations per run", n)
	}
	if lp.at.Load() < 0 {
		t.Fatal("loopProc never placed its impulse")
	}
}
