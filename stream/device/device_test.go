package device_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/device"
)

// client is this test process's JACK client name (ports client:in_0 …).
var client = fmt.Sprintf("lsdev%d", os.Getpid())

var initOnce sync.Once

// jack initialises PortAudio once and returns JACK's system devices, or
// skips, saying why, when no JACK server is reachable.
func jack(t *testing.T) (in, out device.Info) {
	t.Helper()
	var err error
	initOnce.Do(func() { err = device.Init(client) })
	if err != nil {
		t.Fatal(err)
	}
	in, out, ok := device.JACK()
	if !ok {
		t.Skip("no JACK server reachable (start one with jackd -d dummy, as .ci/run does; JACK_DEFAULT_SERVER selects it)")
	}
	return in, out
}

// noRace skips tests that open a stream under -race: the binding's
// OpenStream does pointer arithmetic that checkptr (on with -race) rejects
// ("pointer arithmetic computed bad pointer value"). ./dev.sh test runs
// these tests again without -race.
func noRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("portaudio.OpenStream trips checkptr under -race; run without -race (./dev.sh test does)")
	}
}

func TestListAndFind(t *testing.T) {
	in, _ := jack(t)
	apis, err := device.HostAPIs()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range apis {
		for _, d := range a.Devices {
			if d.Index == in.Index && strings.Contains(a.Name, "JACK") {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("JACK's system device %v is not listed under JACK in %+v", in, apis)
	}
	for _, q := range []string{"system", "jack:system", "JACK:SYS", fmt.Sprint(in.Index)} {
		d, err := device.Find(q, true)
		if err != nil || d.Index != in.Index {
			t.Errorf("Find(%q) = %v, %v; want %v", q, d, err, in)
		}
	}
	if _, err := device.Find("no such device anywhere", true); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("Find(nonsense) = %v, want ErrNotFound", err)
	}
	if _, err := device.Find("999", false); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("Find(999) = %v, want ErrNotFound", err)
	}
}

// impulseProc wraps a processor: once armed, it adds one impulse to the
// input a little after the block it is armed in, and records at which input
// frames the captured signal (before the addition) carries an impulse back.
// Arming waits for the loopback to be wired: on a loaded machine jack_lsp and
// jack_connect can take longer than any fixed delay, and an impulse sent
// before the wire exists never comes back.
type impulseProc struct {
	stream.Processor
	lead    int64        // frames between arming and the impulse
	armed   atomic.Bool  // set by the test once the loop is connected
	at      atomic.Int64 // input frame of the impulse; -1 until armed
	pos     int64
	in      [][]float32
	arrived []int64
	mu      sync.Mutex
	blocked int64 // frames after an arrival during which no new one is counted
}

func (p *impulseProc) Prepare(s stream.Spec) (int, error) {
	p.in = make([][]float32, s.Channels)
	for c := range p.in {
		p.in[c] = make([]float32, s.MaxFrames)
	}
	p.arrived = make([]int64, 0, 16)
	p.at.Store(-1)
	return p.Processor.Prepare(s)
}

func (p *impulseProc) Process(dst, src [][]float32) {
	for c := range src {
		copy(p.in[c], src[c])
	}
	at := p.at.Load()
	if at < 0 && p.armed.Load() {
		at = p.pos + int64(len(src[0])) + p.lead
		p.at.Store(at)
	}
	for i, v := range src[0] {
		k := p.pos + int64(i)
		if k == at {
			p.in[0][i] += 1
		}
		if v > 0.5 && k > p.blocked && len(p.arrived) < cap(p.arrived) {
			p.mu.Lock()
			p.arrived = append(p.arrived, k)
			p.mu.Unlock()
			p.blocked = k + 64
		}
	}
	p.pos += int64(len(src[0]))
	p.Processor.Process(dst, p.in)
}

func (p *impulseProc) arrivals() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.arrived...)
}

func jackCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// ourPorts finds this client's first input and output port.
func ourPorts(t *testing.T, name string) (in, out string) {
	t.Helper()
	b, err := exec.Command("jack_lsp").Output()
	if err != nil {
		t.Fatalf("jack_lsp: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case in == "" && strings.HasPrefix(l, name+":in_"):
			in = l
		case out == "" && strings.HasPrefix(l, name+":out_"):
			out = l
		}
	}
	if in == "" || out == "" {
		t.Fatalf("ports of JACK client %q not found in:\n%s", name, b)
	}
	return in, out
}

