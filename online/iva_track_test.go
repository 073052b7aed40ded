package online

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// remix makes the scene change at spectrum from: the same sources are
// mixed from then on by the mixing matrices of other (a new room), with
// the same 60 dB noise floor. It returns a view of s whose mixing is
// other's, for measuring the separation after the change.
func (s *synth) remix(from int, other *synth, seed uint64) *synth {
	rng := rand.New(rand.NewPCG(seed, 2))
	for t := from; t < len(s.mix); t++ {
		for c := 0; c < s.n; c++ {
			x := randComplex(rng, s.bins, 1e-3)
			for f := range x {
				shape := math.Pow(10, -1.5*float64(f)/float64(s.bins))
				x[f] *= complex(shape, 0)
				for i := 0; i < s.m; i++ {
					x[f] += other.a[f][c*s.m+i] * s.src[t][i][f]
				}
			}
			s.mix[t][c] = x
		}
	}
	after := *s
	after.a = other.a
	return &after
}

// majority is the permutation most bins of sep show against s's mixing
// (output i carries source perm[i]), and the median off/diagonal power.
func (s *synth) majority(sep *IVA) (perm string, offDB float64) {
	count := map[string]int{}
	var offs []float64
	for f := 0; f < s.bins; f++ {
		p, off, _ := s.sepStats(sep, f)
		count[fmt.Sprint(p)]++
		offs = append(offs, off)
	}
	best := 0
	for p, c := range count {
		if c > best {
			perm, best = p, c
		}
	}
	slices.Sort(offs)
	return perm, offs[len(offs)/2]
}

