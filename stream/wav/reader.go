package wav

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
)

// readBufBytes bounds the Reader's internal byte buffer. ReadFrames decodes
// through it in pieces, so a block of any length costs no allocation and the
// memory a Reader holds does not depend on what a header declares.
const readBufBytes = 64 << 10

// Format tags (the first field of the fmt chunk).
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xFFFE
)

// sizeUnknown is the data (or RIFF) size a streaming writer leaves when it
// cannot seek back to patch the header.
const sizeUnknown = 0xFFFFFFFF

// guidTail is bytes 2..15 of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT
// ({0000000X-0000-0010-8000-00AA00389B71}); bytes 0..1 hold the format tag.
var guidTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// Reader decodes the data chunk of a WAV file into planar float32 frames.
type Reader struct {
	name   string
	r      io.ReadSeeker
	c      io.Closer // the file Open opened; nil for NewReader
	info   Info
	ba     int   // block align: bytes per frame
	base   int64 // offset of the RIFF header in r
	data   int64 // offset of the first data byte, relative to base
	left   int64 // frames not yet delivered
	tail   int   // bytes of a partial last frame (streamed files only)
	buf    []byte
	err    error // sticky; io.EOF is not stored
	closed bool
}

// Open opens the WAV file at path and parses its header. Errors name the
// file; file-system errors wrap the os error (errors.Is(err,
// fs.ErrNotExist) works), content errors match ErrFormat.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wav: %w", err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("wav: %w", &fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR})
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.c = f
	return r, nil
}

// NewReader parses the WAV header that starts at the current offset of rs.
// name is used only in error messages. The Reader seeks within rs (once to
// its end, to learn how many bytes really exist) and reads it sequentially
// afterwards; Close does not close rs.
func NewReader(rs io.ReadSeeker, name string) (*Reader, error) {
	r := &Reader{name: name, r: rs}
	if err := r.parse(); err != nil {
		return nil, err
	}
	if r.info.Frames > 0 {
		n := min(int64(readBufBytes/r.ba), r.info.Frames)
		r.buf = make([]byte, max(n, 1)*int64(r.ba))
	}
	return r, nil
}

func (r *Reader) bad(cause error, format string, args ...any) error {
	return &formatError{name: r.name, msg: fmt.Sprintf(format, args...), cause: cause}
}

// readErr turns an error from the underlying reader during header parsing
// into a Reader error. Sizes are checked against the real length first, so
// an EOF here means the file shrank while we read it.
func (r *Reader) readErr(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.bad(io.ErrUnexpectedEOF, "file ends inside the %s (truncated file)", what)
	}
	return fmt.Errorf("wav: %s: reading %s: %w", r.name, what, err)
}

