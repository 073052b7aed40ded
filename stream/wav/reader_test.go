package wav

import (
	"bytes"
	"errors"
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

// readAll reads r to io.EOF in blocks of the given length.
func readAll(t *testing.T, r *Reader, block int) [][]float32 {
	t.Helper()
	ch := r.Info().Channels
	out := planes(ch, 0)
	buf := planes(ch, block)
	for {
		n, err := r.ReadFrames(buf)
		for c := range out {
			out[c] = append(out[c], buf[c][:n]...)
		}
		if err == io.EOF {
			if n != 0 {
				t.Fatalf("io.EOF with n = %d; want 0", n)
			}
			return out
		}
		if err != nil {
			t.Fatalf("ReadFrames: %v", err)
		}
		if n != block && int64(len(out[0])) != r.Info().Frames {
			t.Fatalf("short read %d of %d before the end", n, block)
		}
	}
}

// TestReadIntegerPCM reads 16/24/32-bit files built by the test oracle and
// checks every sample equals v/2^(bits-1) exactly (float32 of the exact
// quotient), including both full-scale extremes.
func TestReadIntegerPCM(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		bits int
	}{{PCM16, 16}, {PCM24, 24}, {PCM32, 32}} {
		for _, ch := range []int{1, 2, 4, 32} {
			rng := rand.New(rand.NewPCG(uint64(ch), uint64(tc.bits)))
			const frames = 1000
			lo, hi := int64(-1)<<(tc.bits-1), int64(1)<<(tc.bits-1)-1
			v := make([][]int32, ch)
			for c := range v {
				v[c] = make([]int32, frames)
				for i := range v[c] {
					v[c][i] = int32(lo + rng.Int64N(hi-lo+1))
				}
				v[c][0], v[c][1], v[c][2] = int32(lo), int32(hi), 0
			}
			file := wave(ck("fmt ", fmtBody(1, ch, 48000, tc.bits, 0)), ck("data", pcmBytes(v, tc.bits)))
			r, err := NewReader(bytes.NewReader(file), "mem.wav")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := r.Info(), (Info{48000, ch, tc.f, frames}); got != want {
				t.Fatalf("%v ch%d: Info %+v, want %+v", tc.f, ch, got, want)
			}
			got := readAll(t, r, 77)
			scale := math.Ldexp(1, -(tc.bits - 1))
			for c := range v {
				for i := range v[c] {
					if want := float32(float64(v[c][i]) * scale); got[c][i] != want {
						t.Fatalf("%v ch%d [%d][%d]: got %v, want %v (v=%d)", tc.f, ch, c, i, got[c][i], want, v[c][i])
					}
				}
				if got[c][0] != -1 {
					t.Fatalf("%v: most negative code reads %v, want -1", tc.f, got[c][0])
				}
			}
		}
	}
}