// A change of scene at 24 s, the sources going on: either one source's
// mixing column is replaced in every bin (it moved) or every mixing matrix
// is (a new room). The synthetic bins are independent random mixtures, far
// harder to re-learn than a room's smooth responses: a 1 s-memory IVA
// alone needs 3 to 5 s here. The tracked separator must detect the change
// within 5 s and separate the new scene 8 s after it (off/diagonal power
// below -20 dB, and 15 dB below the untracked separator, whose 8 s memory
// still mixes the sources), without any detection during the 24 s of still
// scene before. When one source moved, each output must keep its source:
// the main separator's row for the source that stayed still nulls the
// other, and that is what the matching before the restart relies on. (For
// a new room there is nothing to match by, and no such promise.)
func TestIVATrackDetectsChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n, m  int
		moved bool // one source's column only, else the whole room
	}{
		{"2x2/one-moves", 2, 2, true}, {"3x3/one-moves", 3, 3, true}, {"4mics-2src/one-moves", 4, 2, true},
		{"2x2/new-room", 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const bins, change, total = 64, 1500, 2000 // 62.5 spectra/s: the change at 24 s, then 8 s
			s := newSynth(1, tc.n, tc.m, bins, total)
			room := newSynth(7, tc.n, tc.m, bins, 1)
			if tc.moved {
				for f := range room.a {
					for c := 0; c < tc.n; c++ {
						copy(room.a[f][c*tc.m+1:(c+1)*tc.m], s.a[f][c*tc.m+1:(c+1)*tc.m])
					}
				}
			}
			after := s.remix(change, room, 3)
			tracked := newTestIVA(t, IVAConfig{Sources: tc.m, Track: time.Second}, tc.n, bins)
			plain := newTestIVA(t, IVAConfig{Sources: tc.m}, tc.n, bins)

			s.run(tracked, 0, change)
			s.run(plain, 0, change)
			if n := tracked.TrackStats().Changes; n != 0 {
				t.Fatalf("%d change(s) detected in a still scene", n)
			}
			permBefore, offBefore := s.majority(tracked)
			detected := -1
			for k := change; k < total; k++ {
				s.run(tracked, k, k+1)
				s.run(plain, k, k+1)
				if detected < 0 && tracked.TrackStats().Changes > 0 {
					detected = k - change
				}
			}
			permAfter, offTracked := after.majority(tracked)
			_, offPlain := after.majority(plain)
			t.Logf("before: sources %s, off/diagonal %.1f dB; change detected after %.2f s (%d restarts); 8 s after it: tracked %s %.1f dB, untracked %.1f dB",
				permBefore, offBefore, float64(detected)/62.5, tracked.TrackStats().Changes, permAfter, offTracked, offPlain)
			if detected < 0 || detected > 5*62 {
				t.Fatalf("change detected after %d spectra; want within 5 s (312)", detected)
			}
			if offTracked > -20 || offTracked > offPlain-15 {
				t.Errorf("8 s after the change the tracked separator's off/diagonal power is %.1f dB (untracked %.1f dB); want below -20 dB and 15 dB below the untracked", offTracked, offPlain)
			}
			if tc.moved && permAfter != permBefore {
				t.Errorf("outputs carry sources %s after the change, %s before: the restart swapped them", permAfter, permBefore)
			}
			if err := tracked.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

// Scene tracking, including a detection, the restart it causes, the
// refinement of the kept rows and a whole episode of kept-row candidates,
// allocates nothing.
func TestIVATrackAllocs(t *testing.T) {
	const bins, change = 257, 1000
	s := newSynth(1, 2, 2, bins, change+600)
	s.remix(change, newSynth(7, 2, 2, bins, 1), 3)
	sep := newTestIVA(t, IVAConfig{Track: time.Second}, 2, bins)
	s.run(sep, 0, change)
	dst := alloc2c(2, bins)
	k := change
	if n := testing.AllocsPerRun(599, func() {
		sep.Separate(dst, s.mix[k])
		k++
	}); n != 0 {
		t.Fatalf("tracked Separate allocated %v times per call; want 0", n)
	}
	if sep.TrackStats().Changes == 0 {
		t.Fatal("no change detected: the restart path was not exercised")
	}
	if kp := sep.track.keep; kp.ended == 0 {
		t.Fatalf("kept-row episodes started %d, ended 0: a whole episode was not exercised", kp.episodes.Load())
	}
}

// Reset forgets the short memory and the scores too: a replay after Reset
// gives bit-identical outputs.
func TestIVATrackResetReplay(t *testing.T) {
	const bins = 32
	s := newSynth(3, 2, 2, bins, 300)
	s.remix(150, newSynth(8, 2, 2, bins, 1), 4)
	sep := newTestIVA(t, IVAConfig{Track: time.Second}, 2, bins)
	first := s.run(sep, 0, 300)
	changes := sep.TrackStats().Changes
	sep.Reset()
	if st := sep.TrackStats(); st.Changes != 0 || st.Lead != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
	second := s.run(sep, 0, 300)
	for k := range first {
		for i := range first[k] {
			if !slices.Equal(first[k][i], second[k][i]) {
				t.Fatalf("spectrum %d output %d differs after Reset", k, i)
			}
		}
	}
	if sep.TrackStats().Changes != changes {
		t.Fatalf("replay detected %d changes, first run %d", sep.TrackStats().Changes, changes)
	}
}

func TestIVATrackConfig(t *testing.T) {
	for _, c := range []IVAConfig{{Track: -time.Second}, {Track: time.Millisecond}} {
		if _, err := NewIVA(c); err == nil {
			t.Errorf("NewIVA(Track %v) accepted", c.Track)
		}
	}
	sep := newTestIVA(t, IVAConfig{}, 2, 8)
	if st := sep.TrackStats(); st != (TrackStats{}) {
		t.Errorf("TrackStats with tracking off = %+v", st)
	}
}

// absDet2 against the determinant by cofactor expansion.
func TestAbsDet2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var det func(a []complex128, m int) complex128
	det = func(a []complex128, m int) complex128 {
		if m == 1 {
			return a[0]
		}
		var d complex128
		sub := make([]complex128, (m-1)*(m-1))
		for j := 0; j < m; j++ {
			k := 0
			for r := 1; r < m; r++ {
				for c := 0; c < m; c++ {
					if c != j {
						sub[k] = a[r*m+c]
						k++
					}
				}
			}
			sign := complex(float64(1-2*(j%2)), 0)
			d += sign * a[j] * det(sub, m-1)
		}
		return d
	}
	for m := 1; m <= 5; m++ {
		a := randComplex(rng, m*m, 1)
		want := math.Pow(cmplx.Abs(det(a, m)), 2)
		got := absDet2(make([]complex128, m*m), a, m)
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("m=%d: absDet2 = %v, want %v", m, got, want)
		}
	}
	if got := absDet2(make([]complex128, 4), []complex128{1, 2, 2, 4}, 2); got != 0 {
		t.Errorf("singular: %v, want 0", got)
	}
}