func le16(b []byte) int { return int(binary.LittleEndian.Uint16(b)) }
func le32(b []byte) uint32 {
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) parse() error {
	var err error
	if r.base, err = r.r.Seek(0, io.SeekCurrent); err != nil {
		return fmt.Errorf("wav: %s: seek: %w", r.name, err)
	}
	end, err := r.r.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("wav: %s: seek: %w", r.name, err)
	}
	if _, err := r.r.Seek(r.base, io.SeekStart); err != nil {
		return fmt.Errorf("wav: %s: seek: %w", r.name, err)
	}
	size := end - r.base
	if size <= 0 {
		return r.bad(nil, "empty file (0 bytes)")
	}

	var hdr [12]byte
	n := int(min(size, 12))
	if _, err := io.ReadFull(r.r, hdr[:n]); err != nil {
		return r.readErr("RIFF header", err)
	}
	if n < 4 {
		return r.bad(nil, "not a WAV file: only %d bytes", n)
	}
	switch id := string(hdr[:4]); id {
	case "RIFF":
	case "RIFX":
		return r.bad(nil, "big-endian RIFX files are not supported")
	case "RF64", "BW64":
		return r.bad(nil, "%s (WAV larger than 4 GiB) is not supported", id)
	default:
		return r.bad(nil, "not a WAV file: starts with %q, not \"RIFF\"", id)
	}
	if n < 12 {
		return r.bad(io.ErrUnexpectedEOF, "file is %d bytes; the RIFF/WAVE header needs 12 (truncated file)", n)
	}
	if string(hdr[8:12]) != "WAVE" {
		return r.bad(nil, "RIFF file of type %q, not \"WAVE\"", hdr[8:12])
	}
	riffSize := le32(hdr[4:8])

	pos := int64(12) // relative to base
	haveFmt := false
	for {
		remain := size - pos
		if remain < 8 {
			if !haveFmt {
				return r.bad(nil, "no fmt chunk")
			}
			return r.bad(nil, "no data chunk")
		}
		var ch [8]byte
		if _, err := io.ReadFull(r.r, ch[:]); err != nil {
			return r.readErr("chunk header", err)
		}
		id, csize := string(ch[:4]), int64(le32(ch[4:]))
		pos += 8
		remain -= 8
		switch id {
		case "fmt ":
			if haveFmt {
				return r.bad(nil, "second fmt chunk at offset %d", pos-8)
			}
			if csize > remain {
				return r.bad(io.ErrUnexpectedEOF, "fmt chunk declares %d bytes but only %d remain (truncated file)", csize, remain)
			}
			if err := r.parseFmt(csize); err != nil {
				return err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return r.bad(nil, "data chunk comes before the fmt chunk")
			}
			// A writer that streams to a pipe cannot patch sizes: it leaves
			// 0xFFFFFFFF, or 0 with a RIFF size that ends at the data header
			// (or is itself a placeholder). Then the data is the rest of the
			// file. A 0 with a RIFF size covering later chunks is a genuine
			// empty data chunk.
			streamed := csize == sizeUnknown ||
				csize == 0 && remain > 0 && (riffSize == 0 || riffSize == sizeUnknown || int64(riffSize)+8 <= pos)
			ba := int64(r.ba)
			if streamed {
				r.info.Frames = remain / ba
				r.tail = int(remain % ba)
			} else {
				if csize > remain {
					return r.bad(io.ErrUnexpectedEOF, "data chunk declares %d bytes but only %d remain (truncated file)", csize, remain)
				}
				if csize%ba != 0 {
					return r.bad(nil, "data chunk size %d is not a whole number of %d-byte frames", csize, ba)
				}
				r.info.Frames = csize / ba
			}
			r.data = pos
			r.left = r.info.Frames
			return nil
		default:
			// LIST, fact, cue, bext, JUNK, ...: not needed to decode samples.
			if csize > remain {
				return r.bad(io.ErrUnexpectedEOF, "%q chunk declares %d bytes but only %d remain (truncated file, no data chunk)", id, csize, remain)
			}
		}
		// Chunks are word aligned: an odd-sized chunk is followed by a pad
		// byte that its size does not count.
		pos += csize + csize&1
		if _, err := r.r.Seek(r.base+pos, io.SeekStart); err != nil {
			return fmt.Errorf("wav: %s: seek: %w", r.name, err)
		}
	}
}

