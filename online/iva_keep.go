package online

import (
	"math"
	"sync/atomic"
)

// Kept rows after a change of scene (scene tracking, two sources, no
// reduction).
//
// When one of two sources moves, one row of the demixing from before the
// move is still right: the row that nulls the source that stayed. Its
// output is the moved source alone, and the other row only has to learn to
// null that one source, which takes far less of the new scene than
// learning both rows: on the recovery test's moving source a batch IVA
// with the right row kept separates 6.6–11.3 dB per second from 0.5 s of
// the new scene, where a free batch IVA on its first 4 s reaches 5.5–8.8
// dB.
//
// So at a detected change, besides restarting the main separator from its
// short-memory twin, the tracker starts one candidate per row from a
// snapshot of the main demixing taken keepSnapLead before the evidence of
// the change began: that row kept (frozen), the other learning by IP1 from
// empty statistics. An online demixing nulls the other source only
// roughly, and a kept row must null it well (on the moving source, in a
// batch emulation, the right row of the snapshot as it was gave 2.6–6.6 dB
// per second after the change, refined 5.2–11.7 dB), so the snapshot is
// first refined by keepRefineIts iterations of a batch aux IVA on the
// keepRefineSec of the old scene before it, one iteration per spectrum.
//
// Which to follow is decided by the correlation of each separator's two
// broadband output envelopes (each bin scaled to its mean power) since the
// candidates started. The candidate that kept the wrong row outputs the
// moved source in both outputs, so its envelopes stay correlated: when one
// candidate's correlation is clearly (keepMargin) below the other's and
// below the main separator's, its row is right and the output follows it.
// When the two candidates are alike, both rows are right (a false alarm)
// or neither (both sources moved, a new room), and the restarted main
// separator is followed, as without candidates. After keepEpisode the main
// separator adopts the candidate then followed; its kept row stays frozen
// until the next detected change (the tracker goes on comparing the main
// separator with the short memory, so a kept row that stops fitting the
// scene is detected like any change). The figures above are from a
// scratch harness (batch aux IVA, Laplace contrast, 60 iterations).
const (
	keepSnapEvery  = 8    // spectra between snapshots of the main demixing
	keepSnapLead   = 0.5  // s: the snapshot is taken this long before the evidence began
	keepEpisode    = 3.0  // s: how long the candidates run before one is adopted
	keepSnaps      = 16   // snapshots kept (≥ (keepSnapLead + trackHold + trackWindow) / every)
	keepRefineSec  = 3.0  // s of the old scene the snapshot is refined on
	keepRefineIts  = 10   // batch iterations of the refinement, one per spectrum
	keepNone       = -1   // best: the main separator
	keepMargin     = 0.05 // envelope correlation by which the right row's candidate must beat the other
	keepMinSpectra = 31   // spectra (0.5 s) of the candidates before they may be followed
)

type keepState struct {
	cands  [2]*IVA
	scores [2]dirScore    // the tracker's score of each, for the main separator to take over
	snaps  [][]complex128 // ring of the main demixing, bins×4 each
	snapAt []int          // spectrum count of each snapshot; −1: empty
	snapA  [][2]float64   // the main α at each snapshot
	count  int            // spectra scored (the tracker's clock)
	ev     int            // count at which the current evidence began
	left   int            // spectra left in the episode; 0: none
	best   int            // keepNone or the candidate the output follows
	lead   int            // keepSnapLead in spectra
	length int            // keepEpisode in spectra

	// History and refinement: the snapshot is an online demixing, whose
	// rows null the other source only roughly; a kept row must null it
	// well. So before the candidates start, the snapshot is refined by a
	// batch IVA on the spectra of the old scene before it.
	hist    []complex128     // ring of learnt spectra, histCap × 2 × bins
	views   [][][]complex128 // views[i][c]
	refW    []complex128     // the demixing being refined (bins × 4)
	refA    [2]float64
	refR    []float64        // 2 per frame: the weights 1/r of the current iteration
	refX    [][][]complex128 // the history's frames the refinement runs on, in order
	refLeft int              // iterations left; 0: not refining
	vs      [8]complex128

	outs [3][][]complex128 // outputs of the main separator and the candidates
	env  [3]envCorr

	episodes, adopted atomic.Int64 // episodes started; ended with a kept row adopted
	ended             int          // episodes run to their end
}

// envCorr is the correlation of two outputs' broadband envelopes, each bin
// scaled to its mean power since the start.
type envCorr struct {
	p                     [2][]float64
	n                     float64
	s0, s1, s00, s11, s01 float64
}

func newEnvCorr(bins int) envCorr {
	return envCorr{p: [2][]float64{make([]float64, bins), make([]float64, bins)}}
}

func (e *envCorr) reset() {
	clear(e.p[0])
	clear(e.p[1])
	e.n, e.s0, e.s1, e.s00, e.s11, e.s01 = 0, 0, 0, 0, 0, 0
}

