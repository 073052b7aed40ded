package device

/*
#cgo pkg-config: portaudio-2.0 alsa jack
#include <stdlib.h>
#include <portaudio.h>
#include <pa_jack.h>
#include <alsa/asoundlib.h>
#include <jack/jack.h>

// quietALSA swallows alsa-lib's error messages: with no sound card,
// Pa_Initialize would print about 60 "ALSA lib ..." lines while probing.
static void quietALSA(const char *file, int line, const char *fn, int err, const char *fmt, ...) {}
static void silenceALSA(void) { snd_lib_error_set_handler(quietALSA); }

// quietJACK swallows libjack's "Cannot connect to server socket" chatter
// printed when no JACK server runs; PortAudio then just lists no JACK devices.
static void quietJACK(const char *msg) {}
static void silenceJACK(void) {
	jack_set_error_function(quietJACK);
	jack_set_info_function(quietJACK);
}

static int streamActive(void *s) { return Pa_IsStreamActive((PaStream*)s); }
*/
import "C"

import "unsafe"

// silence installs the ALSA and JACK message handlers. It must run before
// portaudio.Initialize, which is when both libraries start talking.
func silence() {
	C.silenceALSA()
	C.silenceJACK()
}

// setJACKClientName names the JACK client PortAudio opens (ports become
// name:in_0 …). It must run before portaudio.Initialize. PortAudio keeps the
// pointer, so the C string is deliberately never freed (one per process).
func setJACKClientName(name string) error {
	if err := C.PaJack_SetClientName(C.CString(name)); err != C.paNoError {
		return paError(int(err))
	}
	return nil
}

// jackClientName is the name JACK actually gave the client (JACK appends a
// suffix when the name is taken); "" if there is no JACK client.
func jackClientName() string {
	var p *C.char
	if C.PaJack_GetClientName(&p) != C.paNoError || p == nil {
		return ""
	}
	return C.GoString(p)
}

// streamActive is Pa_IsStreamActive on the binding's stream handle: 1 while
// callbacks are running, 0 once the host (e.g. a dead JACK server) stopped
// the stream, negative on error.
func streamActive(p unsafe.Pointer) int { return int(C.streamActive(p)) }

// paError turns a PortAudio error code into a Go error.
func paError(code int) error {
	return &codeError{code: code, text: C.GoString(C.Pa_GetErrorText(C.PaError(code)))}
}

type codeError struct {
	code int
	text string
}

func (e *codeError) Error() string { return "portaudio: " + e.text }
