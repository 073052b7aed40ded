package device

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
)

// ErrNotFound is returned (wrapped) by Find when no device matches.
var ErrNotFound = errors.New("no such device")

// ErrAmbiguous is returned (wrapped) by Find when a substring matches
// several devices.
var ErrAmbiguous = errors.New("device name is ambiguous")

var (
	initMu    sync.Mutex
	initCount int
	hostHung  atomic.Bool // a Close timed out: the host is gone
)

// Init silences ALSA's and libjack's start-up messages, names the JACK
// client (ports become client:in_0 …; "" keeps PortAudio's default
// "PortAudio"), and initialises PortAudio. Every successful Init must be
// matched by Terminate. The client name is fixed by the first Init of a
// process that is not yet initialised.
func Init(jackClient string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initCount == 0 {
		silence()
		if jackClient != "" {
			if err := setJACKClientName(jackClient); err != nil {
				return fmt.Errorf("device: JACK client name %q: %w", jackClient, err)
			}
		}
	}
	if err := portaudio.Initialize(); err != nil {
		return fmt.Errorf("device: initialise PortAudio: %w", err)
	}
	initCount++
	return nil
}

// Terminate releases PortAudio (closing any stream still open). It gives up
// after 2 s: with a JACK server that died, closing the client can hang,
// and a process on its way out must not.
func Terminate() error { return TerminateWithin(2 * time.Second) }

// TerminateWithin is Terminate with a chosen time limit.
func TerminateWithin(d time.Duration) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initCount == 0 {
		return nil
	}
	initCount--
	if hostHung.Load() {
		// A close already hung: Pa_Terminate would hang too (and PortAudio's
		// JACK code asserts on a dead server). Leave it to process exit.
		return errors.New("device: PortAudio not terminated: the host stopped answering")
	}
	done := make(chan error, 1)
	go func() { done <- portaudio.Terminate() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("device: terminate PortAudio: %w", err)
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("device: PortAudio did not terminate within %v (the host is gone?)", d)
	}
}

// JACKClientName is the name the JACK server gave this process's client,
// or "" when no JACK stream is open.
func JACKClientName() string { return jackClientName() }

// Info describes one device as PortAudio lists it.
type Info struct {
	Index       int     `json:"index"` // PortAudio's global device index
	Name        string  `json:"name"`
	HostAPI     string  `json:"host_api"`
	InChannels  int     `json:"in_channels"`
	OutChannels int     `json:"out_channels"`
	DefaultRate float64 `json:"default_rate_hz"`
	// Default latencies PortAudio suggests for interactive (Low) and robust
	// (High) use. JACK reports the server's period here.
	LowInputLatency   time.Duration `json:"low_input_latency_ns"`
	LowOutputLatency  time.Duration `json:"low_output_latency_ns"`
	HighInputLatency  time.Duration `json:"high_input_latency_ns"`
	HighOutputLatency time.Duration `json:"high_output_latency_ns"`
	// DefaultInput/DefaultOutput: the host API's default devices.
	DefaultInput  bool `json:"default_input"`
	DefaultOutput bool `json:"default_output"`

	dev *portaudio.DeviceInfo
}

// String is "index: name (host API)".
func (d Info) String() string { return fmt.Sprintf("%d: %q (%s)", d.Index, d.Name, d.HostAPI) }

// HostAPI is one host API with its devices.
type HostAPI struct {
	Name    string `json:"name"`
	Default bool   `json:"default"` // PortAudio's default host API
	Devices []Info `json:"devices"`
}

func info(d *portaudio.DeviceInfo) Info {
	i := Info{
		Index:             d.Index,
		Name:              d.Name,
		InChannels:        d.MaxInputChannels,
		OutChannels:       d.MaxOutputChannels,
		DefaultRate:       d.DefaultSampleRate,
		LowInputLatency:   d.DefaultLowInputLatency,
		LowOutputLatency:  d.DefaultLowOutputLatency,
		HighInputLatency:  d.DefaultHighInputLatency,
		HighOutputLatency: d.DefaultHighOutputLatency,
		dev:               d,
	}
	if h := d.HostApi; h != nil {
		i.HostAPI = h.Name
		i.DefaultInput = h.DefaultInputDevice == d
		i.DefaultOutput = h.DefaultOutputDevice == d
	}
	return i
}

// HostAPIs lists every host API and its devices. Init must have been called.
func HostAPIs() ([]HostAPI, error) {
	apis, err := portaudio.HostApis()
	if err != nil {
		return nil, fmt.Errorf("device: list host APIs: %w", err)
	}
	def, _ := portaudio.DefaultHostApi()
	out := make([]HostAPI, 0, len(apis))
	for _, a := range apis {
		h := HostAPI{Name: a.Name, Default: a == def}
		for _, d := range a.Devices {
			h.Devices = append(h.Devices, info(d))
		}
		out = append(out, h)
	}
	return out, nil
}