func (e *envCorr) add(y [][]complex128) {
	e.n++
	var env [2]float64
	for i := range 2 {
		p := e.p[i]
		acc := 0.0
		for f, v := range y[i][:len(p)] {
			a := abs2(v)
			p[f] += (a - p[f]) / e.n
			acc += a / (p[f] + 1e-300)
		}
		env[i] = math.Sqrt(acc)
	}
	e.s0 += env[0]
	e.s1 += env[1]
	e.s00 += env[0] * env[0]
	e.s11 += env[1] * env[1]
	e.s01 += env[0] * env[1]
}

func (e *envCorr) corr() float64 {
	if e.n < 2 {
		return 0
	}
	m0, m1 := e.s0/e.n, e.s1/e.n
	v0, v1 := e.s00/e.n-m0*m0, e.s11/e.n-m1*m1
	if !(v0 > 0 && v1 > 0) {
		return 0
	}
	return (e.s01/e.n - m0*m1) / math.Sqrt(v0*v1)
}

// prepareKeep allocates the candidates when the main separator is a plain
// two-source aux IVA; otherwise kept rows are off (keep nil).
func (t *tracker) prepareKeep(s *IVA) error {
	t.keep = nil
	if s.m != 2 || s.red || s.cfg.Update != UpdateAux {
		return nil
	}
	k := &keepState{snaps: make([][]complex128, keepSnaps), snapAt: make([]int, keepSnaps), snapA: make([][2]float64, keepSnaps),
		lead:   int(math.Round(keepSnapLead * s.cfg.SpectraPerSecond)),
		length: int(math.Round(keepEpisode * s.cfg.SpectraPerSecond))}
	for i := range k.snaps {
		k.snaps[i] = make([]complex128, len(s.w))
	}
	refine := int(math.Round(keepRefineSec * s.cfg.SpectraPerSecond))
	histCap := refine + keepSnaps*keepSnapEvery + 2
	k.hist = make([]complex128, histCap*2*s.bins)
	k.views = make([][][]complex128, histCap)
	for i := range k.views {
		k.views[i] = [][]complex128{k.hist[(2*i)*s.bins : (2*i+1)*s.bins], k.hist[(2*i+1)*s.bins : (2*i+2)*s.bins]}
	}
	k.refW = make([]complex128, len(s.w))
	for i := range k.outs {
		k.outs[i] = [][]complex128{make([]complex128, s.bins), make([]complex128, s.bins)}
		k.env[i] = newEnvCorr(s.bins)
	}
	k.refR = make([]float64, 2*refine)
	k.refX = make([][][]complex128, 0, refine)
	cfg := s.cfg
	cfg.Track = 0
	for i := range k.cands {
		c, err := NewIVA(cfg)
		if err != nil {
			return err
		}
		if _, err := c.Prepare(s.n, s.bins); err != nil {
			return err
		}
		k.cands[i] = c
		k.scores[i] = newDirScore(2, 2)
	}
	t.keep = k
	k.reset()
	return nil
}

func (k *keepState) reset() {
	for i := range k.snapAt {
		k.snapAt[i] = -1
	}
	k.count, k.ev, k.left, k.best, k.refLeft = 0, 0, 0, keepNone, 0
	k.episodes.Store(0)
	k.adopted.Store(0)
	k.ended = 0
}

// tick counts a scored spectrum and keeps the main demixing every
// keepSnapEvery of them, outside episodes (during one the main separator
// is not necessarily the output).
func (k *keepState) tick(s *IVA, mix [][]complex128) {
	v := k.views[k.count%len(k.views)]
	copy(v[0], mix[0])
	copy(v[1], mix[1])
	k.count++
	if k.left > 0 || k.count%keepSnapEvery != 0 {
		return
	}
	i := (k.count / keepSnapEvery) % len(k.snaps)
	copy(k.snaps[i], s.w)
	k.snapAt[i] = k.count
	k.snapA[i] = [2]float64{s.alpha[0], s.alpha[1]}
}

// begin starts an episode at a detected change: both candidates restart
// from the newest snapshot taken keepSnapLead before the evidence began.
func (k *keepState) begin(s *IVA) {
	at, pick := -1, -1
	for i, c := range k.snapAt {
		if c >= 0 && c <= k.ev-k.lead && c > at {
			at, pick = c, i
		}
	}
	if pick < 0 {
		k.left = 0
		return
	}
	copy(k.refW, k.snaps[pick])
	k.refA = k.snapA[pick]
	// The refinement runs on the old scene up to the snapshot; the history
	// must still hold the oldest frame when the last iteration runs.
	from := max(0, at-len(k.refR)/2, k.count-len(k.views)+keepRefineIts+1)
	k.refLeft = keepRefineIts
	k.refX = k.refX[:0]
	for i := from; i < at; i++ {
		k.refX = append(k.refX, k.views[i%len(k.views)])
	}
	k.left = 0
	if len(k.refX) < len(k.refR)/4 {
		k.refLeft = 0 // too little of the old scene to refine on
		k.start(s)
	}
}

