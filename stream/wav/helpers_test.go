package wav

import (
	"github.com/livesep/livesep/internal/shareddata"

	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// This file builds WAV bytes independently of the package code, so the
// tests compare Reader and Writer against a second implementation.

type chunk struct {
	id   string
	body []byte
	size int64 // declared size; -1 means len(body)
}

func ck(id string, body []byte) chunk { return chunk{id, body, -1} }

// riff assembles a RIFF file of the given form type. Odd bodies get a pad
// byte; the RIFF size is the true length unless riffSize >= 0.
func riff(form string, riffSize int64, chunks ...chunk) []byte {
	b := []byte("RIFF\x00\x00\x00\x00" + form)
	for _, c := range chunks {
		size := c.size
		if size < 0 {
			size = int64(len(c.body))
		}
		b = append(b, c.id...)
		b = binary.LittleEndian.AppendUint32(b, uint32(size))
		b = append(b, c.body...)
		if len(c.body)%2 == 1 && c.size < 0 {
			b = append(b, 0)
		}
	}
	if riffSize < 0 {
		riffSize = int64(len(b) - 8)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(riffSize))
	return b
}

func wave(chunks ...chunk) []byte { return riff("WAVE", -1, chunks...) }

// fmtBody is a 16-byte fmt chunk; blockAlign 0 means "the right value".
func fmtBody(tag, channels int, rate uint32, bits, blockAlign int) []byte {
	if blockAlign == 0 {
		blockAlign = channels * bits / 8
	}
	le := binary.LittleEndian
	b := le.AppendUint16(nil, uint16(tag))
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, rate*uint32(blockAlign))
	b = le.AppendUint16(b, uint16(blockAlign))
	return le.AppendUint16(b, uint16(bits))
}

// extBody is a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk with subformat sub.
func extBody(channels int, rate uint32, bits, validBits, sub int) []byte {
	le := binary.LittleEndian
	b := fmtBody(0xFFFE, channels, rate, bits, 0)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(validBits))
	b = le.AppendUint32(b, 0) // channel mask: none
	b = le.AppendUint16(b, uint16(sub))
	return append(b, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
}

// pcmBytes interleaves integer samples (v[c][i]) as little-endian
// bits-bit words.
func pcmBytes(v [][]int32, bits int) []byte {
	var b []byte
	for i := range v[0] {
		for c := range v {
			x := uint32(v[c][i])
			for k := 0; k < bits/8; k++ {
				b = append(b, byte(x>>(8*k)))
			}
		}
	}
	return b
}

func floatBytes(v [][]float32) []byte {
	var b []byte
	for i := range v[0] {
		for c := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v[c][i]))
		}
	}
	return b
}

func planes(channels, frames int) [][]float32 {
	p := make([][]float32, channels)
	for c := range p {
		p[c] = make([]float32, frames)
	}
	return p
}

// writeTemp stores b in a new file in t's temp dir and returns its path.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dataDir returns ../shared/data relative to the module root, or skips.
func dataDir(t testing.TB) string { return shareddata.Path(t) }

// dataChunk returns the payload of the first data chunk of a well-formed
// file (test oracle, no validation beyond bounds).
func dataChunk(t *testing.T, b []byte) []byte {
	t.Helper()
	for pos := 12; pos+8 <= len(b); {
		id, size := string(b[pos:pos+4]), int(binary.LittleEndian.Uint32(b[pos+4:]))
		pos += 8
		if id == "data" {
			return b[pos : pos+size]
		}
		pos += size + size&1
	}
	t.Fatal("no data chunk")
	return nil
}