// TestRealMixture reads the 4-channel dev mixture and compares samples with
// a direct decode of its bytes.
func TestRealMixture(t *testing.T) {
	path := filepath.Join(dataDir(t), "dev", "mixtures", "dev_sim030_2x4", "mix.wav")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := r.Info(), (Info{Rate: 16000, Channels: 4, Format: PCM16, Frames: 160000}); got != want {
		t.Fatalf("Info = %+v, want %+v", got, want)
	}
	got := readAll(t, r, 4096)
	data := dataChunk(t, raw)
	nonzero := 0
	for i := 0; i < 160000; i++ {
		for c := 0; c < 4; c++ {
			v := int16(uint16(data[8*i+2*c]) | uint16(data[8*i+2*c+1])<<8)
			if want := float32(v) / 32768; got[c][i] != want {
				t.Fatalf("frame %d ch %d: %v, want %v", i, c, got[c][i], want)
			}
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero < 100000 {
		t.Fatalf("only %d nonzero samples; is this the right file?", nonzero)
	}
}

// TestRealMixtureRoundTripBitExact reads a 16-bit file and writes it back as
// PCM16: the data chunks must be identical byte for byte.
func TestRealMixtureRoundTripBitExact(t *testing.T) {
	path := filepath.Join(dataDir(t), "dev", "mixtures", "dev_sim030_2x4", "mix.wav")
	info, data, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "copy.wav")
	if err := WriteFile(out, info.Rate, PCM16, data); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(out)
	da, db := dataChunk(t, a), dataChunk(t, b)
	if len(da) != 1280000 || !bytes.Equal(da, db) {
		t.Fatalf("data chunks differ (len %d vs %d)", len(da), len(db))
	}
	// The source file uses the same 44-byte canonical header we write.
	if !bytes.Equal(a, b) {
		t.Errorf("whole files differ although both use the canonical header")
	}
}

// TestHandMadeLayouts covers header variants that real files use.
func TestHandMadeLayouts(t *testing.T) {
	pcm24 := [][]int32{{-8388608, 8388607, 1, -1}, {0, 4194304, -4194304, 2}}
	pcm24Want := [][]float32{{-1, 8388607.0 / 8388608, 1.0 / 8388608, -1.0 / 8388608}, {0, 0.5, -0.5, 2.0 / 8388608}}
	fl := [][]float32{{0.25, -1.5, float32(math.Inf(1)), 1e-30}, {-0.125, 3, 0, -0}}
	pcm16 := [][]int32{{-32768, 32767, 16384}}
	pcm16Want := [][]float32{{-1, 32767.0 / 32768, 0.5}}
	pcm32 := [][]int32{{math.MinInt32, 1 << 30}}
	pcm32Want := [][]float32{{-1, 0.5}}
	list := ck("LIST", []byte("INFOISFT\x0e\x00\x00\x00Lavf60.16.100\x00"))
	oddJunk := ck("JUNK", []byte{1, 2, 3}) // 3 bytes + pad byte

	for _, tc := range []struct {
		name string
		file []byte
		info Info
		want [][]float32
	}{
		{"extensible PCM24", wave(ck("fmt ", extBody(2, 44100, 24, 24, 1)), ck("data", pcmBytes(pcm24, 24))),
			Info{44100, 2, PCM24, 4}, pcm24Want},
		{"extensible PCM24 with 20 valid bits", wave(ck("fmt ", extBody(2, 44100, 24, 20, 1)), ck("data", pcmBytes(pcm24, 24))),
			Info{44100, 2, PCM24, 4}, pcm24Want},
		{"extensible float", wave(ck("fmt ", extBody(2, 8000, 32, 32, 3)), ck("fact", []byte{4, 0, 0, 0}), ck("data", floatBytes(fl))),
			Info{8000, 2, Float32, 4}, fl},
		{"extensible PCM32", wave(ck("fmt ", extBody(1, 96000, 32, 32, 1)), ck("data", pcmBytes(pcm32, 32))),
			Info{96000, 1, PCM32, 2}, pcm32Want},
		{"float tag 3, 18-byte fmt, fact", wave(ck("fmt ", append(fmtBody(3, 2, 8000, 32, 0), 0, 0)), ck("fact", []byte{4, 0, 0, 0}), ck("data", floatBytes(fl))),
			Info{8000, 2, Float32, 4}, fl},
		{"float tag 3, 16-byte fmt, no fact", wave(ck("fmt ", fmtBody(3, 2, 8000, 32, 0)), ck("data", floatBytes(fl))),
			Info{8000, 2, Float32, 4}, fl},
		{"PCM24 tag 1", wave(ck("fmt ", fmtBody(1, 2, 22050, 24, 0)), ck("data", pcmBytes(pcm24, 24))),
			Info{22050, 2, PCM24, 4}, pcm24Want},
		{"odd chunk padding before fmt", wave(oddJunk, ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), ck("data", pcmBytes(pcm16, 16))),
			Info{16000, 1, PCM16, 3}, pcm16Want},
		{"odd chunks between fmt and data", wave(ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), oddJunk, list, ck("data", pcmBytes(pcm16, 16))),
			Info{16000, 1, PCM16, 3}, pcm16Want},
		{"LIST before data", wave(ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), list, ck("data", pcmBytes(pcm16, 16))),
			Info{16000, 1, PCM16, 3}, pcm16Want},
		{"LIST before fmt, chunks after data", wave(list, ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), ck("data", pcmBytes(pcm16, 16)), list, oddJunk),
			Info{16000, 1, PCM16, 3}, pcm16Want},
		{"odd data chunk (PCM24 mono, 3 frames) + pad + LIST", wave(ck("fmt ", fmtBody(1, 1, 16000, 24, 0)), ck("data", pcmBytes([][]int32{{1, 2, 3}}, 24)), list),
			Info{16000, 1, PCM24, 3}, [][]float32{{1.0 / 8388608, 2.0 / 8388608, 3.0 / 8388608}}},
		{"fmt with 2 unknown extra bytes beyond 40", wave(ck("fmt ", append(extBody(1, 16000, 16, 16, 1), 9, 9)), ck("data", pcmBytes(pcm16, 16))),
			Info{16000, 1, PCM16, 3}, pcm16Want},
		{"wrong byte rate is ignored", func() []byte {
			f := fmtBody(1, 1, 16000, 16, 0)
			f[8] = 7
			return wave(ck("fmt ", f), ck("data", pcmBytes(pcm16, 16)))
		}(), Info{16000, 1, PCM16, 3}, pcm16Want},
		{"empty data chunk followed by LIST", wave(ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), ck("data", nil), list),
			Info{16000, 1, PCM16, 0}, [][]float32{{}}},
		{"header only, placeholder sizes", wave(ck("fmt ", fmtBody(1, 1, 16000, 16, 0)), ck("data", nil)),
			Info{16000, 1, PCM16, 0}, [][]float32{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.file), "hand.wav")
			if err != nil {
				t.Fatal(err)
			}
			if r.Info() != tc.info {
				t.Fatalf("Info %+v, want %+v", r.Info(), tc.info)
			}
			got := readAll(t, r, 3)
			for c := range tc.want {
				for i := range tc.want[c] {
					if math.Float32bits(got[c][i]) != math.Float32bits(tc.want[c][i]) {
						t.Fatalf("[%d][%d] = %v, want %v", c, i, got[c][i], tc.want[c][i])
					}
				}
				if len(got[c]) != len(tc.want[c]) {
					t.Fatalf("channel %d: %d frames, want %d", c, len(got[c]), len(tc.want[c]))
				}
			}
		})
	}
}