// Devices lists every device, in PortAudio's index order.
func Devices() ([]Info, error) {
	ds, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("device: list devices: %w", err)
	}
	out := make([]Info, len(ds))
	for i, d := range ds {
		out[i] = info(d)
	}
	return out, nil
}

// JACK returns the JACK host API's default input and output devices (the
// server's "system" ports) and true, or false when no JACK server is
// reachable.
func JACK() (in, out Info, ok bool) {
	h, err := portaudio.HostApi(portaudio.JACK)
	if err != nil || h == nil || len(h.Devices) == 0 || h.DefaultInputDevice == nil || h.DefaultOutputDevice == nil {
		return Info{}, Info{}, false
	}
	return info(h.DefaultInputDevice), info(h.DefaultOutputDevice), true
}

// Default returns PortAudio's default input (input true) or output device.
func Default(input bool) (Info, error) {
	var d *portaudio.DeviceInfo
	var err error
	if input {
		d, err = portaudio.DefaultInputDevice()
	} else {
		d, err = portaudio.DefaultOutputDevice()
	}
	if err != nil || d == nil {
		what := "output"
		if input {
			what = "input"
		}
		return Info{}, fmt.Errorf("device: no default %s device: %w", what, err)
	}
	return info(d), nil
}

// Find resolves a user's device query for input (input true) or output:
//
//   - "" is the default device;
//   - a number is PortAudio's device index (as `live devices` prints it);
//   - "API:name" restricts the match to host APIs whose name contains API
//     (e.g. "jack:system", "alsa:default");
//   - otherwise the exact name (case-insensitive) wins, then a unique
//     substring.
//
// Only devices with channels in the wanted direction match. Errors wrap
// ErrNotFound or ErrAmbiguous and name the candidates.
func Find(query string, input bool) (Info, error) {
	if query == "" {
		return Default(input)
	}
	all, err := Devices()
	if err != nil {
		return Info{}, err
	}
	dir := "output"
	if input {
		dir = "input"
	}
	has := func(d Info) bool {
		if input {
			return d.InChannels > 0
		}
		return d.OutChannels > 0
	}
	if n, err := strconv.Atoi(query); err == nil {
		if n < 0 || n >= len(all) {
			return Info{}, fmt.Errorf("device: %s device index %d: %w (there are %d devices; run \"live devices\")", dir, n, ErrNotFound, len(all))
		}
		if !has(all[n]) {
			return Info{}, fmt.Errorf("device: device %s has no %s channels", all[n], dir)
		}
		return all[n], nil
	}
	api, name := "", query
	if i := strings.Index(query, ":"); i > 0 {
		// Only a prefix naming a host API restricts; ALSA names such as
		// "hw:0" keep their colon.
		p := strings.ToLower(query[:i])
		for _, d := range all {
			if strings.Contains(strings.ToLower(d.HostAPI), p) {
				api, name = p, query[i+1:]
				break
			}
		}
	}
	lname := strings.ToLower(name)
	var exact, sub []Info
	for _, d := range all {
		if !has(d) || (api != "" && !strings.Contains(strings.ToLower(d.HostAPI), api)) {
			continue
		}
		ln := strings.ToLower(d.Name)
		if ln == lname {
			exact = append(exact, d)
		} else if strings.Contains(ln, lname) {
			sub = append(sub, d)
		}
	}
	pick := exact
	if len(pick) == 0 {
		pick = sub
	}
	switch len(pick) {
	case 1:
		return pick[0], nil
	case 0:
		return Info{}, fmt.Errorf("device: %s device %q: %w (run \"live devices\" for the list)", dir, query, ErrNotFound)
	}
	names := make([]string, len(pick))
	for i, d := range pick {
		names[i] = d.String()
	}
	sort.Strings(names)
	return Info{}, fmt.Errorf("device: %s device %q: %w: %s (give the index or \"API:name\")", dir, query, ErrAmbiguous, strings.Join(names, ", "))
}

// Status is the set of PortAudio's per-callback status flags.
type Status uint32

// Status bits, as PortAudio reports them to the callback.
const (
	InputUnderflow  = Status(portaudio.InputUnderflow)
	InputOverflow   = Status(portaudio.InputOverflow)
	OutputUnderflow = Status(portaudio.OutputUnderflow)
	OutputOverflow  = Status(portaudio.OutputOverflow)
	PrimingOutput   = Status(portaudio.PrimingOutput)
)

