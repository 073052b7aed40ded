package main

import (
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/livesep/livesep/internal/roomsim"
	"github.com/livesep/livesep/stream/wav"
)

// A talker who walks to another spot in the same room, which the shared
// recordings do not hold: dev_sim030_2x2's room, microphones and talkers
// (the dry CMU ARCTIC sources it was made from, first 10 s, mean removed,
// unit RMS, as its meta.json says), simulated with internal/roomsim
// calibrated to its 0.30 s reverberation. Talker 0 stands at 41.8° from
// broadside, 1.24 m from the array (as in dev_sim030_2x2) and, from 5 s
// on, at 0°: 42° around the array, 57° from talker 1 at −56.8°. Its mixing
// filters switch at that instant, as issue #7 describes a move.

// roomMoveGeometry is dev_sim030_2x2's meta.json.
var roomMoveGeometry = struct {
	dim        [3]float64
	mics       [2][3]float64
	src0, src1 [3]float64
	walkedTo   [3]float64 // talker 0 after the move: azimuth 0°, same distance and height
	rt60       float64
}{
	dim:      [3]float64{5, 4, 2.7},
	mics:     [2][3]float64{{2.1750000000000003, 1.7, 1.1}, {2.225, 1.7, 1.1}},
	src0:     [3]float64{3.0247766994889296, 2.6231843642572428, 1.2153794158741196},
	src1:     [3]float64{0.9888978773601675, 2.492154000824815, 1.3693168979500434},
	walkedTo: [3]float64{2.2, 1.7 + 1.2379523312425649, 1.2153794158741196},
	rt60:     0.3,
}

// roomResponses are the six impulse responses (three positions × two
// mics), simulated once per test binary.
var roomResponses = sync.OnceValues(func() ([3][2][]float64, error) {
	g := roomMoveGeometry
	var out [3][2][]float64
	room, err := roomsim.Calibrate(g.dim, 16000, g.rt60, g.src0, g.mics[0])
	if err != nil {
		return out, err
	}
	for p, pos := range [3][3]float64{g.src0, g.walkedTo, g.src1} {
		for m, mic := range g.mics {
			if out[p][m], err = room.Response(pos, mic); err != nil {
				return out, err
			}
		}
	}
	return out, nil
})

// roomMoveScene returns the scene with the talkers' content rotated by rot
// seconds: the mixture (talker 0 moving at 5 s), the clean run of the new
// scene (talker 0 at the new spot throughout), and both scenes' references
// at mic 0.
func roomMoveScene(t *testing.T, rot int) (mix, base, refs, baseRefs [][]float32) {
	t.Helper()
	h, err := roomResponses()
	if err != nil {
		t.Fatal(err)
	}
	const rate, n, at = 16000, 160000, 5 * 16000
	dry := make([][]float64, 2)
	for j, name := range []string{"speech_cmuarctic_aew_male.wav", "speech_cmuarctic_axb_female.wav"} {
		s := drySource(t, filepath.Join(sharedData(t), "dev", "sources", name), n)
		k := rot * rate
		dry[j] = append(s[k:], s[:k]...)
	}
	// img[position][mic]: talker 0 at its two spots, talker 1 at its one.
	var img [3][2][]float64
	talker := [3]int{0, 0, 1}
	for p := range img {
		for m := range img[p] {
			img[p][m] = roomsim.Convolve(dry[talker[p]], h[p][m], n)
		}
	}
	peak := 0.0
	for m := range 2 {
		for i := range n {
			peak = math.Max(peak, math.Abs(img[0][m][i]+img[2][m][i]))
		}
	}
	g := 0.7 / peak
	f32 := func(x []float64) []float32 { return scaled32(x, g) }
	moving := make([][]float32, 2)
	for m := range moving {
		moving[m] = f32(append(append([]float64{}, img[0][m][:at]...), img[1][m][at:]...))
	}
	still := [][]float32{f32(img[2][0]), f32(img[2][1])}
	walked := [][]float32{f32(img[1][0]), f32(img[1][1])}
	return sumImages(moving, still, 2), sumImages(walked, still, 2), [][]float32{moving[0], still[0]}, [][]float32{walked[0], still[0]}
}

// drySource is the first n samples of a mono recording (looped if
// shorter), mean removed, at unit RMS: how the dev mixtures' sources were
// prepared (their meta.json).
func drySource(t *testing.T, path string, n int) []float64 {
	t.Helper()
	_, x, err := wav.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(x[0][i%len(x[0])])
	}
	mean, pow := 0.0, 0.0
	for _, v := range s {
		mean += v / float64(n)
	}
	for i := range s {
		s[i] -= mean
		pow += s[i] * s[i] / float64(n)
	}
	for i := range s {
		s[i] /= math.Sqrt(pow)
	}
	return s
}

// scaled32 is g·x in float32.
func scaled32(x []float64, g float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(g * v)
	}
	return y
}
