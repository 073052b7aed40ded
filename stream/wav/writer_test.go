package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteReadRoundTrip writes random blocks (several sizes, a Flush in
// the middle, more than one internal buffer's worth) and reads them back.
// Float32 must be bit-exact; PCM16 within half a step, 2^-16, except
// above 32767/32768, which saturates to that code.
func TestWriteReadRoundTrip(t *testing.T) {
	for _, f := range []Format{PCM16, Float32} {
		for _, ch := range []int{1, 2, 4, 32} {
			t.Run(fmt.Sprintf("%v/ch%d", f, ch), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ch), uint64(f)))
				frames := 3000 + 70000/ch // crosses the 64 KiB buffer for every ch
				src := planes(ch, frames)
				for c := range src {
					for i := range src[c] {
						src[c][i] = float32(2*rng.Float64() - 1)
					}
					src[c][0], src[c][1], src[c][2] = -1, 32767.0/32768, 0
				}
				path := filepath.Join(t.TempDir(), "rt.wav")
				w, err := Create(path, 44100, ch, f)
				if err != nil {
					t.Fatal(err)
				}
				for i, blk := 0, 1; i < frames; blk = blk*3 + 1 {
					k := min(blk, frames-i)
					part := make([][]float32, ch)
					for c := range part {
						part[c] = src[c][i : i+k]
					}
					if n, err := w.WriteFrames(part); n != k || err != nil {
						t.Fatalf("WriteFrames = %d, %v", n, err)
					}
					if i == 0 {
						if err := w.Flush(); err != nil {
							t.Fatal(err)
						}
					}
					i += k
				}
				if w.Frames() != int64(frames) || w.Clipped() != 0 {
					t.Fatalf("Frames %d Clipped %d", w.Frames(), w.Clipped())
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				r, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if got, want := r.Info(), (Info{44100, ch, f, int64(frames)}); got != want {
					t.Fatalf("Info %+v, want %+v", got, want)
				}
				got := readAll(t, r, 1000)
				worst := 0.0
				for c := range src {
					for i := range src[c] {
						d := math.Abs(float64(got[c][i]) - float64(src[c][i]))
						if f == PCM16 && src[c][i] > 32767.0/32768 {
							// Saturation above the largest code: must be exactly it.
							if got[c][i] != 32767.0/32768 {
								t.Fatalf("[%d][%d]: %v saturated to %v", c, i, src[c][i], got[c][i])
							}
							continue
						}
						worst = max(worst, d)
						if f == Float32 && math.Float32bits(got[c][i]) != math.Float32bits(src[c][i]) {
							t.Fatalf("[%d][%d]: %v, want %v", c, i, got[c][i], src[c][i])
						}
					}
					if got[c][0] != -1 || got[c][1] != 32767.0/32768 || got[c][2] != 0 {
						t.Fatalf("grid values changed: %v", got[c][:3])
					}
				}
				if f == PCM16 && worst > 1.0/65536 {
					t.Fatalf("PCM16 max error %g > 2^-16", worst)
				}
			})
		}
	}
}

// TestPCM16InverseOfRead: every one of the 65536 codes, read as v/32768 and
// written, comes back as the same code.
func TestPCM16InverseOfRead(t *testing.T) {
	src := planes(1, 65536)
	for i := range src[0] {
		src[0][i] = float32(int16(i)) / 32768
	}
	var ws seekBuffer
	w, err := NewWriter(&ws, "all.wav", 8000, 1, PCM16)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFrames(src)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := dataChunk(t, ws.b)
	for i := 0; i < 65536; i++ {
		if got := binary.LittleEndian.Uint16(data[2*i:]); got != uint16(i) {
			t.Fatalf("code %d written as %d", int16(i), int16(got))
		}
	}
}

// TestWriterHeaders checks the exact header bytes against the canonical
// layouts (44 bytes for PCM16; 58 with fmt 18 and fact for Float32).
func TestWriterHeaders(t *testing.T) {
	one := [][]float32{{0.5}, {-0.5}}
	for _, tc := range []struct {
		f    Format
		want []byte
	}{
		{PCM16, wave(ck("fmt ", fmtBody(1, 2, 16000, 16, 0)), ck("data", []byte{0, 0x40, 0, 0xC0}))},
		{Float32, wave(ck("fmt ", append(fmtBody(3, 2, 16000, 32, 0), 0, 0)), ck("fact", []byte{1, 0, 0, 0}), ck("data", floatBytes(one)))},
	} {
		var ws seekBuffer
		w, err := NewWriter(&ws, "h.wav", 16000, 2, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteFrames(one)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ws.b, tc.want) {
			t.Fatalf("%v header:\n got % x\nwant % x", tc.f, ws.b, tc.want)
		}
	}
}