// Callback is the real-time body run for every device buffer: in holds
// frames×InChannels interleaved samples, out must be filled with
// frames×OutChannels. It runs on the host's audio thread and must not
// allocate, block, take locks or panic (the binding turns a panic into
// os.Exit(2)).
type Callback func(in, out []float32, st Status)

// Config opens a duplex stream.
type Config struct {
	In, Out                 Info
	InChannels, OutChannels int
	Rate                    float64
	// LowLatency asks for the devices' low default latencies (interactive
	// use); otherwise the high ones (robust against scheduling hiccups).
	// On JACK both are the server's period.
	LowLatency bool
}

// Stream is an open duplex PortAudio stream driven by a Callback.
type Stream struct {
	s   *portaudio.Stream
	cfg Config
	cb  Callback

	callbacks  atomic.Int64
	frames     atomic.Int64
	minFrames  atomic.Int64
	maxFrames  atomic.Int64
	flagCounts [5]atomic.Int64 // per Status bit, in the order of the constants above
	dacLead    atomic.Int64    // last OutputBufferDacTime − CurrentTime, ns
	adcLag     atomic.Int64    // last CurrentTime − InputBufferAdcTime, ns
	stopped    atomic.Bool
}

// params checks cfg and builds PortAudio's parameters.
func params(cfg Config) (portaudio.StreamParameters, error) {
	switch {
	case cfg.In.dev == nil || cfg.Out.dev == nil:
		return portaudio.StreamParameters{}, errors.New("device: devices not resolved (use Find, Default or JACK)")
	case cfg.InChannels <= 0 || cfg.InChannels > cfg.In.InChannels:
		return portaudio.StreamParameters{}, fmt.Errorf("device: %s has %d input channels; asked for %d", cfg.In, cfg.In.InChannels, cfg.InChannels)
	case cfg.OutChannels <= 0 || cfg.OutChannels > cfg.Out.OutChannels:
		return portaudio.StreamParameters{}, fmt.Errorf("device: %s has %d output channels; asked for %d", cfg.Out, cfg.Out.OutChannels, cfg.OutChannels)
	case cfg.Rate <= 0:
		return portaudio.StreamParameters{}, fmt.Errorf("device: sample rate %g Hz is not positive", cfg.Rate)
	}
	inLat, outLat := cfg.In.HighInputLatency, cfg.Out.HighOutputLatency
	if cfg.LowLatency {
		inLat, outLat = cfg.In.LowInputLatency, cfg.Out.LowOutputLatency
	}
	return portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: cfg.In.dev, Channels: cfg.InChannels, Latency: inLat},
		Output:          portaudio.StreamDeviceParameters{Device: cfg.Out.dev, Channels: cfg.OutChannels, Latency: outLat},
		SampleRate:      cfg.Rate,
		FramesPerBuffer: portaudio.FramesPerBufferUnspecified,
	}, nil
}

// Check asks PortAudio whether cfg would open (Pa_IsFormatSupported),
// without opening anything.
func Check(cfg Config) error {
	p, err := params(cfg)
	if err != nil {
		return err
	}
	if err := portaudio.IsFormatSupported(p, func(in, out []float32) {}); err != nil {
		return fmt.Errorf("device: %s → %s, %d in/%d out at %g Hz: %w", cfg.In, cfg.Out, cfg.InChannels, cfg.OutChannels, cfg.Rate, err)
	}
	return nil
}

// Open opens (but does not start) a duplex stream with interleaved float32
// buffers and paFramesPerBufferUnspecified: the host's own buffer size,
// because a fixed FramesPerBuffer makes PortAudio adapt host buffers to
// user buffers, which adds one buffer of latency (measured on JACK).
func Open(cfg Config, cb Callback) (*Stream, error) {
	if cb == nil {
		return nil, errors.New("device: Open: nil callback")
	}
	p, err := params(cfg)
	if err != nil {
		return nil, err
	}
	st := &Stream{cfg: cfg, cb: cb}
	st.minFrames.Store(-1)
	s, err := portaudio.OpenStream(p, st.callback)
	if err != nil {
		return nil, fmt.Errorf("device: open %s → %s, %d in/%d out at %g Hz: %w", cfg.In, cfg.Out, cfg.InChannels, cfg.OutChannels, cfg.Rate, err)
	}
	st.s = s
	return st, nil
}

// callback is what the binding calls (through reflect, after its
// RWMutex-guarded stream lookup). It counts, records the host's timing and
// hands the buffers to the user's Callback. It allocates nothing.
func (s *Stream) callback(in, out []float32, ti portaudio.StreamCallbackTimeInfo, fl portaudio.StreamCallbackFlags) {
	s.account(len(in), len(out), ti, Status(fl))
	s.cb(in, out, Status(fl))
}