// TestStreamedSizes checks the placeholder data sizes left by writers that
// stream to a pipe.
func TestStreamedSizes(t *testing.T) {
	pcm := pcmBytes([][]int32{{1, 2, 3, 4, 5}, {-1, -2, -3, -4, -5}}, 16)
	f := ck("fmt ", fmtBody(1, 2, 16000, 16, 0))
	for _, tc := range []struct {
		name   string
		file   []byte
		frames int64
		tail   bool // trailing partial frame
	}{
		{"data and RIFF 0xFFFFFFFF", riff("WAVE", 0xFFFFFFFF, f, chunk{"data", pcm, 0xFFFFFFFF}), 5, false},
		{"data 0xFFFFFFFF, RIFF exact", riff("WAVE", -1, f, chunk{"data", pcm, 0xFFFFFFFF}), 5, false},
		{"data 0, RIFF 0", riff("WAVE", 0, f, chunk{"data", pcm, 0}), 5, false},
		{"data 0, RIFF ends at data header", riff("WAVE", 36, f, chunk{"data", pcm, 0}), 5, false},
		{"data 0xFFFFFFFF, partial last frame", riff("WAVE", 0xFFFFFFFF, f, chunk{"data", pcm[:len(pcm)-3], 0xFFFFFFFF}), 4, true},
		{"data 0, RIFF 36, partial last frame", riff("WAVE", 36, f, chunk{"data", pcm[:len(pcm)-1], 0}), 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.file), "pipe.wav")
			if err != nil {
				t.Fatal(err)
			}
			if r.Info().Frames != tc.frames {
				t.Fatalf("Frames = %d, want %d", r.Info().Frames, tc.frames)
			}
			dst := planes(2, 16)
			n, err := r.ReadFrames(dst)
			if n != int(tc.frames) || err != nil {
				t.Fatalf("ReadFrames = %d, %v; want %d, nil", n, err, tc.frames)
			}
			for i := 0; i < n; i++ {
				if dst[0][i] != float32(i+1)/32768 || dst[1][i] != -float32(i+1)/32768 {
					t.Fatalf("frame %d = %v %v", i, dst[0][i], dst[1][i])
				}
			}
			n, err = r.ReadFrames(dst)
			if !tc.tail {
				if n != 0 || err != io.EOF {
					t.Fatalf("at end: %d, %v; want 0, io.EOF", n, err)
				}
				return
			}
			if n != 0 || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "pipe.wav") {
				t.Fatalf("at end: %d, %v; want 0 and a truncation error naming pipe.wav", n, err)
			}
			if _, err2 := r.ReadFrames(dst); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
		})
	}
}