// start restarts both candidates from the (refined) snapshot.
func (k *keepState) start(s *IVA) {
	for i, c := range k.cands {
		c.restartKept(k.refW, k.refA, s, i)
		k.scores[i].reset()
	}
	for i := range k.env {
		k.env[i].reset()
	}
	k.left, k.best = k.length, keepNone
	k.episodes.Add(1)
}

// refineStep is one iteration of batch aux IVA (Laplace weights, IP1 on
// each row) on the frames refX of the history, from refW.
func (k *keepState) refineStep(s *IVA) {
	bins := s.bins
	w := k.refW
	n := len(k.refX)
	for t, x := range k.refX {
		x0s, x1s := x[0][:bins], x[1][:bins]
		r0, r1 := 0.0, 0.0
		for f := range x0s {
			x0, x1 := x0s[f], x1s[f]
			r0 += abs2(w[4*f]*x0 + w[4*f+1]*x1)
			r1 += abs2(w[4*f+2]*x0 + w[4*f+3]*x1)
		}
		k.refR[2*t] = 1 / math.Max(math.Sqrt(r0), 1e-300)
		k.refR[2*t+1] = 1 / math.Max(math.Sqrt(r1), 1e-300)
	}
	inv := 1 / float64(n)
	for f := 0; f < bins; f++ {
		var a0, b0, a1, b1 float64
		var c0, c1 complex128
		for t, x := range k.refX {
			x0, x1 := x[0][f], x[1][f]
			p00, p11, p01 := abs2(x0), abs2(x1), x0*cconj(x1)
			g0, g1 := k.refR[2*t], k.refR[2*t+1]
			a0 += g0 * p00
			b0 += g0 * p11
			c0 += complex(g0, 0) * p01
			a1 += g1 * p00
			b1 += g1 * p11
			c1 += complex(g1, 0) * p01
		}
		v := k.vs[:]
		v[0], v[1], v[2], v[3] = complex(a0*inv, 0), c0*complex(inv, 0), cconj(c0)*complex(inv, 0), complex(b0*inv, 0)
		v[4], v[5], v[6], v[7] = complex(a1*inv, 0), c1*complex(inv, 0), cconj(c1)*complex(inv, 0), complex(b1*inv, 0)
		wf := w[4*f : 4*f+4 : 4*f+4]
		save := [4]complex128{wf[0], wf[1], wf[2], wf[3]}
		if !ip1TwoRow(wf, v, 0) || !ip1TwoRow(wf, v, 1) {
			copy(wf, save[:]) // a silent bin: keep the snapshot's
		}
	}
	k.refLeft--
	if k.refLeft == 0 {
		k.start(s)
	}
}

// restartKept sets this candidate to the demixing w with row keep frozen,
// empty statistics and the memory restarting as after adopt.
func (c *IVA) restartKept(w []complex128, alpha [2]float64, src *IVA, keep int) {
	copy(c.w, w)
	clear(c.v)
	copy(c.alpha, alpha[:])
	copy(c.wtOld, src.wtOld)
	copy(c.chans.quietRun, src.chans.quietRun)
	c.chans.after = src.chans.after
	c.restartMemory()
	c.conv, c.power = src.conv, src.power
	c.frozen = keep
}

// separateEpisode is separateOne of the main separator and both candidates
// during an episode; the output is the best one's. It reports whether all
// three learnt from the spectrum.
func (k *keepState) separateEpisode(s *IVA, dst, mix [][]complex128, cov []complex128, ready bool) bool {
	if ready {
		for i, c := range k.cands {
			k.scores[i].predict(c, mix, cov)
		}
	}
	all := true
	tm := s.t
	s.separateOne(k.outs[0], mix)
	all = all && s.t != tm
	for i, c := range k.cands {
		tc := c.t
		c.separateOne(k.outs[i+1], mix)
		all = all && c.t != tc
	}
	src := k.outs[k.best+1]
	copy(dst[0], src[0])
	copy(dst[1], src[1])
	if all {
		for i := range k.env {
			k.env[i].add(k.outs[i])
		}
	}
	return all
}

// judge takes a spectrum all three learnt from: it commits the
// candidates' scores, moves the output to the separator to follow, and at
// the episode's end lets the main separator adopt the candidate followed.
func (k *keepState) judge(s *IVA, t *tracker) {
	k.scores[0].commit(t.lam, s.bins)
	k.scores[1].commit(t.lam, s.bins)
	best := keepNone
	cm, c0, c1 := k.env[0].corr(), k.env[1].corr(), k.env[2].corr()
	if k.env[1].n >= keepMinSpectra {
		if c1-c0 > keepMargin && c0 < cm {
			best = 0
		} else if c0-c1 > keepMargin && c1 < cm {
			best = 1
		}
	}
	k.best = best
	k.left--
	if k.left > 0 {
		return
	}
	k.ended++
	if best != keepNone {
		c := k.cands[best]
		s.adopt(c, identity2[:])
		s.t, s.frozen = c.t, c.frozen
		t.main.copyFrom(&k.scores[best], identity2[:])
		k.adopted.Add(1)
	}
	k.best = keepNone
}

var identity2 = [2]int{0, 1}