func (s *Stream) account(nin, nout int, ti portaudio.StreamCallbackTimeInfo, st Status) {
	n := int64(0)
	if s.cfg.OutChannels > 0 && nout > 0 {
		n = int64(nout / s.cfg.OutChannels)
	} else if s.cfg.InChannels > 0 {
		n = int64(nin / s.cfg.InChannels)
	}
	s.callbacks.Add(1)
	s.frames.Add(n)
	if m := s.minFrames.Load(); m < 0 || n < m {
		s.minFrames.Store(n)
	}
	if n > s.maxFrames.Load() {
		s.maxFrames.Store(n)
	}
	for i := range s.flagCounts {
		if st&(1<<i) != 0 {
			s.flagCounts[i].Add(1)
		}
	}
	if ti.OutputBufferDacTime > 0 {
		s.dacLead.Store(int64(ti.OutputBufferDacTime - ti.CurrentTime))
	}
	if ti.InputBufferAdcTime > 0 {
		s.adcLag.Store(int64(ti.CurrentTime - ti.InputBufferAdcTime))
	}
}

// Start starts the callbacks.
func (s *Stream) Start() error {
	if err := s.s.Start(); err != nil {
		return fmt.Errorf("device: start %s → %s: %w", s.cfg.In, s.cfg.Out, err)
	}
	return nil
}

// Active reports whether the host still runs the stream's callbacks; it
// turns false when, for example, the JACK server goes away.
func (s *Stream) Active() bool {
	// The binding does not wrap Pa_IsStreamActive; its handle is an
	// unexported unsafe.Pointer to C memory, read here through reflect.
	p := reflect.ValueOf(s.s).Elem().FieldByName("paStream").UnsafePointer()
	return p != nil && streamActive(p) == 1
}

// Close stops the stream without waiting for queued output (Pa_AbortStream)
// and closes it. It gives up waiting after timeout (a host whose server died
// may never answer) and then reports an error; the process can still exit.
// After a device stall, do not call Close at all: with a dead JACK server
// PortAudio's close hangs and then aborts the process (CleanUpStream
// asserts); Abandon says so and lets process exit clean up.
func (s *Stream) Close(timeout time.Duration) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		err := s.s.Abort()
		if cerr := s.s.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, portaudio.StreamIsStopped) {
			return fmt.Errorf("device: close %s → %s: %w", s.cfg.In, s.cfg.Out, err)
		}
		return nil
	case <-time.After(timeout):
		hostHung.Store(true)
		return fmt.Errorf("device: close %s → %s: no answer from the host within %v", s.cfg.In, s.cfg.Out, timeout)
	}
}

// Abandon gives up the stream without calling into PortAudio (see Close):
// for a host that stopped answering. Terminate then does nothing.
func (s *Stream) Abandon() {
	s.stopped.Store(true)
	hostHung.Store(true)
}

// Config is the configuration the stream was opened with.
func (s *Stream) Config() Config { return s.cfg }

// Latency is PortAudio's reported input and output latency for the open
// stream (Pa_GetStreamInfo). On JACK 19.6 the input figure is always 0: the
// loopback test measures the real round trip.
func (s *Stream) Latency() (in, out time.Duration) {
	i := s.s.Info()
	if i == nil {
		return 0, 0
	}
	return i.InputLatency, i.OutputLatency
}

// Stats are the stream's own counters, safe to read while it runs.
type Stats struct {
	Callbacks            int64
	Frames               int64
	MinFrames, MaxFrames int64 // frames per callback seen so far
	InputUnderflows      int64 // callbacks flagged paInputUnderflow …
	InputOverflows       int64
	OutputUnderflows     int64
	OutputOverflows      int64
	PrimingOutput        int64
	// DacLead is the last OutputBufferDacTime − CurrentTime: how far ahead
	// of the DAC the callback writes; AdcLag the last CurrentTime −
	// InputBufferAdcTime. Zero where the host reports no times.
	DacLead, AdcLag time.Duration
}

// Stats reads the counters.
func (s *Stream) Stats() Stats {
	mn := s.minFrames.Load()
	if mn < 0 {
		mn = 0
	}
	return Stats{
		Callbacks:        s.callbacks.Load(),
		Frames:           s.frames.Load(),
		MinFrames:        mn,
		MaxFrames:        s.maxFrames.Load(),
		InputUnderflows:  s.flagCounts[0].Load(),
		InputOverflows:   s.flagCounts[1].Load(),
		OutputUnderflows: s.flagCounts[2].Load(),
		OutputOverflows:  s.flagCounts[3].Load(),
		PrimingOutput:    s.flagCounts[4].Load(),
		DacLead:          time.Duration(s.dacLead.Load()),
		AdcLag:           time.Duration(s.adcLag.Load()),
	}
}