// TestMalformed checks each broken file gives a clear error that names the
// file, matches ErrFormat and never panics.
func TestMalformed(t *testing.T) {
	f16 := ck("fmt ", fmtBody(1, 2, 16000, 16, 0))
	pcm := make([]byte, 40) // 10 frames of 2×16 bit
	good := wave(f16, ck("data", pcm))
	for _, tc := range []struct {
		name  string
		file  []byte
		want  string // substring of the message
		trunc bool   // also matches io.ErrUnexpectedEOF
	}{
		{"empty file", nil, "empty file (0 bytes)", false},
		{"3 bytes", []byte("RIF"), "not a WAV file: only 3 bytes", false},
		{"not RIFF", []byte("ID3\x04\x00\x00\x00\x00\x00\x00 some mp3 bytes follow"), `not a WAV file: starts with "ID3\x04"`, false},
		{"RIFF but not WAVE", riff("AVI ", -1, ck("LIST", make([]byte, 20))), `RIFF file of type "AVI ", not "WAVE"`, false},
		{"RIFX", append([]byte("RIFX"), good[4:]...), "big-endian RIFX", false},
		{"RF64", append([]byte("RF64"), good[4:]...), "RF64 (WAV larger than 4 GiB) is not supported", false},
		{"truncated RIFF header", good[:10], "file is 10 bytes; the RIFF/WAVE header needs 12 (truncated file)", true},
		{"truncated inside fmt", good[:30], "fmt chunk declares 16 bytes but only 10 remain (truncated file)", true},
		{"truncated inside chunk header", good[:40], "no data chunk", false},
		{"only RIFF/WAVE", good[:12], "no fmt chunk", false},
		{"missing fmt", wave(ck("LIST", make([]byte, 4)), ck("data", pcm)), "data chunk comes before the fmt chunk", false},
		{"missing fmt, no chunks at all", wave(ck("LIST", make([]byte, 4))), "no fmt chunk", false},
		{"missing data", wave(f16, ck("LIST", make([]byte, 4))), "no data chunk", false},
		{"second fmt", wave(f16, f16, ck("data", pcm)), "second fmt chunk at offset 36", false},
		{"fmt too short", wave(ck("fmt ", fmtBody(1, 2, 16000, 16, 0)[:14]), ck("data", pcm)), "fmt chunk is 14 bytes; need at least 16", false},
		{"zero channels", wave(ck("fmt ", fmtBody(1, 0, 16000, 16, 4)), ck("data", pcm)), "zero channels", false},
		{"33 channels", wave(ck("fmt ", fmtBody(1, 33, 16000, 16, 0)), ck("data", make([]byte, 66))), "33 channels; at most 32 are supported", false},
		{"0 Hz", wave(ck("fmt ", fmtBody(1, 2, 0, 16, 0)), ck("data", pcm)), "sample rate 0 Hz", false},
		{"rate beyond int32", wave(ck("fmt ", fmtBody(1, 2, 1<<31, 16, 0)), ck("data", pcm)), "sample rate 2147483648 Hz is out of range", false},
		{"12 bits", wave(ck("fmt ", fmtBody(1, 2, 16000, 12, 4)), ck("data", pcm)), "12-bit PCM is not supported; need 16, 24 or 32", false},
		{"20 bits", wave(ck("fmt ", fmtBody(1, 2, 16000, 20, 6)), ck("data", make([]byte, 60))), "20-bit PCM is not supported", false},
		{"8 bits", wave(ck("fmt ", fmtBody(1, 2, 16000, 8, 0)), ck("data", pcm)), "8-bit PCM is not supported", false},
		{"64-bit float", wave(ck("fmt ", fmtBody(3, 1, 16000, 64, 0)), ck("data", pcm)), "64-bit IEEE float is not supported; need 32", false},
		{"mu-law", wave(ck("fmt ", fmtBody(7, 1, 8000, 8, 0)), ck("data", pcm)), "format tag 0x0007 (µ-law) is not supported", false},
		{"block align mismatch", wave(ck("fmt ", fmtBody(1, 2, 16000, 16, 2)), ck("data", pcm)), "block align 2 does not match 2 channels of 16 bits (want 4)", false},
		{"extensible fmt too short", wave(ck("fmt ", extBody(2, 16000, 16, 16, 1)[:24]), ck("data", pcm)), "WAVE_FORMAT_EXTENSIBLE fmt chunk is 24 bytes; need 40", false},
		{"extensible cbSize too small", wave(ck("fmt ", func() []byte { b := extBody(2, 16000, 16, 16, 1); b[16] = 10; return b }()), ck("data", pcm)), "extension is 10 bytes; need 22", false},
		{"extensible valid bits > container", wave(ck("fmt ", extBody(2, 16000, 16, 24, 1)), ck("data", pcm)), "24 valid bits in a 16-bit container", false},
		{"extensible unknown subformat", wave(ck("fmt ", extBody(2, 16000, 16, 16, 2)), ck("data", pcm)), "subformat 0200000000001000800000AA00389B71 is neither PCM nor IEEE float", false},
		{"extensible bad GUID tail", wave(ck("fmt ", func() []byte { b := extBody(2, 16000, 16, 16, 1); b[39] = 0; return b }()), ck("data", pcm)), "is neither PCM nor IEEE float", false},
		{"huge declared data size", wave(f16, chunk{"data", pcm, 0xFFFFFFF0}), "data chunk declares 4294967280 bytes but only 40 remain (truncated file)", true},
		{"truncated data mid-frame", wave(f16, chunk{"data", pcm[:38], 40}), "data chunk declares 40 bytes but only 38 remain (truncated file)", true},
		{"data not whole frames", wave(f16, ck("data", pcm[:38])), "data chunk size 38 is not a whole number of 4-byte frames", false},
		{"huge LIST before data", wave(f16, chunk{"LIST", make([]byte, 8), 0x7FFFFFFF}, ck("data", pcm)), `"LIST" chunk declares 2147483647 bytes but only`, true},
		{"huge fmt", wave(chunk{"fmt ", fmtBody(1, 2, 16000, 16, 0), 1 << 30}, ck("data", pcm)), "fmt chunk declares 1073741824 bytes but only", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "bad.wav", tc.file)
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatalf("Open succeeded, Info %+v", r.Info())
			}
			msg := err.Error()
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(msg, "wav: "+path+": ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q\nwant ErrFormat, prefix %q, containing %q", msg, "wav: "+path+": ", tc.want)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tc.trunc {
				t.Fatalf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v (%v)", got, tc.trunc, err)
			}
			// ReadFile must fail the same way and return no data.
			if _, data, err2 := ReadFile(path); err2 == nil || err2.Error() != msg || data != nil {
				t.Fatalf("ReadFile: %v, %v; want the Open error", data, err2)
			}
		})
	}
}