func TestWriterClipped(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	src := [][]float32{{0.5, 1, -1, 1.5, -2, nan, inf, -inf, 0.99999}}
	for _, tc := range []struct {
		f       Format
		want    []float32
		clipped int64
	}{
		{PCM16, []float32{0.5, 32767.0 / 32768, -1, 32767.0 / 32768, -1, 0, 32767.0 / 32768, -1, 32767.0 / 32768}, 5},
		{Float32, []float32{0.5, 1, -1, 1.5, -2, 0, 0, 0, 0.99999}, 3},
	} {
		var ws seekBuffer
		w, err := NewWriter(&ws, "c.wav", 8000, 1, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteFrames(src)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.Clipped() != tc.clipped {
			t.Errorf("%v: Clipped = %d, want %d", tc.f, w.Clipped(), tc.clipped)
		}
		r, err := NewReader(bytes.NewReader(ws.b), "c.wav")
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, r, 16)
		for i := range tc.want {
			if got[0][i] != tc.want[i] {
				t.Errorf("%v: sample %d (%v) stored as %v, want %v", tc.f, i, src[0][i], got[0][i], tc.want[i])
			}
		}
	}
}

func TestWriterArgs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		rate, ch int
		f        Format
		want     string
	}{
		{16000, 2, PCM24, "writing PCM24 is not supported; use PCM16 or Float32"},
		{16000, 2, Format(0), "writing Format(0) is not supported; use PCM16 or Float32"},
		{16000, 0, PCM16, "0 channels; need 1 to 32"},
		{16000, 33, PCM16, "33 channels; need 1 to 32"},
		{0, 1, PCM16, "sample rate 0 Hz is out of range"},
		{1 << 30, 32, Float32, "sample rate 1073741824 Hz is out of range"},
	} {
		path := filepath.Join(dir, "x.wav")
		_, err := Create(path, tc.rate, tc.ch, tc.f)
		if err == nil || err.Error() != "wav: "+path+": "+tc.want {
			t.Errorf("Create(%d, %d, %v) = %v, want %q", tc.rate, tc.ch, tc.f, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.wav")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a rejected Create left a file behind: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "y.wav"), 8000, PCM16, [][]float32{{1, 2}, {3}}); err == nil || !strings.Contains(err.Error(), "y.wav: channel 1 has 1 frames, channel 0 has 2") {
		t.Errorf("WriteFile ragged: %v", err)
	}
	var ws seekBuffer
	w, _ := NewWriter(&ws, "p.wav", 8000, 2, PCM16)
	mustPanic(t, "wav: WriteFrames got 1 channels; p.wav has 2", func() { w.WriteFrames(planes(1, 3)) })
	mustPanic(t, "wav: WriteFrames: src[1] has 2 frames, src[0] has 3", func() { w.WriteFrames([][]float32{make([]float32, 3), make([]float32, 2)}) })
}

// TestWriterFullDisk writes to /dev/full, where every write fails ENOSPC.
func TestWriterFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("/dev/full not available")
	}
	_, err := Create("/dev/full", 16000, 2, PCM16)
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "wav: /dev/full: writing header: write /dev/full: no space left on device" {
		t.Fatalf("Create(/dev/full) = %v", err)
	}
}

// TestWriterErrorsSticky: a WriteSeeker that fails after some bytes (a disk
// filling up). The first failure is returned, names the file, wraps the
// cause and is returned again by every later call; Close still closes.
func TestWriterErrorsSticky(t *testing.T) {
	diskFull := errors.New("disk full")
	for _, failAt := range []int64{44 + 100, 44 + 65536, 44 + 80000} { // spill, Flush's data write, header patch
		fw := &failingWriter{limit: failAt, err: diskFull}
		w, err := NewWriter(fw, "/rec/out.wav", 16000, 4, PCM16)
		if err != nil {
			t.Fatal(err)
		}
		src := planes(4, 10000) // 80000 bytes: the 64 KiB buffer spills once
		_, err = w.WriteFrames(src)
		if err == nil {
			err = w.Flush()
		}
		if !errors.Is(err, diskFull) || !strings.HasPrefix(err.Error(), "wav: /rec/out.wav: ") {
			t.Fatalf("failAt %d: first error %v", failAt, err)
		}
		if _, err2 := w.WriteFrames(src); err2 != err {
			t.Fatalf("WriteFrames after failure: %v", err2)
		}
		if err2 := w.Flush(); err2 != err {
			t.Fatalf("Flush after failure: %v", err2)
		}
		if err2 := w.Close(); err2 != err {
			t.Fatalf("Close after failure: %v", err2)
		}
		if err2 := w.Close(); err2 != err {
			t.Fatalf("second Close: %v", err2)
		}
		if _, err2 := w.WriteFrames(src); !errors.Is(err2, fs.ErrClosed) {
			t.Fatalf("WriteFrames after Close: %v", err2)
		}
	}
}

