package wav

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
)

// roundMagic is 1.5·2^52: for |y| < 2^51, y + roundMagic has no fraction
// bits left, so the addition rounds y to an integer (half to even).
const roundMagic = 0x1.8p52

// writeBufBytes is the Writer's fixed buffer. WriteFrames encodes into it and
// writes it out when full, so a block of any length costs no allocation.
const writeBufBytes = 64 << 10

// Writer encodes planar float32 frames into a WAV file.
type Writer struct {
	name     string
	w        io.WriteSeeker
	c        io.Closer // the file Create opened; nil for NewWriter
	channels int
	format   Format
	ba       int   // bytes per frame
	base     int64 // offset of the RIFF header in w
	hdrLen   int64 // offset of the first data byte, relative to base
	factOff  int64 // offset of the fact chunk's frame count, 0 if none
	buf      []byte
	nbuf     int   // bytes pending in buf
	frames   int64 // frames accepted by WriteFrames
	patched  int64 // frame count the header on disk declares
	clipped  int64
	err      error // sticky
	closed   bool
	closeErr error
	scratch  [4]byte
}

// maxData is the largest data chunk a RIFF header can declare once the
// header's own bytes are counted in the 32-bit RIFF size.
func (w *Writer) maxData() int64 { return math.MaxUint32 - (w.hdrLen - 8) }

// Create creates (or truncates) the file at path and writes a WAV header for
// rate, channels and f, which must be PCM16 or Float32.
func Create(path string, rate, channels int, f Format) (*Writer, error) {
	if err := checkWriterArgs(path, rate, channels, f); err != nil {
		return nil, err
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	w, err := NewWriter(file, path, rate, channels, f)
	if err != nil {
		file.Close()
		return nil, err
	}
	w.c = file
	return w, nil
}

func checkWriterArgs(name string, rate, channels int, f Format) error {
	switch {
	case f != PCM16 && f != Float32:
		return fmt.Errorf("wav: %s: writing %v is not supported; use PCM16 or Float32", name, f)
	case channels < 1 || channels > MaxChannels:
		return fmt.Errorf("wav: %s: %d channels; need 1 to %d", name, channels, MaxChannels)
	case rate <= 0 || int64(rate)*int64(channels*f.Bits()/8) > math.MaxUint32:
		return fmt.Errorf("wav: %s: sample rate %d Hz is out of range", name, rate)
	}
	return nil
}

// NewWriter writes a WAV header at the current offset of ws and returns a
// Writer that appends frames after it. name is used only in error messages.
// Close does not close ws.
//
// PCM16 is written with format tag 1 and a 16-byte fmt chunk, Float32 with
// tag 3, an 18-byte fmt chunk and a fact chunk, as the WAVE specification
// asks for non-PCM data. Both are read by every common tool; the
// WAVE_FORMAT_EXTENSIBLE header is not used because its channel mask means
// loudspeaker positions, which microphone channels do not have.
func NewWriter(ws io.WriteSeeker, name string, rate, channels int, f Format) (*Writer, error) {
	if err := checkWriterArgs(name, rate, channels, f); err != nil {
		return nil, err
	}
	w := &Writer{name: name, w: ws, channels: channels, format: f, ba: channels * f.Bits() / 8}
	base, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: %s: seek: %w", name, err)
	}
	w.base = base

	var h []byte
	le := binary.LittleEndian
	h = append(h, "RIFF\x00\x00\x00\x00WAVE"...)
	if f == PCM16 {
		h = append(h, "fmt "...)
		h = le.AppendUint32(h, 16)
		h = le.AppendUint16(h, tagPCM)
	} else {
		h = append(h, "fmt "...)
		h = le.AppendUint32(h, 18)
		h = le.AppendUint16(h, tagFloat)
	}
	h = le.AppendUint16(h, uint16(channels))
	h = le.AppendUint32(h, uint32(rate))
	h = le.AppendUint32(h, uint32(rate*w.ba))
	h = le.AppendUint16(h, uint16(w.ba))
	h = le.AppendUint16(h, uint16(f.Bits()))
	if f == Float32 {
		h = le.AppendUint16(h, 0) // cbSize
		h = append(h, "fact"...)
		h = le.AppendUint32(h, 4)
		w.factOff = int64(len(h))
		h = le.AppendUint32(h, 0)
	}
	h = append(h, "data\x00\x00\x00\x00"...)
	w.hdrLen = int64(len(h))
	// The RIFF size of an empty file: together with the data size 0 this is
	// what Reader recognises as "streamed, take the rest of the file", so
	// even a process killed before its first Flush leaves readable frames.
	le.PutUint32(h[4:], uint32(w.hdrLen-8))
	if _, err := ws.Write(h); err != nil {
		return nil, fmt.Errorf("wav: %s: writing header: %w", name, err)
	}
	w.buf = make([]byte, writeBufBytes/w.ba*w.ba)
	return w, nil
}