// Loopback through a real JACK server: our out_0 is wired to our in_0, an
// impulse enters the separator's input, comes out Latency() frames later,
// is primed by D, crosses JACK's own loop (one period) and comes back. The
// round trip must be exactly L + D + P, i.e. the algorithmic latency plus
// whole JACK periods — nothing hidden, nothing drifting.
func TestLoopbackRoundTrip(t *testing.T) {
	noRace(t)
	in, out := jack(t)
	for _, c := range []struct {
		name string
		cfg  func() (stft.Config, error)
	}{
		{"low-delay 512/64/128", func() (stft.Config, error) { return stft.LowDelay(512, 64, 128) }},
		{"sqrt-hann 1024/256", func() (stft.Config, error) { return stft.New(1024, 256), nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A measurement during which the machine made the driver pass
			// through, drop or underrun (another process hogging the CPU) is
			// repeated: the exact figure is asserted on a clean run.
			for attempt := 1; ; attempt++ {
				clean, s := measureLoop(t, c.cfg, in, out)
				if clean {
					if s.PrimeFrames%s.PeriodFrames != 0 {
						t.Fatalf("priming %d is not a whole number of periods of %d", s.PrimeFrames, s.PeriodFrames)
					}
					return
				}
				if attempt == 3 {
					t.Fatal("three loopback runs disturbed by late blocks; cannot measure")
				}
			}
		})
	}
}

// measureLoop runs one loopback measurement; it fails the test on a wrong
// round trip measured without disturbance, and reports whether the run was
// undisturbed.
func measureLoop(t *testing.T, mk func() (stft.Config, error), in, out device.Info) (bool, stream.RealtimeStats) {
	t.Helper()
	cfg, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := stream.NewSpectral(cfg, online.Passthrough{})
	if err != nil {
		t.Fatal(err)
	}
	rate := int(in.DefaultRate)
	p := &impulseProc{Processor: sp, lead: int64(rate / 20)}
	eng, err := stream.NewEngine(p, stream.EngineConfig{Spec: stream.Spec{Rate: stream.Rate(rate), Channels: 1, MaxFrames: cfg.Hop}, RingFrames: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := stream.NewRealtime(eng, stream.RealtimeConfig{InChannels: 1, OutChannels: 1})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := device.Open(device.Config{In: in, Out: out, InChannels: 1, OutChannels: 1, Rate: float64(rate), LowLatency: true},
		func(in, out []float32, _ device.Status) { rt.Callback(in, out) })
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close(2 * time.Second)
	// The run ends once the impulse has made two laps, or after 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- rt.Run(ctx, dev.Active) }()
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	// Only our own output may reach our input. PortAudio numbers
	// ports per stream, so look them up.
	pin, pout := ourPorts(t, device.JACKClientName())
	exec.Command("jack_disconnect", "system:capture_1", pin).Run()
	jackCmd(t, "jack_connect", pout, pin)
	p.armed.Store(true)
	for ctx.Err() == nil && len(p.arrivals()) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s := rt.Stats()
	a := p.arrivals()
	lat := sp.Latency()
	want := int64(lat) + s.PrimeFrames + s.PeriodFrames
	if len(a) < 2 {
		t.Fatalf("impulse came back %d times (%v); stats %+v", len(a), a, s)
	}
	rt1, rt2 := a[0]-p.at.Load(), a[1]-a[0]
	t.Logf("round trip %d frames (%.2f ms) = algorithmic %d + priming %d + JACK loop %d (= L + %d JACK periods of %d); second lap %d; %d normal blocks, %d passed, %d dropped, %d underrun frames",
		rt1, 1000*float64(rt1)/float64(rate), lat, s.PrimeFrames, s.PeriodFrames, (s.PrimeFrames+s.PeriodFrames)/s.PeriodFrames, s.PeriodFrames, rt2, s.Normal, s.Passed, s.Dropped, s.UnderrunFrames)
	disturbed := s.Passed+s.Dropped+s.UnderrunFrames > 0
	if disturbed && (rt1 != want || rt2 != want) {
		t.Logf("disturbed run (late blocks); measuring again")
		return false, s
	}
	if rt1 != want || rt2 != want {
		t.Fatalf("round trip %d then %d frames; want exactly L + D + P = %d + %d + %d = %d", rt1, rt2, lat, s.PrimeFrames, s.PeriodFrames, want)
	}
	return true, s
}

// The device callback wrapper itself (counting and dispatch) allocates
// nothing: checked on the real stream by the runtime's allocation counter
// over a second of callbacks, with the rest of the process idle.
func TestCallbackAllocsOnDevice(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	in, out := jack(t)
	var calls int64
	dev, err := device.Open(device.Config{In: in, Out: out, InChannels: 1, OutChannels: 1, Rate: in.DefaultRate, LowLatency: true},
		func(in, out []float32, _ device.Status) { clear(out); calls++ })
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close(2 * time.Second)
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	probe := stream.NewRuntimeProbe()
	before := probe.Read()
	time.Sleep(time.Second)
	after := probe.Read()
	st := dev.Stats()
	n := after.HeapAllocObjects - before.HeapAllocObjects
	t.Logf("%d heap allocations over about %d callbacks", n, st.Callbacks)
	if st.Callbacks < 20 {
		t.Fatalf("only %d callbacks in 1.2 s", st.Callbacks)
	}
	// time.Sleep and the probe itself are quiet; allow the runtime's own
	// background work a handful, not one per callback.
	if n > 10 {
		t.Fatalf("%d allocations in 1 s of callbacks (%d callbacks): the callback path allocates", n, st.Callbacks)
	}
}
