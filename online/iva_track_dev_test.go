package online_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/livesep/livesep/online"
	"github.com/livesep/livesep/stft"
)

// Scene tracking on the still 2-source dev recordings, each started at 0, 3
// and 6 s into its content: no restart at all, and after 1 s of digital
// silence on every channel or 1 s of full-scale clipping (spectra held from
// learning, as stream.Spectral does) the restarts are counted. They are
// false alarms, each costing the 8 s memory; the count is printed, and
// README states it (3 of the 24 faulted runs when measured).
func TestIVATrackStillDevScenes(t *testing.T) {
	type run struct {
		name    string
		sources int
	}
	runs := []run{{"dev_sim015_2x2", 2}, {"dev_sim030_2x2", 2}, {"dev_sim030_2x4", 2}, {"dev_sim030_2x2_music", 2}}
	faulted := map[string]int{}
	for _, r := range runs {
		x0 := readWAV(t, filepath.Join(devMixtures(t), r.name, "mix.wav"))
		for _, rot := range []int{0, 3, 6} {
			for _, fault := range []string{"none", "silence", "clipping"} {
				x := make([][]float64, len(x0))
				held := make([]bool, len(x0[0]))
				for c := range x0 {
					k := rot * 16000
					x[c] = append(append([]float64(nil), x0[c][k:]...), x0[c][:k]...)
					for i := 4 * 16000; i < 5*16000; i++ {
						switch fault {
						case "silence":
							x[c][i] = 0
						case "clipping":
							x[c][i] = math.Max(-1, math.Min(1, 30*x[c][i]))
							held[i] = true
						}
					}
				}
				n := trackRestarts(t, x, r.sources, held)
				label := fmt.Sprintf("%s +%ds %s", r.name, rot, fault)
				if fault == "none" && n != 0 {
					t.Errorf("%s: %d restart(s) on a still scene", label, n)
				}
				if fault != "none" && n > 0 {
					faulted[fault]++
					t.Logf("%s: %d restart(s) after the fault", label, n)
				}
			}
		}
	}
	t.Logf("runs with a restart after 1 s of silence: %d of 12; after 1 s of clipping: %d of 12", faulted["silence"], faulted["clipping"])
}

// trackRestarts separates x with scene tracking (1024/256, 1 s short
// memory), holding learning for every spectrum whose window holds a
// sample marked in held, and returns the number of restarts.
func trackRestarts(t *testing.T, x [][]float64, sources int, held []bool) int64 {
	t.Helper()
	const size, hop = 1024, 256
	cfg := stft.New(size, hop)
	an, err := stft.NewAnalyzer(cfg, len(x))
	if err != nil {
		t.Fatal(err)
	}
	sep, err := online.NewIVA(online.IVAConfig{Sources: sources, SpectraPerSecond: 16000 / float64(hop), Track: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sep.Prepare(len(x), cfg.Bins()); err != nil {
		t.Fatal(err)
	}
	in := make([][]float64, len(x))
	mix := make([][]complex128, len(x))
	for c := range in {
		in[c] = make([]float64, hop)
		mix[c] = make([]complex128, cfg.Bins())
	}
	out := make([][]complex128, sources)
	for i := range out {
		out[i] = make([]complex128, cfg.Bins())
	}
	for pos := 0; pos+hop <= len(x[0]); pos += hop {
		for c := range x {
			copy(in[c], x[c][pos:pos+hop])
		}
		an.Analyze(mix, in)
		for i := max(0, pos+hop-size); i < pos+hop; i++ {
			if held[i] {
				sep.HoldLearning()
				break
			}
		}
		sep.Separate(out, mix)
	}
	return sep.TrackStats().Changes
}