// WriteFrames appends the frames in src: src[c][i] is channel c of frame i.
// len(src) must equal the channel count and every src[c] must have the same
// length; anything else is a programming error and panics.
//
// PCM16 stores round(x·32768) clamped to [-32768, 32767]; Float32 stores x
// unchanged. Samples outside [-1, 1] (PCM16 only) and NaN/±Inf (both
// formats, written as 0) are counted by Clipped and never written raw.
//
// Frames are buffered; Flush makes them part of the file. It returns the
// number of frames consumed. I/O errors are sticky and name the file.
// WriteFrames does not allocate.
func (w *Writer) WriteFrames(src [][]float32) (int, error) {
	if len(src) != w.channels {
		panic(fmt.Sprintf("wav: WriteFrames got %d channels; %s has %d", len(src), w.name, w.channels))
	}
	L := len(src[0])
	for c := range src {
		if len(src[c]) != L {
			panic(fmt.Sprintf("wav: WriteFrames: src[%d] has %d frames, src[0] has %d", c, len(src[c]), L))
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	if (w.frames+int64(L))*int64(w.ba) > w.maxData() {
		// Not sticky: the file so far stays valid and can be closed.
		return 0, fmt.Errorf("wav: %s: %d more frames would pass the 4 GiB RIFF size limit", w.name, L)
	}
	fpb := len(w.buf) / w.ba
	n := 0
	for n < L {
		free := (len(w.buf) - w.nbuf) / w.ba
		if free == 0 {
			if err := w.writeBuf(); err != nil {
				return n, err
			}
			free = fpb
		}
		k := min(L-n, free)
		w.clipped += encode(w.buf[w.nbuf:w.nbuf+k*w.ba], src, n, k, w.format)
		w.nbuf += k * w.ba
		n += k
		w.frames += int64(k)
	}
	return n, nil
}

// writeBuf hands the pending bytes to w.
func (w *Writer) writeBuf() error {
	if w.nbuf == 0 {
		return nil
	}
	m, err := w.w.Write(w.buf[:w.nbuf])
	if err == nil && m < w.nbuf {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("wav: %s: write: %w", w.name, err)
		return w.err
	}
	w.nbuf = 0
	return nil
}

// Flush writes the buffered frames and then patches the data, fact and RIFF
// sizes, so that the file is a valid WAV holding every frame written so far.
// A process killed after Flush loses only what it wrote after it. (Flush
// does not fsync: it survives the process dying, not the machine.) Data
// goes out before the sizes that cover it, so a kill inside Flush leaves
// the previous, still valid, header.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.writeBuf(); err != nil {
		return err
	}
	if w.patched == w.frames {
		return nil
	}
	data := w.frames * int64(w.ba)
	if err := w.patch(w.hdrLen-4, uint32(data)); err != nil {
		return err
	}
	if w.factOff != 0 {
		if err := w.patch(w.factOff, uint32(w.frames)); err != nil {
			return err
		}
	}
	if err := w.patch(4, uint32(w.hdrLen-8+data)); err != nil {
		return err
	}
	if _, err := w.w.Seek(w.base+w.hdrLen+data, io.SeekStart); err != nil {
		w.err = fmt.Errorf("wav: %s: seek: %w", w.name, err)
		return w.err
	}
	w.patched = w.frames
	return nil
}