// TestTextDumpNamedWAV: an xxd hex dump saved with a .wav name (seen in the
// wild: `xxd f.wav > f.wav` style accidents) is "not a WAV", clearly.
func TestTextDumpNamedWAV(t *testing.T) {
	dump := "00000000: 5249 4646 24fa 0000 5741 5645 666d 7420  RIFF$...WAVEfmt \n" +
		"00000010: 1000 0000 0100 0200 803e 0000 00fa 0000  .........>......\n"
	path := writeTemp(t, "dump.wav", []byte(dump))
	_, err := Open(path)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), path+`: not a WAV file: starts with "0000"`) {
		t.Fatalf("got %v", err)
	}
}

func TestFileSystemErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.wav")
	_, err := Open(missing)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := ReadFile(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile missing: %v", err)
	}
	_, err = Open(dir)
	if !errors.Is(err, syscall.EISDIR) || errors.Is(err, ErrFormat) || err.Error() != "wav: open "+dir+": is a directory" {
		t.Fatalf("directory: %v", err)
	}
	locked := writeTemp(t, "locked.wav", wave(ck("fmt ", fmtBody(1, 1, 8000, 16, 0)), ck("data", nil)))
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(locked); err == nil {
		f.Close()
		t.Log("running with privileges that ignore file modes (root?): skipping the unreadable-file case")
	} else {
		_, err = Open(locked)
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), locked) {
			t.Fatalf("unreadable: %v", err)
		}
	}
	// A read error inside the header (a failing disk) is wrapped, not
	// reported as a format problem.
	eio := &failingReader{ReadSeeker: bytes.NewReader(wave(ck("fmt ", fmtBody(1, 1, 8000, 16, 0)), ck("data", nil))), failAt: 20}
	_, err = NewReader(eio, "disk.wav")
	if !errors.Is(err, syscall.EIO) || errors.Is(err, ErrFormat) || err.Error() != "wav: disk.wav: reading fmt chunk: input/output error" {
		t.Fatalf("I/O error: %v", err)
	}
	// Create into a missing directory.
	_, err = Create(filepath.Join(dir, "no", "such", "dir.wav"), 16000, 1, PCM16)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "dir.wav") {
		t.Fatalf("Create: %v", err)
	}
}

