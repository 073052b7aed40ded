package dict

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModelRoundTrip(t *testing.T) {
	m := tinyModel(t)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(b, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := m2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("Parse then MarshalBinary changed the bytes")
	}
	path := filepath.Join(t.TempDir(), "m.lsd")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m3, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m3.Params() != m.Params() || strings.Join(m3.Classes(), ",") != "tone,hiss" {
		t.Fatalf("loaded %d params, classes %v", m3.Params(), m3.Classes())
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("Save left %s.tmp behind", path)
	}
}

// TestModelBadFiles checks that a corrupt, truncated, foreign or
// future-version file is refused with an error that names the file and
// says what is wrong.
func TestModelBadFiles(t *testing.T) {
	m := tinyModel(t)
	good, _ := m.MarshalBinary()
	dir := t.TempDir()
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"flipped-weight", "checksum mismatch", mod(func(b []byte) []byte { b[len(b)-100] ^= 0x10; return b })},
		{"flipped-header", "checksum mismatch", mod(func(b []byte) []byte { b[40] ^= 0x01; return b })},
		{"flipped-checksum", "checksum mismatch", mod(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b })},
		{"truncated", "truncated", good[:len(good)-7]},
		{"truncated-header", "truncated", good[:30]},
		{"truncated-magic", "truncated", good[:5]},
		{"empty", "wrong magic", nil},
		{"foreign", "wrong magic", []byte("RIFF\x24\x00\x00\x00WAVEfmt ")},
		{"future-version", "format version 2", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b })},
		{"trailing", "unexpected bytes", append(bytes.Clone(good), 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".lsd")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted the file")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "dict: ") {
				t.Errorf("error %q; want the path, %q and the dict: prefix", msg, c.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", msg)
			}
		})
	}
	_, err := Load(filepath.Join(dir, "missing.lsd"))
	if err == nil || !strings.Contains(err.Error(), "missing.lsd") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDefaultModel(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Classes(), ","); got != "speech,music,noise" {
		t.Errorf("classes %s", got)
	}
	c := m.STFT()
	if c.Size != 1024 || c.Hop != 256 || m.Rate() != 16000 {
		t.Errorf("STFT %d/%d at %d Hz", c.Size, c.Hop, m.Rate())
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	h := m.Header()
	if h.Train.BestEpoch < 1 || len(h.Train.Data) != 3 {
		t.Errorf("training record %+v", h.Train)
	}
	for _, d := range h.Train.Data {
		if d.Files == 0 || len(d.SHA256) != 64 {
			t.Errorf("class data %+v", d)
		}
	}
}

// TestLabelModel checks Model.label against the multinomial posterior
// written out for a 2-class case.
func TestLabelModel(t *testing.T) {
	m := &Model{hdr: Header{
		Classes:   []string{"a", "b"},
		Confusion: [][]float64{{0.8, 0.2}, {0.1, 0.9}},
	}}
	e := []float64{1, 3} // shares 0.25, 0.75
	ll := func(c int) float64 {
		row := m.hdr.Confusion[c]
		return 10 * (0.25*math.Log(row[0]+0.01) + 0.75*math.Log(row[1]+0.01))
	}
	pb := 1 / (1 + math.Exp(ll(0)-ll(1)))
	k, conf := m.label(e)
	if k != 1 || math.Abs(conf-pb) > 1e-12 {
		t.Errorf("label = %d, %.15f; want 1, %.15f", k, conf, pb)
	}
	// A stream with a third of class a's share still reads as b.
	if k, _ := m.label([]float64{0.4, 0.6}); k != 1 {
		t.Errorf("shares 0.4/0.6 labelled %d; want 1", k)
	}
	// Without a confusion matrix: the largest share.
	m.hdr.Confusion = nil
	if k, conf := m.label([]float64{1, 3}); k != 1 || conf != 0.75 {
		t.Errorf("share label = %d, %v; want 1, 0.75", k, conf)
	}
	if k, conf := m.label([]float64{0, 0}); conf != 0 {
		t.Errorf("silent label = %d, %v; want confidence 0", k, conf)
	}
}