// parseFmt reads and validates a fmt chunk of csize bytes (already known to
// fit in the file). Only the first 40 bytes are read; extensions beyond
// WAVE_FORMAT_EXTENSIBLE are skipped by the caller.
func (r *Reader) parseFmt(csize int64) error {
	if csize < 16 {
		return r.bad(nil, "fmt chunk is %d bytes; need at least 16", csize)
	}
	var f [40]byte
	if _, err := io.ReadFull(r.r, f[:min(csize, 40)]); err != nil {
		return r.readErr("fmt chunk", err)
	}
	tag, channels, rate := le16(f[0:]), le16(f[2:]), le32(f[4:])
	blockAlign, bits := le16(f[12:]), le16(f[14:])
	if tag == tagExtensible {
		if csize < 40 {
			return r.bad(nil, "WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes; need 40", csize)
		}
		if cb := le16(f[16:]); cb < 22 {
			return r.bad(nil, "WAVE_FORMAT_EXTENSIBLE extension is %d bytes; need 22", cb)
		}
		if valid := le16(f[18:]); valid > bits {
			return r.bad(nil, "%d valid bits in a %d-bit container", valid, bits)
		}
		// Fewer valid bits than the container: the samples are left-aligned,
		// so scaling by the container size is still right.
		if [14]byte(f[26:40]) != guidTail || le16(f[24:]) != tagPCM && le16(f[24:]) != tagFloat {
			return r.bad(nil, "WAVE_FORMAT_EXTENSIBLE subformat %X is neither PCM nor IEEE float", f[24:40])
		}
		tag = le16(f[24:])
	}
	switch {
	case tag != tagPCM && tag != tagFloat:
		return r.bad(nil, "format tag 0x%04X%s is not supported; need PCM (1), IEEE float (3) or WAVE_FORMAT_EXTENSIBLE", tag, tagName(tag))
	case channels == 0:
		return r.bad(nil, "zero channels")
	case channels > MaxChannels:
		return r.bad(nil, "%d channels; at most %d are supported", channels, MaxChannels)
	case rate == 0:
		return r.bad(nil, "sample rate 0 Hz")
	case rate > math.MaxInt32:
		return r.bad(nil, "sample rate %d Hz is out of range", rate)
	}
	switch {
	case tag == tagFloat && bits == 32:
		r.info.Format = Float32
	case tag == tagFloat:
		return r.bad(nil, "%d-bit IEEE float is not supported; need 32", bits)
	case bits == 16:
		r.info.Format = PCM16
	case bits == 24:
		r.info.Format = PCM24
	case bits == 32:
		r.info.Format = PCM32
	default:
		return r.bad(nil, "%d-bit PCM is not supported; need 16, 24 or 32", bits)
	}
	if want := channels * bits / 8; blockAlign != want {
		return r.bad(nil, "block align %d does not match %d channels of %d bits (want %d)", blockAlign, channels, bits, want)
	}
	// The byte rate field is redundant and often wrong in the wild; it is
	// not checked.
	r.info.Rate = int(rate)
	r.info.Channels = channels
	r.ba = blockAlign
	return nil
}

func tagName(tag int) string {
	switch tag {
	case 0x0002:
		return " (MS ADPCM)"
	case 0x0006:
		return " (A-law)"
	case 0x0007:
		return " (µ-law)"
	case 0x0011:
		return " (IMA ADPCM)"
	case 0x0055:
		return " (MP3)"
	}
	return ""
}

// Info describes the file. It does not change while reading.
func (r *Reader) Info() Info { return r.info }

// ReadFrames reads up to L = len(dst[0]) frames into dst, deinterleaved:
// dst[c][i] is channel c of the i-th frame read. len(dst) must equal
// Info().Channels and every dst[c] must have length L; anything else is a
// programming error and panics.
//
// It follows io.Reader: it returns the number of frames n written to dst,
// and callers use those n frames before looking at err. n < L only at the
// end of the data or on an error. After the last frame it returns 0,
// io.EOF. If the data ends early (the file was cut after Open, or a
// streamed file ends in a partial frame) the whole frames are delivered and
// the error matches io.ErrUnexpectedEOF and ErrFormat. Errors are sticky.
//
// ReadFrames does not allocate.
func (r *Reader) ReadFrames(dst [][]float32) (n int, err error) {
	if len(dst) != r.info.Channels {
		panic(fmt.Sprintf("wav: ReadFrames got %d channels; %s has %d", len(dst), r.name, r.info.Channels))
	}
	L := len(dst[0])
	for c := range dst {
		if len(dst[c]) != L {
			panic(fmt.Sprintf("wav: ReadFrames: dst[%d] has %d frames, dst[0] has %d", c, len(dst[c]), L))
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	if L == 0 {
		return 0, nil
	}
	if r.left == 0 {
		if r.tail > 0 {
			r.err = r.bad(io.ErrUnexpectedEOF, "data ends with %d bytes of a %d-byte frame (truncated file)", r.tail, r.ba)
			return 0, r.err
		}
		return 0, io.EOF
	}
	want := int(min(int64(L), r.left))
	fpb := len(r.buf) / r.ba // frames per buffer
	for n < want {
		b := r.buf[:min(want-n, fpb)*r.ba]
		m, err := io.ReadFull(r.r, b)
		k := m / r.ba
		decode(dst, n, b[:k*r.ba], r.info.Format)
		n += k
		r.left -= int64(k)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				got := r.info.Frames - r.left
				r.err = r.bad(io.ErrUnexpectedEOF, "data ends after %d of %d frames (truncated file)", got, r.info.Frames)
			} else {
				r.err = fmt.Errorf("wav: %s: read: %w", r.name, err)
			}
			return n, r.err
		}
	}
	return n, nil
}