// TestTruncatedAfterOpen: the file shrinks mid-frame between Open and
// ReadFrames; whole frames come first, then a sticky truncation error.
func TestTruncatedAfterOpen(t *testing.T) {
	v := [][]int32{make([]int32, 100), make([]int32, 100)}
	for i := range v[0] {
		v[0][i], v[1][i] = int32(i), int32(-i)
	}
	path := writeTemp(t, "shrink.wav", wave(ck("fmt ", fmtBody(1, 2, 16000, 16, 0)), ck("data", pcmBytes(v, 16))))
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(path, 44+4*60+2); err != nil {
		t.Fatal(err)
	}
	dst := planes(2, 64)
	n, err := r.ReadFrames(dst)
	if n != 60 || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrFormat) {
		t.Fatalf("ReadFrames = %d, %v; want 60 and a truncation error", n, err)
	}
	if want := "wav: " + path + ": data ends after 60 of 100 frames (truncated file)"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if dst[0][59] != 59.0/32768 || dst[1][59] != -59.0/32768 {
		t.Fatalf("frame 59 = %v %v", dst[0][59], dst[1][59])
	}
	if n, err2 := r.ReadFrames(dst); n != 0 || err2 != err {
		t.Fatalf("not sticky: %d, %v", n, err2)
	}
}

