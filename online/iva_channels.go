package online

import "sync/atomic"

// Channels that go quiet.
//
// A microphone that goes quiet (unplugged, muted, a dropout) no longer hears
// a mixture of the sources, and learning from its spectra teaches W a
// rank-deficient model that takes the whole memory (Memory, 8 s by default)
// to unlearn. So spectra in which one channel is far below the others
// (quietRatio) are separated with the current W but not learnt from, and so
// are the WindowHops spectra after the channel is back, whose analysis
// windows still reach into the quiet stretch: half-silent spectra are not a
// mixture either, and learning from those few cost a 2×2 room mixture up to
// 4 dB of SIR for seconds (a 1 s dropout of one mic, TestRecoveryFromBadSignals).
//
// With more microphones than sources, a channel quiet for longer than
// deadAfter is excluded: its covariance row and column are cleared, every
// bin's principal subspace is refreshed (W and V carried over, as on every
// refresh) and learning resumes on the remaining channels. An excluded
// channel stays out until Reset even if it comes back: letting it rejoin
// moves every bin's principal subspace while its covariance refills, which
// measured worse than the remaining channels alone for many seconds (a
// 4-mic, 2-source synthetic mixture needed over 1000 spectra to separate
// again), and a channel that dropped out for half a second is likely to do
// so again.
const (
	// quietRatio: a channel whose spectrum power is below this fraction of
	// the mean of the other channels is quiet (−40 dB; mics of one array
	// hear the same sources within a few dB, so this is a fault, not a
	// level difference).
	quietRatio = 1e-4
	// deadAfter is how long a channel must stay quiet to be excluded (s).
	deadAfter = 0.5
)

// channelTrack is the state of the tracking above.
type channelTrack struct {
	quietRun []int  // consecutive spectra each channel has been quiet
	dead     []bool // channels excluded from the reduction
	nDead    int
	after    int // spectra still not to learn from after a quiet stretch

	quiet, nDeadPub atomic.Int64
}

func (s *IVA) prepareChannels() {
	t := &s.chans
	t.quietRun = make([]int, s.n)
	t.dead = make([]bool, s.n)
}

func (s *IVA) resetChannels() {
	t := &s.chans
	clear(t.quietRun)
	clear(t.dead)
	t.nDead = 0
	t.nDeadPub.Store(0)
	t.quiet.Store(0)
}

// checkChannels looks for quiet channels given each channel's power in this
// spectrum. It reports whether the spectrum may be learnt from. It may
// exclude a channel.
func (s *IVA) checkChannels(pw []float64) bool {
	n := s.n
	if n < 2 {
		return true
	}
	t := &s.chans
	total := 0.0
	for _, p := range pw {
		total += p
	}
	learn := true
	for c := 0; c < n; c++ {
		others := (total - pw[c]) / float64(n-1)
		if t.dead[c] {
			continue // its input is zeroed before the reduction
		}
		if pw[c] < quietRatio*others {
			t.quietRun[c]++
			if s.red && n-t.nDead > s.m && float64(t.quietRun[c]) >= deadAfter*s.cfg.SpectraPerSecond {
				s.excludeChannel(c)
				continue
			}
			learn = false
		} else {
			if t.quietRun[c] > 0 {
				// Back: the next spectra still straddle the quiet
				// stretch in their analysis windows.
				t.after = max(t.after, s.cfg.WindowHops)
			}
			t.quietRun[c] = 0
		}
	}
	if learn && t.after > 0 {
		t.after--
		learn = false
	}
	if !learn {
		t.quiet.Add(1)
	}
	return learn
}

// excludeChannel removes channel c from every bin's covariance and
// refreshes the principal subspaces, carrying W over.
func (s *IVA) excludeChannel(c int) {
	t := &s.chans
	t.dead[c] = true
	t.nDead++
	t.nDeadPub.Add(1)
	n := s.n
	for f := 0; f < s.bins; f++ {
		cov := s.cov[f*n*n : (f+1)*n*n]
		for k := 0; k < n; k++ {
			cov[c*n+k] = 0
			cov[k*n+c] = 0
		}
		s.refreshSubspace(f)
	}
}