// TestFlushWhileOpen reads the file while its Writer is still open: after
// Flush everything written is there; frames written after the last Flush
// (even if already on disk because the buffer spilled) are not declared.
func TestFlushWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wav")
	w, err := Create(path, 16000, 2, Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	block := planes(2, 1000)
	next := 0
	write := func(blocks int) {
		for b := 0; b < blocks; b++ {
			for i := range block[0] {
				block[0][i], block[1][i] = float32(next), -float32(next)
				next++
			}
			if _, err := w.WriteFrames(block); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(want int) {
		t.Helper()
		info, data, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Frames != int64(want) || len(data[0]) != want {
			t.Fatalf("file holds %d frames, want %d", info.Frames, want)
		}
		for i := range data[0] {
			if data[0][i] != float32(i) || data[1][i] != -float32(i) {
				t.Fatalf("frame %d = %v %v", i, data[0][i], data[1][i])
			}
		}
	}
	check(0) // header only: a valid empty WAV
	write(3)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	check(3000)
	write(20) // 160000 bytes: spills to disk twice, not flushed
	if st, _ := os.Stat(path); st.Size() < 58+3000*8+131072 {
		t.Fatalf("expected spilled data on disk, size %d", st.Size())
	}
	check(3000)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	check(23000)
}

// TestUnflushedCrash: a writer that never flushed leaves the placeholder
// header (data 0, RIFF ends at the data header); Reader treats the data as
// the rest of the file, so spilled frames survive.
func TestUnflushedCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.wav")
	w, err := Create(path, 16000, 1, PCM16)
	if err != nil {
		t.Fatal(err)
	}
	src := planes(1, 40000) // 80000 bytes: one 65536-byte spill
	for i := range src[0] {
		src[0][i] = float32(i%30000) / 32768
	}
	w.WriteFrames(src)
	// Abandon w without Flush or Close, as a killed process would.
	info, data, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 32768 {
		t.Fatalf("recovered %d frames, want the 32768 spilled", info.Frames)
	}
	for i := range data[0] {
		if data[0][i] != src[0][i] {
			t.Fatalf("frame %d = %v, want %v", i, data[0][i], src[0][i])
		}
	}
	w.c.Close()
}

func TestWriteFramesAllocs(t *testing.T) {
	for _, tc := range []struct {
		ch, block int
		f         Format
	}{{4, 256, PCM16}, {32, 4096, Float32}} {
		var ws seekDiscard
		w, err := NewWriter(&ws, "a.wav", 16000, tc.ch, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		src := planes(tc.ch, tc.block)
		if n := testing.AllocsPerRun(100, func() {
			if n, err := w.WriteFrames(src); n != tc.block || err != nil {
				panic(err)
			}
		}); n != 0 {
			t.Fatalf("%d ch, block %d: WriteFrames allocated %v times per call; want 0", tc.ch, tc.block, n)
		}
	}
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	pos int64
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.pos + int64(len(p)); need > int64(len(s.b)) {
		s.b = append(s.b, make([]byte, need-int64(len(s.b)))...)
	}
	copy(s.b[s.pos:], p)
	s.pos += int64(len(p))
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += int64(len(s.b))
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	s.pos = off
	return off, nil
}

// seekDiscard accepts writes and seeks and stores nothing.
type seekDiscard struct{ pos, size int64 }

func (s *seekDiscard) Write(p []byte) (int, error) {
	s.pos += int64(len(p))
	s.size = max(s.size, s.pos)
	return len(p), nil
}

func (s *seekDiscard) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.size
	}
	s.pos = off
	return off, nil
}

// failingWriter fails every write once limit bytes have been written.
type failingWriter struct {
	seekDiscard
	written, limit int64
	err            error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.written+int64(len(p)) > f.limit {
		return 0, f.err
	}
	f.written += int64(len(p))
	return f.seekDiscard.Write(p)
}

// TestWriterRIFFLimit: a write that would pass the 32-bit RIFF size is
// refused without poisoning the Writer; the header stays consistent.
func TestWriterRIFFLimit(t *testing.T) {
	var ws seekDiscard
	w, err := NewWriter(&ws, "long.wav", 16000, 2, PCM16)
	if err != nil {
		t.Fatal(err)
	}
	room := (math.MaxUint32 - 36) / 4 // whole 4-byte frames that fit
	w.frames = int64(room) - 1        // pretend the file is nearly full
	if n, err := w.WriteFrames(planes(2, 2)); n != 0 || err == nil || err.Error() != "wav: long.wav: 2 more frames would pass the 4 GiB RIFF size limit" {
		t.Fatalf("over the limit: %d, %v", n, err)
	}
	if n, err := w.WriteFrames(planes(2, 1)); n != 1 || err != nil {
		t.Fatalf("last frame that fits: %d, %v", n, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestPCM16Rounding: halves round to even, as math.RoundToEven would.
func TestPCM16Rounding(t *testing.T) {
	in := []float32{0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 100.25, -100.75, 32767.4, 32767.5, 32767.9}
	src := planes(1, len(in))
	for i, v := range in {
		src[0][i] = v / 32768
	}
	var ws seekBuffer
	w, _ := NewWriter(&ws, "r.wav", 8000, 1, PCM16)
	w.WriteFrames(src)
	w.Close()
	data := dataChunk(t, ws.b)
	for i, v := range in {
		want := int16(min(math.RoundToEven(float64(v)), 32767))
		if got := int16(binary.LittleEndian.Uint16(data[2*i:])); got != want {
			t.Errorf("%v/32768 stored as %d, want %d", v, got, want)
		}
	}
	if w.Clipped() != 0 {
		t.Errorf("Clipped = %d for in-range input", w.Clipped())
	}
}
