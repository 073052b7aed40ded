package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
	"github.com/livesep/livesep/stream/wav"
)

func TestParseMonitor(t *testing.T) {
	got, err := parseMonitor("1:0.8, 2,0", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []monitorRoute{{0, 0.8}, {1, 1}, {-1, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parseMonitor = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "x", "1:y", "3", "1:-1", "1:NaN", "-2"} {
		if _, err := parseMonitor(bad, 2); err == nil {
			t.Errorf("parseMonitor(%q) accepted", bad)
		}
	}
}

// Usage mistakes are caught before any device is touched: exit 2.
func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--monitor", "1:x"},
		{"run", "--ui", "fancy"},
		{"run", "--latency", "tiny"},
		{"run", "--channels", "-1"},
		{"run", "extra"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
}

func TestDevicesCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "devices")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "device(s)") {
		t.Fatalf("no host API listed:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "ALSA lib") {
		t.Fatalf("ALSA start-up messages were not silenced:\n%s%s", stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "devices", "--json")
	var apis []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &apis) != nil {
		t.Fatalf("devices --json: exit %d, output %q", code, stdout)
	}
}

// The terminal monitor's keys change the mix through the driver's atomics.
func TestMonitorKeys(t *testing.T) {
	sp, err := stream.NewSpectral(stft.New(256, 64), online.Passthrough{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := stream.NewEngine(multiOut{sp, 3}, stream.EngineConfig{Spec: stream.Spec{Rate: 16000, Channels: 1, MaxFrames: 64}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := stream.NewRealtime(e, stream.RealtimeConfig{InChannels: 1, OutChannels: 2})
	if err != nil {
		t.Fatal(err)
	}
	quits := 0
	m := newMonitorModel(rt, "test", func() { quits++ })
	press := func(keys ...string) {
		for _, k := range keys {
			m.key(k)
		}
	}
	gains := func() string { return fmt.Sprint(rt.SourceGain(0), rt.SourceGain(1), rt.SourceGain(2)) }
	press("2", "m")
	if g := gains(); g != "1 0 1" {
		t.Fatalf("after muting source 2: gains %s", g)
	}
	press("3", "s")
	if g := gains(); g != "0 0 1" {
		t.Fatalf("after soloing source 3: gains %s", g)
	}
	press("0", "1", "-")
	if g := rt.SourceGain(0); math.Abs(float64(g)-math.Pow(10, -1.0/20)) > 1e-6 {
		t.Fatalf("after 1, -: gain %v, want -1 dB", g)
	}
	press("r")
	if r := rt.Routes(); r[0].Source != 1 || r[1].Source != 2 {
		t.Fatalf("after rotate: routes %v", r)
	}
	v := m.View()
	for _, want := range []string{"test", "src", "processing", "keys:"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	press("q")
	if quits != 1 || m.interrupted {
		t.Fatalf("q: %d quits, interrupted %v", quits, m.interrupted)
	}
	press("ctrl+c")
	if !m.interrupted {
		t.Fatal("ctrl+c did not mark the run interrupted")
	}
}

// multiOut copies output 1 of p to n outputs.
type multiOut struct {
	stream.Processor
	n int
}

func (m multiOut) Prepare(s stream.Spec) (int, error) {
	if _, err := m.Processor.Prepare(s); err != nil {
		return 0, err
	}
	return m.n, nil
}
func (m multiOut) Process(dst, src [][]float32) {
	m.Processor.Process(dst[:1], src)
	for c := 1; c < len(dst); c++ {
		copy(dst[c], dst[0])
	}
}

// ---- end to end through a real JACK server ----

// requireJACK skips unless a JACK server answers (jack_lsp uses
// JACK_DEFAULT_SERVER, as PortAudio does).
func requireJACK(t *testing.T) {
	t.Helper()
	if streamtest.RaceEnabled {
		// Real-time runs of the (non-race) binary next to the race pass's
		// other packages: the load, not the product, would drop blocks.
		t.Skip("JACK end-to-end tests run in the non-race pass of ./dev.sh test")
	}
	if _, err := exec.LookPath("jack_lsp"); err != nil {
		t.Skip("JACK tools not installed (apt-get install jackd2 jack-stdio; ./dev.sh test does)")
	}
	if err := exec.Command("jack_lsp").Run(); err != nil {
		t.Skip("no JACK server reachable (./dev.sh test starts one with the dummy backend)")
	}
	for _, tool := range []string{"jack-stdin", "jack-stdout", "jack_connect"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install jack-stdio)", tool)
		}
	}
}

var liveBin struct {
	once sync.Once
	dir  string
	err  error
}

// buildLive builds the live binary without the race detector, so the
// real-time tests measure the program users run (the race detector slows
// the separator several times over).
func buildLive(t *testing.T) string {
	t.Helper()
	liveBin.once.Do(func() {
		liveBin.dir, liveBin.err = os.MkdirTemp("", "livesep-bin")
		if liveBin.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(liveBin.dir, "live"), ".").CombinedOutput()
		if err != nil {
			liveBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if liveBin.err != nil {
		t.Fatal(liveBin.err)
	}
	t.Cleanup(func() {}) // the binary stays for the other tests of this run
	return filepath.Join(liveBin.dir, "live")
}

// waitPorts polls jack_lsp until all ports exist.
func waitPorts(t *testing.T, env []string, ports ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cmd := exec.Command("jack_lsp")
		cmd.Env = env
		out, _ := cmd.Output()
		all := true
		for _, p := range ports {
			all = all && bytes.Contains(out, []byte(p+"\n"))
		}
		if all {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("JACK ports %v did not appear", ports)
}

// writeRawS16 writes x as interleaved 16-bit little-endian PCM, the format
// jack-stdin feeds bit-exactly (its "float" encoding is 64-bit).
func writeRawS16(t *testing.T, path string, x [][]float32) {
	t.Helper()
	b := make([]byte, 2*len(x)*len(x[0]))
	for i := range x[0] {
		for c := range x {
			v := math.Round(float64(x[c][i]) * 32768)
			v = max(-32768, min(32767, v))
			binary.LittleEndian.PutUint16(b[2*(i*len(x)+c):], uint16(int16(v)))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readRawS16 reads jack-stdout's interleaved 16-bit output.
func readRawS16(t *testing.T, path string, ch int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b) / 2 / ch
	x := make([][]float32, ch)
	for c := range x {
		x[c] = make([]float32, n)
		for i := range x[c] {
			x[c][i] = float32(int16(binary.LittleEndian.Uint16(b[2*(i*ch+c):]))) / 32768
		}
	}
	return x
}

// lagOf finds d maximising Σ a[i+d]·b[i] for 0 ≤ d < maxLag (FFT
// cross-correlation): where b starts inside a.
func lagOf(a, b []float32, maxLag int) int {
	n := 1
	for n < len(a)+len(b) {
		n *= 2
	}
	fa, fb := make([]float64, n), make([]float64, n)
	for i, v := range a {
		fa[i] = float64(v)
	}
	for i, v := range b {
		fb[i] = float64(v)
	}
	fft := fourier.NewFFT(n)
	A, B := fft.Coefficients(nil, fa), fft.Coefficients(nil, fb)
	for i := range A {
		A[i] *= cmplx.Conj(B[i])
	}
	r := fft.Sequence(nil, A)
	best, at := math.Inf(-1), 0
	for d := 0; d < maxLag && d < n; d++ {
		if r[d] > best {
			best, at = r[d], d
		}
	}
	return at
}

// exactLag finds where x starts inside rec: the input is silent until the
// feeder starts, so look just before rec's first non-zero sample for the
// offset at which 512 samples of x match exactly.
func exactLag(rec, x []float32) int {
	f := 0
	for f < len(rec) && rec[f] == 0 {
		f++
	}
	for cand := max(0, f-4096); cand <= f; cand++ {
		ok, seen := true, 0
		for i := f - cand; i < len(x) && cand+i < len(rec) && seen < 512; i++ {
			if x[i] != rec[cand+i] {
				ok = false
				break
			}
			seen++
		}
		if ok && seen == 512 {
			return cand
		}
	}
	return -1
}

func meanDeltaSDR(t *testing.T, refs []string, ests []string, mix string) float64 {
	t.Helper()
	r, err := evaluate(refs, ests, mix, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, src := range r.Sources {
		s += float64(src.Improvement.SDR)
	}
	return s / float64(len(r.Sources))
}

// Issue: real time from a device. A dev mixture is played into live run's
// capture ports with jack-stdin and its outputs are recorded with
// jack-stdout; aligned by cross-correlation (the feeder starts a few periods
// late), they must score within 0.5 dB ΔSDR of live separate on the file.
func TestRunJACKMatchesSeparate(t *testing.T) {
	requireJACK(t)
	mixDir := filepath.Join(sharedData(t), "dev", "mixtures", "dev_sim015_2x2")
	mixPath := filepath.Join(mixDir, "mix.wav")
	refs := []string{filepath.Join(mixDir, "ref0.wav"), filepath.Join(mixDir, "ref1.wav")}
	info, x, err := wav.ReadFile(mixPath)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildLive(t)
	tmp := t.TempDir()

	sepDir := filepath.Join(tmp, "sep")
	if out, err := exec.Command(bin, "separate", "--in", mixPath, "--out", sepDir).CombinedOutput(); err != nil {
		t.Fatalf("live separate: %v\n%s", err, out)
	}
	sepOut := []string{filepath.Join(sepDir, "source_1.wav"), filepath.Join(sepDir, "source_2.wav")}
	sepScore := meanDeltaSDR(t, refs, sepOut, mixPath)

	raw := filepath.Join(tmp, "mix.s16")
	writeRawS16(t, raw, x)
	name := fmt.Sprintf("lsrun%d", os.Getpid())
	secs := float64(len(x[0]))/float64(info.Rate) + 3
	run := exec.Command(bin, "run", "--in", "jack:system", "--out", "jack:system", "--channels", "2", "--jack-name", name,
		"--duration", fmt.Sprintf("%.1fs", secs), "--ui", "none", "--record", filepath.Join(tmp, "rec"))
	var runOut bytes.Buffer
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Process.Kill()
	waitPorts(t, nil, name+":in_0", name+":in_1", name+":out_0", name+":out_1")

	outRaw := filepath.Join(tmp, "out.s16")
	of, err := os.Create(outRaw)
	if err != nil {
		t.Fatal(err)
	}
	rec := exec.Command("jack-stdout", "-q", "-b", "16", "-e", "signed", "-L", name+":out_0", name+":out_1")
	rec.Stdout = of
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	feed := exec.Command("jack-stdin", "-q", "-b", "16", "-e", "signed", "-L", "-f", raw, name+":in_0", name+":in_1")
	if out, err := feed.CombinedOutput(); err != nil {
		t.Fatalf("jack-stdin: %v\n%s", err, out)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("live run: %v\n%s", err, runOut.String())
	}
	rec.Process.Signal(syscall.SIGTERM)
	rec.Wait()
	of.Close()
	t.Logf("live run:\n%s", runOut.String())

	y := readRawS16(t, outRaw, 2)

	estDir := filepath.Join(tmp, "est")
	os.MkdirAll(estDir, 0o755)
	// Score what the engine sent to the device, as --record kept it (the
	// sources latency-compensated, so aligned with the recorded input):
	// find where the mixture starts in the recorded input by
	// cross-correlation (the feeder starts a few periods late) and cut the
	// sources there. jack-stdout's capture is kept as a check that the
	// device really played audio: it loses stretches of frames on this
	// setup (a 23 s capture held 21 s), so it cannot be aligned as a whole.
	recDir := filepath.Join(tmp, "rec")
	_, recIn, err := wav.ReadFile(filepath.Join(recDir, "input.wav"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(x[0])
	lag := exactLag(recIn[0], x[0])
	if lag < 0 || lag+n > len(recIn[0]) {
		t.Fatalf("the mixture was not found whole in the recorded input (lag %d, %d frames recorded)", lag, len(recIn[0]))
	}
	mism := 0
	for i := range n {
		if recIn[0][lag+i] != x[0][i] {
			mism++
		}
	}
	t.Logf("the mixture starts %d frames into the recorded input; %d of %d samples differ from the file (jack-stdin drops its first buffer)", lag, mism, n)
	if mism > 1024 {
		t.Fatalf("the input live run recorded is not the mixture fed (%d samples differ)", mism)
	}
	var ests []string
	for c := 0; c < 2; c++ {
		_, s, err := wav.ReadFile(filepath.Join(recDir, fmt.Sprintf("source_%d.wav", c+1)))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(estDir, fmt.Sprintf("source_%d.wav", c+1))
		if err := wav.WriteFile(p, info.Rate, wav.Float32, [][]float32{s[0][lag : lag+n]}); err != nil {
			t.Fatal(err)
		}
		ests = append(ests, p)
	}
	var played float64
	for _, v := range y[0] {
		played = max(played, math.Abs(float64(v)))
	}
	if played < 0.01 {
		t.Fatalf("jack-stdout recorded silence from out_0 (peak %g)", played)
	}
	runScore := meanDeltaSDR(t, refs, ests, mixPath)
	t.Logf("mean ΔSDR: live separate %.2f dB, live run through JACK %.2f dB (difference %.2f dB)", sepScore, runScore, runScore-sepScore)
	if math.Abs(runScore-sepScore) > 0.5 {
		t.Fatalf("live run scores %.2f dB ΔSDR, live separate %.2f dB: more than 0.5 dB apart", runScore, sepScore)
	}

	var rep stream.Report
	b, err := os.ReadFile(filepath.Join(tmp, "rec", "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.Realtime == nil {
		t.Fatalf("report.json: %v\n%s", err, b)
	}
	rr := rep.Realtime
	t.Logf("latency path %.1f ms: %+v; blocks %+v; underrun %d frames", rr.TotalMs, rr.Path, rr.Blocks, rr.UnderrunFrames)
	if rr.CallbackToCallbackFrames != int64(rep.Latency.StreamDelayFrames)+rr.PrimeFrames {
		t.Fatalf("report: callback-to-callback %d != stream delay %d + priming %d", rr.CallbackToCallbackFrames, rep.Latency.StreamDelayFrames, rr.PrimeFrames)
	}
	// One definition of the algorithmic latency in every report: the
	// stream delay plus one block, as live separate and live demo give it.
	if l := rep.Latency; l.AlgorithmicFrames != l.StreamDelayFrames+l.BlockFrames || l.StreamDelayFrames <= 0 {
		t.Fatalf("report latency %+v: algorithmic must be stream delay + block", l)
	}
}

// Killing the JACK server mid-run: a clear error, a non-zero exit, and
// recordings that are valid WAV files holding what was recorded.
func TestRunJACKServerKilled(t *testing.T) {
	requireJACK(t)
	if _, err := exec.LookPath("jackd"); err != nil {
		t.Skip("jackd not installed")
	}
	bin := buildLive(t)
	// One fixed name: a SIGKILLed jackd leaves its server registered, and
	// JACK allows 8; a server of the same name takes the dead one's slot.
	server := "livesep-kill"
	env := append(os.Environ(), "JACK_DEFAULT_SERVER="+server, "JACK_NO_AUDIO_RESERVATION=1")
	jackd := exec.Command("jackd", "--no-realtime", "-n", server, "-d", "dummy", "-r", "16000", "-p", "256", "-C", "4", "-P", "2")
	jackd.Env = env
	if err := jackd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { jackd.Process.Kill(); jackd.Wait() }()
	w := exec.Command("jack_wait", "-w", "-t", "10")
	w.Env = env
	if err := w.Run(); err != nil {
		t.Fatalf("private jackd did not start: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "rec")
	run := exec.Command(bin, "run", "--method", "none", "--duration", "30s", "--ui", "none", "--jack-name", "lskill", "--record", dir)
	run.Env = env
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Process.Kill()
	waitPorts(t, env, "lskill:in_0", "lskill:out_0")
	time.Sleep(1500 * time.Millisecond)
	jackd.Process.Kill()
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("live run still running 15 s after the server was killed\n%s%s", stdout.String(), stderr.String())
	}
	t.Logf("exited %v after the kill: %v\nstderr: %s", time.Since(killed).Round(time.Millisecond), err, firstLine(stderr.String()))
	if code := run.ProcessState.ExitCode(); code != exitFailure {
		t.Fatalf("exit code %d, want %d\n%s%s", code, exitFailure, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "no callback") || !strings.Contains(stderr.String(), "JACK") {
		t.Fatalf("unclear error:\n%s", stderr.String())
	}
	for _, f := range []string{"input.wav", "source_1.wav"} {
		info, data, err := wav.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s not valid after the kill: %v", f, err)
		}
		if secs := float64(len(data[0])) / float64(info.Rate); secs < 1 {
			t.Fatalf("%s holds %.2f s; more than 1 s was recorded", f, secs)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || !bytes.Contains(b, []byte(`"error"`)) {
		t.Fatalf("report.json missing or without the error: %v", err)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// A short run with --record and --stats: valid files aligned with the
// input, a report listing the latency path, JSON stats lines whose heap
// allocation count stays flat.
func TestRunRecordStats(t *testing.T) {
	requireJACK(t)
	bin := buildLive(t)
	dir := filepath.Join(t.TempDir(), "rec")
	out, err := exec.Command(bin, "run", "--method", "none", "--latency", "low", "--duration", "3.5s", "--stats", "--jack-name", fmt.Sprintf("lsstat%d", os.Getpid()), "--record", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("live run: %v\n%s", err, out)
	}
	var lines []map[string]float64
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]float64
		if json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	if len(lines) < 3 {
		t.Fatalf("%d stats lines in:\n%s", len(lines), out)
	}
	t.Logf("stats lines: %v", lines)
	if a, b := lines[1]["heap_allocs"], lines[len(lines)-1]["heap_allocs"]; b != a {
		t.Errorf("heap allocations not flat in steady state: %v then %v", a, b)
	}
	if g := lines[len(lines)-1]["gc_cycles"]; g != 0 {
		t.Errorf("%v GC cycles during a 3.5 s run", g)
	}
	var rep stream.Report
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || rep.Realtime == nil || len(rep.Realtime.Path) < 5 {
		t.Fatalf("report.json: %v\n%s", err, b)
	}
	if lat := rep.Latency.AlgorithmicFrames; lat <= 0 || lat > 128 {
		t.Fatalf("--latency low: algorithmic %d frames, want at most the 128-frame synthesis window", lat)
	}
	_, in, err := wav.ReadFile(filepath.Join(dir, "input.wav"))
	if err != nil {
		t.Fatal(err)
	}
	_, src, err := wav.ReadFile(filepath.Join(dir, "source_1.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if len(in[0])-len(src[0]) != rep.Latency.StreamDelayFrames {
		t.Fatalf("input %d frames, source %d: the source must be the input minus the compensated latency", len(in[0]), len(src[0]))
	}
}

// Issue #7: SIGINT and SIGTERM during `live run --record` end the run
// cleanly: exit 130, and every recording is a valid WAV holding everything
// processed up to the signal (the input and each source the same length,
// within the blocks in flight).
func TestRunRecordSignal(t *testing.T) {
	requireJACK(t)
	bin := buildLive(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rec")
			cmd := exec.Command(bin, "run", "--method", "none", "--jack-name", fmt.Sprintf("lssig%d%d", os.Getpid(), sig), "--record", dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if fi, err := os.Stat(filepath.Join(dir, "input.wav")); err == nil && fi.Size() > 200_000 { // about 1.5 s of 2-channel float32
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no recording after 20 s:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit code %d after %v, want %d:\n%s", code, sig, exitInterrupted, out.String())
			}
			in, _, err := wav.ReadFile(filepath.Join(dir, "input.wav"))
			if err != nil {
				t.Fatalf("input.wav after %v: %v", sig, err)
			}
			src, _, err := wav.ReadFile(filepath.Join(dir, "source_1.wav"))
			if err != nil {
				t.Fatalf("source_1.wav after %v: %v", sig, err)
			}
			if in.Frames < 16000 || src.Frames < 16000 || absInt64(in.Frames-src.Frames) > 4096 {
				t.Errorf("after %v: input.wav %d frames, source_1.wav %d frames; want both ≥ 1 s and equal within the latency and blocks in flight", sig, in.Frames, src.Frames)
			}
			if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
				t.Errorf("report.json after %v: %v", sig, err)
			}
			t.Logf("%v: input %d frames, source %d frames", sig, in.Frames, src.Frames)
		})
	}
}

// Issue #7, mismatches on a device: an unknown device name, a rate the
// device does not run at, --sources above the device's channels and
// --monitor naming a source that does not exist each get an error naming
// the flag or device and what to do, with the documented exit code.
func TestRunJACKDeviceErrors(t *testing.T) {
	requireJACK(t)
	bin := buildLive(t)
	for _, c := range []struct {
		args  []string
		code  int
		wants []string
	}{
		{[]string{"--in", "nosuchdevice"}, exitFailure, []string{`"nosuchdevice"`, "live devices"}},
		{[]string{"--rate", "12345"}, exitFailure, []string{"12345 Hz", "--rate 16000"}},
		{[]string{"--sources", "5"}, exitUsage, []string{"--sources 5", "2 channels"}},
		{[]string{"--monitor", "5"}, exitUsage, []string{`--monitor "5"`, "source 5 does not exist"}},
	} {
		args := append([]string{"run", "--duration", "1s", "--ui", "none", "--jack-name", fmt.Sprintf("lserr%d", os.Getpid())}, c.args...)
		cmd := exec.Command(bin, args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.code {
			t.Errorf("live %s: exit %d, want %d\n%s", strings.Join(args, " "), code, c.code, out)
		}
		for _, w := range c.wants {
			if !strings.Contains(string(out), w) {
				t.Errorf("live %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
			}
		}
	}
}
