// Package device is livesep's only door to sound hardware: it wraps
// github.com/gordonklaus/portaudio (cgo) to list host APIs and devices,
// resolve a user's device query (name, substring, index, "API:name"), and
// open a duplex stream driven by a Callback. No other package imports
// PortAudio; everything real-time above the callback lives in package
// stream (Realtime), which can therefore be tested without a device.
//
// # Real-time contract
//
// Streams use the callback API with interleaved float32 buffers and
// paFramesPerBufferUnspecified: the host's own buffer size. A fixed
// FramesPerBuffer makes PortAudio adapt host buffers to user buffers, which
// adds one buffer of latency (measured on JACK: 256 → 384 → 512 → 768 frames
// of round trip for unspecified, 128, 256, 512). The blocking Read/Write API
// is not used: with non-interleaved buffers on JACK it corrupts the heap
// (PortAudio #81).
//
// The callback (Stream.callback, then the user's Callback) only counts —
// atomics — and hands the buffers on; it allocates nothing (measured on a
// real JACK stream: 0 heap allocations over a second of callbacks) and
// never blocks. The only lock on the path is the binding's RWMutex-guarded
// stream lookup on every callback (gordonklaus/portaudio portaudio.go
// L554-558, needed for the cgo pointer rules), followed by a
// reflect.Value.Call. A panic in a callback makes the binding call
// os.Exit(2), so the user's Callback must not panic.
//
// # Concurrency
//
// Init/Terminate and Open/Close are for one goroutine (the CLI's). Stats,
// Latency and Active may be called from any goroutine while the stream runs.
//
// # Host quirks handled here
//
//   - ALSA prints about 60 "ALSA lib …" lines while PortAudio probes a
//     machine without a card, and libjack complains when no server runs:
//     Init installs silent handlers (snd_lib_error_set_handler,
//     jack_set_error_function) before portaudio.Initialize.
//   - The JACK client gets a name (PaJack_SetClientName, before Initialize),
//     so ports are NAME:in_0 … and tests can wire them with jack_connect.
//   - When a JACK server dies, callbacks stop; PortAudio's close then hangs
//     and asserts (pa_jack.c CleanUpStream). Callers detect the stall
//     (stream.ErrDeviceStalled) and call Abandon instead of Close, and
//     Terminate is skipped: the process exits with its files finalised.
//   - JACK 19.6 reports 0 input latency; the loopback test measures the
//     real round trip instead (one JACK period for the server's own loop).
//
// # Latency
//
// Stream.Latency is PortAudio's reported figure (Pa_GetStreamInfo); Stats
// has the host's time stamps (DacLead, AdcLag). stream.Realtime adds its own
// terms; stream.RealtimeReport lists them all.
package device