// patch writes v at header offset off.
func (w *Writer) patch(off int64, v uint32) error {
	if _, err := w.w.Seek(w.base+off, io.SeekStart); err != nil {
		w.err = fmt.Errorf("wav: %s: seek: %w", w.name, err)
		return w.err
	}
	binary.LittleEndian.PutUint32(w.scratch[:], v)
	if _, err := w.w.Write(w.scratch[:]); err != nil {
		w.err = fmt.Errorf("wav: %s: writing header: %w", w.name, err)
		return w.err
	}
	return nil
}

// Close flushes, then closes the file if Create opened it. It is idempotent:
// later calls return the first call's result. Writes after Close fail with
// an error matching fs.ErrClosed.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	err := w.Flush()
	if w.c != nil {
		if cerr := w.c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("wav: %w", cerr)
		}
	}
	w.closeErr = err
	w.err = fmt.Errorf("wav: %s: %w", w.name, fs.ErrClosed)
	return err
}

// Frames is the number of frames accepted by WriteFrames, flushed or not.
func (w *Writer) Frames() int64 { return w.frames }

// Clipped is the number of samples that could not be stored as given:
// outside [-1, 1] in PCM16, or NaN/±Inf in either format.
func (w *Writer) Clipped() int64 { return w.clipped }

// encode interleaves frames [off, off+k) of src into b and returns the
// number of samples it had to clamp or replace.
func encode(b []byte, src [][]float32, off, k int, f Format) (clipped int64) {
	ch := len(src)
	switch f {
	case PCM16:
		for c, s := range src {
			s = s[off : off+k]
			o := 2 * c
			for _, x := range s {
				var v int16
				switch {
				case x >= -1 && x <= 1:
					// x·32768 is exact in float32; rounding it returns a
					// value read as v/32768 to v, bit for bit. Only
					// x > 32767.5/32768 saturates without being counted.
					// Adding and removing 1.5·2^52 rounds half to even (the
					// FPU's default mode) in two adds; math.RoundToEven is
					// a call on GOAMD64=v1 and made PCM16 writing 3x slower.
					// x·2^15 is exact, so a fused multiply-add (arm64)
					// gives the same result.
					r := float64(x)*(1<<15) + roundMagic - roundMagic
					v = int16(min(r, math.MaxInt16))
				case x > 1:
					v, clipped = math.MaxInt16, clipped+1
				case x < -1:
					v, clipped = math.MinInt16, clipped+1
				default: // NaN
					clipped++
				}
				binary.LittleEndian.PutUint16(b[o:], uint16(v))
				o += 2 * ch
			}
		}
	case Float32:
		for c, s := range src {
			s = s[off : off+k]
			o := 4 * c
			for _, x := range s {
				if x-x != 0 { // NaN or ±Inf: one subtraction tests both
					x, clipped = 0, clipped+1
				}
				binary.LittleEndian.PutUint32(b[o:], math.Float32bits(x))
				o += 4 * ch
			}
		}
	}
	return clipped
}

// WriteFile writes data (data[c] is channel c; all the same length) to a
// new file at path.
func WriteFile(path string, rate int, f Format, data [][]float32) error {
	for c := range data {
		if len(data[c]) != len(data[0]) {
			return fmt.Errorf("wav: %s: channel %d has %d frames, channel 0 has %d", path, c, len(data[c]), len(data[0]))
		}
	}
	w, err := Create(path, rate, len(data), f)
	if err != nil {
		return err
	}
	if _, err := w.WriteFrames(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