func TestReadFramesContract(t *testing.T) {
	v := [][]int32{{1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1}}
	file := wave(ck("fmt ", fmtBody(1, 2, 16000, 16, 0)), ck("data", pcmBytes(v, 16)))
	r, err := NewReader(bytes.NewReader(file), "c.wav")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadFrames(planes(2, 0)); n != 0 || err != nil {
		t.Fatalf("zero-length read: %d, %v", n, err)
	}
	dst := planes(2, 4)
	for _, want := range []struct {
		n   int
		err error
	}{{4, nil}, {3, nil}, {0, io.EOF}, {0, io.EOF}} {
		n, err := r.ReadFrames(dst)
		if n != want.n || err != want.err {
			t.Fatalf("ReadFrames = %d, %v; want %d, %v", n, err, want.n, want.err)
		}
	}
	if dst[0][2] != 7.0/32768 || dst[1][2] != 1.0/32768 {
		t.Fatalf("last frame %v %v", dst[0][2], dst[1][2])
	}
	// SeekFrame rewinds and positions.
	if err := r.SeekFrame(5); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.ReadFrames(dst); n != 2 || dst[0][0] != 6.0/32768 {
		t.Fatalf("after SeekFrame(5): n=%d first=%v", n, dst[0][0])
	}
	if err := r.SeekFrame(8); err == nil || !strings.Contains(err.Error(), "c.wav: SeekFrame(8) outside [0, 7]") {
		t.Fatalf("SeekFrame(8): %v", err)
	}
	mustPanic(t, "wav: ReadFrames got 1 channels; c.wav has 2", func() { r.ReadFrames(planes(1, 4)) })
	mustPanic(t, "wav: ReadFrames: dst[1] has 3 frames, dst[0] has 4", func() { r.ReadFrames([][]float32{make([]float32, 4), make([]float32, 3)}) })
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.ReadFrames(dst); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != want {
			t.Fatalf("panic %v, want %q", r, want)
		}
	}()
	f()
}

// TestReadFramesAllocs: no allocation per ReadFrames, for a block smaller
// and one larger than the internal buffer (32 ch × 4 B × 4096 = 512 KiB).
func TestReadFramesAllocs(t *testing.T) {
	for _, tc := range []struct {
		ch, block int
		f         Format
	}{{4, 256, PCM16}, {32, 4096, Float32}} {
		bits := tc.f.Bits()
		tag := 1
		if tc.f == Float32 {
			tag = 3
		}
		data := make([]byte, 3*tc.block*tc.ch*bits/8)
		file := wave(ck("fmt ", fmtBody(tag, tc.ch, 16000, bits, 0)), ck("data", data))
		r, err := NewReader(bytes.NewReader(file), "a.wav")
		if err != nil {
			t.Fatal(err)
		}
		dst := planes(tc.ch, tc.block)
		if n := testing.AllocsPerRun(100, func() {
			if n, err := r.ReadFrames(dst); n != tc.block || err != nil {
				panic(err)
			}
			if r.left == 0 {
				if err := r.SeekFrame(0); err != nil {
					panic(err)
				}
			}
		}); n != 0 {
			t.Fatalf("%d ch, block %d: ReadFrames allocated %v times per call; want 0", tc.ch, tc.block, n)
		}
	}
}

// failingReader returns syscall.EIO for any read that reaches offset failAt.
type failingReader struct {
	io.ReadSeeker
	failAt int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	pos, _ := f.Seek(0, io.SeekCurrent)
	if pos+int64(len(p)) > f.failAt {
		return 0, syscall.EIO
	}
	return f.ReadSeeker.Read(p)
}
