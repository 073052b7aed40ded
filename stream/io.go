package stream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/livesep/livesep/stream/wav"
)

// Source is a non-real-time producer of frames (a file, a test signal).
// ReadFrames follows io.Reader: it fills up to len(dst[0]) frames of every
// channel, and callers use n > 0 before looking at err; io.EOF ends it.
type Source interface {
	Spec() Spec
	ReadFrames(dst [][]float32) (n int, err error)
}

// Sink is a non-real-time consumer of frames.
type Sink interface {
	WriteFrames(src [][]float32) (n int, err error)
	// Close finalises the output; it must also leave valid files after an
	// interrupted run.
	Close() error
}

// WAVSource reads a WAV file as a Source.
type WAVSource struct {
	r    *wav.Reader
	path string
	spec Spec
}

// OpenWAV opens path as a Source. block becomes Spec().MaxFrames.
func OpenWAV(path string, block int) (*WAVSource, error) {
	r, err := wav.Open(path)
	if err != nil {
		return nil, err
	}
	info := r.Info()
	return &WAVSource{r: r, path: path, spec: Spec{Rate: Rate(info.Rate), Channels: info.Channels, MaxFrames: block}}, nil
}

// Spec implements Source.
func (s *WAVSource) Spec() Spec { return s.spec }

// Info is the WAV header.
func (s *WAVSource) Info() wav.Info { return s.r.Info() }

// Path is the file's path.
func (s *WAVSource) Path() string { return s.path }

// ReadFrames implements Source.
func (s *WAVSource) ReadFrames(dst [][]float32) (int, error) { return s.r.ReadFrames(dst) }

// Close closes the file.
func (s *WAVSource) Close() error { return s.r.Close() }

// WAVSink writes each channel it is given to its own mono WAV file,
// DIR/source_1.wav … DIR/source_M.wav. It flushes (and so finalises the
// headers) at least every FlushFrames frames, so an interrupted process
// loses at most that much.
type WAVSink struct {
	ws          []*wav.Writer
	paths       []string
	one         [][]float32 // reused one-channel view, avoids a slice literal per write
	FlushFrames int
	sinceFlush  int
	err         error
}

// CreateWAVSink creates dir (if needed) and the files source_1.wav …
// source_M.wav in it. On error no file it created is left behind.
func CreateWAVSink(dir string, rate Rate, channels int, f wav.Format) (*WAVSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("stream: create output folder: %w", err)
	}
	s := &WAVSink{one: make([][]float32, 1), FlushFrames: int(rate)}
	for c := 0; c < channels; c++ {
		p := filepath.Join(dir, fmt.Sprintf("source_%d.wav", c+1))
		w, err := wav.Create(p, int(rate), 1, f)
		if err != nil {
			for i, w := range s.ws {
				w.Close()
				os.Remove(s.paths[i])
			}
			return nil, err
		}
		s.ws = append(s.ws, w)
		s.paths = append(s.paths, p)
	}
	return s, nil
}

// Paths are the files being written.
func (s *WAVSink) Paths() []string { return s.paths }

// Clipped is the number of samples clamped or zeroed by the writers.
func (s *WAVSink) Clipped() int64 {
	var n int64
	for _, w := range s.ws {
		n += w.Clipped()
	}
	return n
}

// WriteFrames implements Sink.
func (s *WAVSink) WriteFrames(src [][]float32) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(src) != len(s.ws) {
		panic("stream: WAVSink.WriteFrames: channel count mismatch")
	}
	n := 0
	for c, w := range s.ws {
		s.one[0] = src[c]
		k, err := w.WriteFrames(s.one)
		if c == 0 || k < n {
			n = k
		}
		if err != nil {
			s.err = err
			return n, err
		}
	}
	s.sinceFlush += n
	if s.FlushFrames > 0 && s.sinceFlush >= s.FlushFrames {
		s.sinceFlush = 0
		if err := s.Flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Flush writes buffered audio and valid headers to every file.
func (s *WAVSink) Flush() error {
	var errs []error
	for _, w := range s.ws {
		if err := w.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.err = err
		return err
	}
	return nil
}

// Close implements Sink: every file is finalised, even if one fails.
func (s *WAVSink) Close() error {
	var errs []error
	for _, w := range s.ws {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var _ io.Closer = (*WAVSource)(nil)