// SeekFrame positions the Reader so that the next ReadFrames starts at
// frame (0 <= frame <= Info().Frames) and clears a sticky error.
func (r *Reader) SeekFrame(frame int64) error {
	if r.closed {
		return fmt.Errorf("wav: %s: %w", r.name, fs.ErrClosed)
	}
	if frame < 0 || frame > r.info.Frames {
		return fmt.Errorf("wav: %s: SeekFrame(%d) outside [0, %d]", r.name, frame, r.info.Frames)
	}
	if _, err := r.r.Seek(r.base+r.data+frame*int64(r.ba), io.SeekStart); err != nil {
		r.err = fmt.Errorf("wav: %s: seek: %w", r.name, err)
		return r.err
	}
	r.left = r.info.Frames - frame
	r.err = nil
	return nil
}

// Close closes the file if Open opened it. Further reads return an error
// that matches fs.ErrClosed. Close is idempotent.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.err = fmt.Errorf("wav: %s: %w", r.name, fs.ErrClosed)
	if r.c != nil {
		if err := r.c.Close(); err != nil {
			return fmt.Errorf("wav: %w", err)
		}
	}
	return nil
}

// decode converts the interleaved frames in b into dst[c][off:], using the
// scale conventions in the package documentation.
func decode(dst [][]float32, off int, b []byte, f Format) {
	ch := len(dst)
	switch f {
	case PCM16:
		const s = 1.0 / (1 << 15)
		frames := len(b) / (2 * ch)
		for c, d := range dst {
			d = d[off : off+frames]
			o := 2 * c
			for i := range d {
				d[i] = float32(int16(binary.LittleEndian.Uint16(b[o:]))) * s
				o += 2 * ch
			}
		}
	case PCM24:
		const s = 1.0 / (1 << 23)
		frames := len(b) / (3 * ch)
		for c, d := range dst {
			d = d[off : off+frames]
			o := 3 * c
			for i := range d {
				// Put the 24 bits at the top of an int32 and shift back
				// arithmetically to sign-extend.
				v := int32(uint32(b[o])<<8|uint32(b[o+1])<<16|uint32(b[o+2])<<24) >> 8
				d[i] = float32(v) * s
				o += 3 * ch
			}
		}
	case PCM32:
		const s = 1.0 / (1 << 31)
		frames := len(b) / (4 * ch)
		for c, d := range dst {
			d = d[off : off+frames]
			o := 4 * c
			for i := range d {
				d[i] = float32(int32(binary.LittleEndian.Uint32(b[o:]))) * s
				o += 4 * ch
			}
		}
	case Float32:
		frames := len(b) / (4 * ch)
		for c, d := range dst {
			d = d[off : off+frames]
			o := 4 * c
			for i := range d {
				d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[o:]))
				o += 4 * ch
			}
		}
	}
}

// ReadFile reads the whole file at path. It allocates Info.Frames frames per
// channel, a count already checked against the real file size, so a lying
// header cannot make it allocate more than about twice the file size. If the
// data turns out truncated it returns the frames it got with the error.
func ReadFile(path string) (Info, [][]float32, error) {
	r, err := Open(path)
	if err != nil {
		return Info{}, nil, err
	}
	defer r.Close()
	info := r.Info()
	if info.Frames > math.MaxInt/4/int64(info.Channels) {
		return info, nil, fmt.Errorf("wav: %s: %d frames of %d channels do not fit in memory", path, info.Frames, info.Channels)
	}
	data := make([][]float32, info.Channels)
	for c := range data {
		data[c] = make([]float32, info.Frames)
	}
	n := 0
	if info.Frames > 0 {
		n, err = r.ReadFrames(data)
	}
	if err == nil {
		// The data must end exactly here; this also reports the partial
		// last frame of a streamed file.
		probe := make([][]float32, info.Channels)
		for c := range probe {
			probe[c] = make([]float32, 1)
		}
		if _, err = r.ReadFrames(probe); err == io.EOF {
			err = nil
		}
	}
	for c := range data {
		data[c] = data[c][:n]
	}
	return info, data, err
}
