package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to NewReader and ReadFrames. It checks
// that nothing panics, every error is a named ErrFormat (a bytes.Reader has
// no I/O errors), the header never claims more frames than the bytes hold,
// and reading delivers exactly Info.Frames frames.
func FuzzReader(f *testing.F) {
	pcm := pcmBytes([][]int32{{1, -2, 3}, {4, -5, 6}}, 16)
	f16 := ck("fmt ", fmtBody(1, 2, 16000, 16, 0))
	list := ck("LIST", []byte("INFOISFT\x05\x00\x00\x00abcd\x00\x00"))
	seeds := [][]byte{
		wave(f16, ck("data", pcm)),
		wave(list, f16, ck("JUNK", []byte{1, 2, 3}), ck("data", pcm), list),
		wave(ck("fmt ", extBody(2, 44100, 24, 20, 1)), ck("data", pcmBytes([][]int32{{1, 2}, {3, 4}}, 24))),
		wave(ck("fmt ", extBody(1, 8000, 32, 32, 3)), ck("fact", []byte{2, 0, 0, 0}), ck("data", floatBytes([][]float32{{0.5, -1}}))),
		wave(ck("fmt ", append(fmtBody(3, 1, 8000, 32, 0), 0, 0)), ck("data", floatBytes([][]float32{{0.5, -1}}))),
		wave(ck("fmt ", fmtBody(1, 32, 8000, 32, 0)), ck("data", make([]byte, 256))),
		riff("WAVE", 0xFFFFFFFF, f16, chunk{"data", pcm[:len(pcm)-1], 0xFFFFFFFF}),
		riff("WAVE", 36, f16, chunk{"data", pcm, 0}),
		wave(f16, chunk{"data", pcm, 0xFFFFFFF0}),
		wave(f16, chunk{"data", pcm, 2}),
		wave(ck("fmt ", fmtBody(1, 0, 16000, 16, 4)), ck("data", pcm)),
		wave(ck("fmt ", fmtBody(1, 2, 16000, 12, 4)), ck("data", pcm)),
		wave(ck("fmt ", fmtBody(0xFFFE, 2, 16000, 16, 0)), ck("data", pcm)),
		wave(chunk{"LIST", nil, 0x7FFFFFFF}),
		[]byte("RIFF\x00\x00\x00\x00WAVE"),
		[]byte("RIFF"),
		nil,
	}
	// Real files when present: the first 200 bytes as they are (a header
	// whose data size the bytes cannot hold), and the same head with the
	// sizes patched to a valid 10-frame file.
	for _, p := range []string{
		"dev/mixtures/dev_sim030_2x4/mix.wav",
		"dev/mixtures/dev_sim030_3x3/mix.wav",
		"dev/mir_eval_separation/ref06/1.wav",
	} {
		b, err := os.ReadFile(filepath.Join(dataDirOrEmpty(), p))
		if err != nil {
			continue
		}
		head := b[:min(len(b), 200)]
		seeds = append(seeds, head)
		if string(head[36:40]) == "data" {
			ba := int(head[32])
			valid := append([]byte(nil), head[:44+10*ba]...)
			binary.LittleEndian.PutUint32(valid[4:], uint32(len(valid)-8))
			binary.LittleEndian.PutUint32(valid[40:], uint32(10*ba))
			seeds = append(seeds, valid)
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), "fuzz.wav")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not match ErrFormat: %v", err)
			}
			if msg := err.Error(); len(msg) < 16 || msg[:15] != "wav: fuzz.wav: " {
				t.Fatalf("error does not name the file: %q", msg)
			}
			return
		}
		info := r.Info()
		if info.Channels < 1 || info.Channels > MaxChannels || info.Rate <= 0 || info.Frames < 0 {
			t.Fatalf("bad Info %+v", info)
		}
		if info.Frames*int64(info.Channels*info.Format.Bits()/8) > int64(len(b)) {
			t.Fatalf("Info %+v claims more data than the %d input bytes", info, len(b))
		}
		if len(r.buf) > readBufBytes {
			t.Fatalf("buffer %d bytes", len(r.buf))
		}
		dst := planes(info.Channels, 7)
		var total int64
		for {
			n, err := r.ReadFrames(dst)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadFrames error %v", err)
				}
				break
			}
			if n == 0 {
				t.Fatal("ReadFrames returned 0, nil with a non-empty dst")
			}
		}
		if total != info.Frames {
			t.Fatalf("read %d frames, Info says %d", total, info.Frames)
		}
	})
}

// dataDirOrEmpty is dataDir without a testing.TB (seed corpus set-up).
func dataDirOrEmpty() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
