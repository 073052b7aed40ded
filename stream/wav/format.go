package wav

import (
	"errors"
	"strconv"
)

// Format is the sample encoding of a WAV data chunk.
type Format int

// Sample formats. The zero Format is invalid so that a forgotten field is
// caught by Create instead of silently meaning 16-bit.
const (
	PCM16   Format = iota + 1 // signed 16-bit integer, value v means v/32768
	PCM24                     // signed 24-bit integer, value v means v/8388608
	PCM32                     // signed 32-bit integer, value v means v/2147483648
	Float32                   // IEEE 754 binary32, stored as is
)

// MaxChannels is the largest channel count Reader and Writer accept.
const MaxChannels = 32

// String returns the constant's name, e.g. "PCM16".
func (f Format) String() string {
	switch f {
	case PCM16:
		return "PCM16"
	case PCM24:
		return "PCM24"
	case PCM32:
		return "PCM32"
	case Float32:
		return "Float32"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Bits is the stored size of one sample in bits (0 for an invalid Format).
func (f Format) Bits() int {
	switch f {
	case PCM16:
		return 16
	case PCM24:
		return 24
	case PCM32, Float32:
		return 32
	}
	return 0
}

// Info describes the audio in a WAV file.
type Info struct {
	Rate     int    // frames per second
	Channels int    // 1 to MaxChannels
	Format   Format // sample encoding of the data chunk
	// Frames is the number of whole frames in the data chunk: the declared
	// size divided by the frame size, or, for a streamed file whose data size
	// is a placeholder (see the package documentation), the whole frames
	// present in the rest of the file.
	Frames int64
}

// ErrFormat is matched (errors.Is) by every error about the content of a
// file: not a WAV, unsupported encoding, inconsistent header, truncation.
// File-system errors (missing file, permission) are not ErrFormat; they wrap
// the os error instead, so errors.Is(err, fs.ErrNotExist) works.
var ErrFormat = errors.New("wav: unsupported or malformed file")

// formatError is a content error about one file. It matches ErrFormat and
// unwraps to its cause (io.ErrUnexpectedEOF for every truncation), so callers
// can tell "cut short" from "never was a valid WAV" when they need to.
type formatError struct {
	name  string // file name as given by the caller
	msg   string // the problem, without the "wav: name: " prefix
	cause error  // nil, or io.ErrUnexpectedEOF for truncations
}

func (e *formatError) Error() string {
	// The cause is not repeated: every truncation message already says
	// "truncated", and the text stays the one line users see.
	return "wav: " + e.name + ": " + e.msg
}

func (e *formatError) Is(target error) bool { return target == ErrFormat }
func (e *formatError) Unwrap() error        { return e.cause }
