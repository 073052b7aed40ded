package online

import (
	"math"
	"sync/atomic"
	"time"
)

// Scene tracking (IVAConfig.Track).
//
// A long memory separates a still scene best, but after the scene changes
// (a talker moves, one stops and another starts) its statistics hold the
// old scene for about as long as the memory: with 8 s the separation takes
// 5 s or more to come back. A 1 s memory recovers sooner but separates a
// still scene 1 to 1.5 dB worse. Tracking keeps both: a second IVA with the
// short memory learns beside the main one, and when it has explained the
// input clearly better for long enough, the scene has changed: the main
// separator adopts the short one's state (its sources matched to the main
// outputs) and its memory grows again from there. The output is always
// the main separator's, so a still scene sounds exactly as without
// tracking unless a change is detected.
//
// "Explains better" is a prequential (predictive) score: each spectrum is
// scored under both separators' current demixing before either learns
// from it, so the short memory cannot win merely by having fitted the
// newest data. The score is the IVA negative log-likelihood with each
// demixing row normalised to unit power under one shared long-run
// mixture covariance R_f,
//
//	J = 2F·Σ_i log E[‖ỹ_i‖] − E[Σ_f log det C̃_f],
//	ỹ_i,f = d_i,f·x_f / √(d_i,f R_f d_i,fᴴ),   C̃_f = the normalised D_f R_f D_fᴴ,
//
// (D_f = W_f·q_f the full demixing, E an average over TrackWindow): the
// first term rewards sparse, super-Gaussian outputs, the second penalises
// outputs that stay correlated. The normalisation matters. Scored with
// its own per-bin scale, a 1 s memory wins on every still scene, because
// it tracks the spectral shape of the current syllable, which says
// nothing about how well it separates.
//
// Measured on 33 still 2-source runs (11 mixtures × 3 content offsets)
// and 21 changes of scene (the recovery test's three and four more built
// from simulated rooms, each at three content offsets), with the
// constants below: a detection in 1 of the 33 still runs, and every
// change detected, after a median 0.6 s; mean ΔSDR of the still runs
// 3.09 dB against 3.10 without tracking; mean per-second SIR after the
// changes' limits 7.4 dB against 4.5 dB (a 1 s memory alone: 7.0 dB, but
// 1.5 dB lower ΔSDR on the still runs). On still scenes of 3 sources the
// short memory separates so much worse that its score wanders past the
// margin (false restarts in 5 of 6 still runs, mean ΔSDR 1.65 dB against
// 3.02 dB without tracking), so tracking is for 2 sources:
// the command line turns it on only there (and only for --method iva:
// iva+dict has a real-time budget that two IVAs would use up).

const (
	// trackWindow is the averaging time of the scores.
	trackWindow = 500 * time.Millisecond
	// trackMargin is how much lower the short memory's score must be, in
	// nats per spectrum per source per 2F, for a spectrum to count as
	// evidence of a change.
	trackMargin = 0.02
	// trackHold is how long the evidence must hold without a break.
	trackHold = 500 * time.Millisecond
	// trackRestart is the memory the main separator restarts with: the
	// short memory's statistics, weighted as this many seconds of data,
	// so that the part of them that still holds the old scene is outweighed
	// soon (1 s, the short memory's own: 6.8 dB mean SIR after the
	// change's limit over 21 changes; 0.25 s: 7.4 dB; 0.1 s: 7.3 dB; 0.05 s: 6.8 dB).
	trackRestart = 250 * time.Millisecond
	// trackWarm is how many spectra both separators must have learnt
	// before they are compared: the first second, when both still
	// converge.
	trackWarm = 64
)

type tracker struct {
	fast *IVA

	lam    float64      // forgetting of the score averages
	hold   int          // trackHold in spectra
	cov    []complex128 // F × n×n long-run mixture covariance, shared
	covN   int
	main   dirScore
	short  dirScore
	above  int // consecutive spectra of evidence
	skip   int // spectra after a gap in learning that are not scored
	perm   []int
	perms  [][]int   // candidate matchings (all permutations up to 4 sources)
	match  []float64 // m×m agreement of main output i with short source j
	ga, gb []complex128
	gn, gd []complex128
	gg     []float64
	used   []bool

	keep    *keepState // kept-row candidates after a change (iva_keep.go), nil if off
	changes atomic.Int64
	lead    atomic.Uint64 // float64 bits: the current averaged score lead of the short memory
}

// TrackStats reports what scene tracking has seen since Prepare or Reset.
type TrackStats struct {
	// Changes is the number of scene changes detected (each one a
	// restart of the main separator from the short memory's state).
	Changes int64
	// Lead is the short memory's current averaged score advantage, in the
	// units of the detection margin 0.02 (nats per spectrum per source per
	// 2F); above the margin for 0.5 s is a change. 0 when tracking is off.
	Lead float64
	// KeptRows is the number of changes after which the main separator
	// adopted a candidate that kept one demixing row from before the
	// change (one source moved; iva_keep.go).
	KeptRows int64
}

// TrackStats returns the tracking counts; zero when tracking is off. It may
// be called from any goroutine.
func (s *IVA) TrackStats() TrackStats {
	t := s.track
	if t == nil {
		return TrackStats{}
	}
	st := TrackStats{Changes: t.changes.Load(), Lead: math.Float64frombits(t.lead.Load())}
	if t.keep != nil {
		st.KeptRows = t.keep.adopted.Load()
	}
	return st
}

// SceneChanges implements stream.SceneChangeReporter: the changes of
// scene detected so far, and whether tracking is on.
func (s *IVA) SceneChanges() (int64, bool) {
	if s.track == nil {
		return 0, false
	}
	return s.track.changes.Load(), true
}

// prepareTrack allocates the tracker and its short-memory separator.
func (s *IVA) prepareTrack() error {
	if s.cfg.Track == 0 {
		s.track = nil
		return nil
	}
	fc := s.cfg
	fc.Memory, fc.Track = s.cfg.Track, 0
	fast, err := NewIVA(fc)
	if err != nil {
		return err
	}
	if _, err := fast.Prepare(s.n, s.bins); err != nil {
		return err
	}
	m, n := s.m, s.n
	t := &tracker{
		fast:  fast,
		lam:   1 - 1/(trackWindow.Seconds()*s.cfg.SpectraPerSecond),
		hold:  max(1, int(math.Round(trackHold.Seconds()*s.cfg.SpectraPerSecond))),
		cov:   make([]complex128, s.bins*n*n),
		main:  newDirScore(m, n),
		short: newDirScore(m, n),
		perm:  make([]int, m),
		perms: permutations(m),
		match: make([]float64, m*m),
		ga:    make([]complex128, m*m),
		gb:    make([]complex128, m*m),
		gn:    make([]complex128, n*m),
		gd:    make([]complex128, m*n),
		gg:    make([]float64, m),
		used:  make([]bool, m),
	}
	s.track = t
	return t.prepareKeep(s)
}

func (t *tracker) reset() {
	t.fast.Reset()
	clear(t.cov)
	t.covN = 0
	t.main.reset()
	t.short.reset()
	t.above, t.skip = 0, 0
	if t.keep != nil {
		for _, c := range t.keep.cands {
			c.Reset()
		}
		t.keep.reset()
	}
	t.changes.Store(0)
	t.lead.Store(0)
}

// separateTracked is Separate with tracking: score both separators on the
// spectrum, let both learn from it, and restart the main one from the
// short one when the evidence of a change has held long enough.
func (s *IVA) separateTracked(dst, mix [][]complex128) {
	t := s.track
	ready := t.covN >= trackWarm && s.t >= trackWarm && t.fast.t >= trackWarm
	if ready {
		// Predict before learning; the averages take the spectrum only
		// if both separators learn from it (not silent, quiet, clipped,
		// nor NaN/Inf, whose prediction is then simply dropped).
		t.main.predict(s, mix, t.cov)
		t.short.predict(t.fast, mix, t.cov)
	}
	k := t.keep
	episode := k != nil && k.left > 0
	if s.held {
		t.fast.HoldLearning()
		if episode {
			for _, c := range k.cands {
				c.HoldLearning()
			}
		}
	}
	tm, tf := s.t, t.fast.t
	all := true
	if episode {
		all = k.separateEpisode(s, dst, mix, t.cov, ready)
	} else {
		s.separateOne(dst, mix)
	}
	t.fast.separateOne(nil, mix)
	if s.t == tm || t.fast.t == tf {
		// Not learnt from (silent, a quiet mic, clipped): no evidence
		// either way, and none from the next spectra whose windows still
		// hold part of the gap: the short memory learns the onset after
		// a gap much faster and would look better on the ones that follow.
		t.skip = s.cfg.WindowHops
		return
	}
	t.learnCov(s, mix)
	if !ready {
		return
	}
	if t.skip > 0 {
		t.skip--
		return
	}
	if k != nil {
		k.tick(s, mix)
		if k.refLeft > 0 {
			k.refineStep(s)
		}
	}
	jm := t.main.commit(t.lam, s.bins)
	jf := t.short.commit(t.lam, s.bins)
	lead := (jm - jf) / (2 * float64(s.bins) * float64(s.m))
	t.lead.Store(math.Float64bits(lead))
	if lead > trackMargin {
		if t.above == 0 && k != nil {
			k.ev = k.count
		}
		t.above++
	} else {
		t.above = 0
	}
	if t.above >= t.hold {
		t.align(s)
		s.adopt(t.fast, t.perm)
		t.main.copyFrom(&t.short, t.perm)
		t.above = 0
		t.changes.Add(1)
		if k != nil {
			k.begin(s)
		}
		return
	}
	if episode && all {
		k.judge(s, t)
	}
}

// learnCov updates the shared long-run mixture covariance, with the main
// separator's memory.
func (t *tracker) learnCov(s *IVA, mix [][]complex128) {
	n := s.n
	t.covN++
	l := 1 - 1/math.Min(float64(t.covN), s.cfg.memory())
	g := complex(1-l, 0)
	lc := complex(l, 0)
	for f := 0; f < s.bins; f++ {
		r := t.cov[f*n*n : (f+1)*n*n]
		for i := 0; i < n; i++ {
			xi := mix[i][f] * g
			row := r[i*n : i*n+n]
			for j := range row {
				row[j] = lc*row[j] + xi*cconj(mix[j][f])
			}
		}
	}
}

// dirScore is the running score J of one separator (top of this file).
type dirScore struct {
	m, n   int
	d, dr  []complex128 // m×n: D_f and D_f·R_f
	corr   []complex128 // m×m: D_f R_f D_fᴴ
	scr    []complex128
	inv    []float64 // 1/√p_i
	r      []float64 // ‖ỹ_i‖² of the current spectrum
	ld     float64   // Σ_f log det C̃_f of the current spectrum
	envR   []float64 // E‖ỹ_i‖
	envLD  float64   // E Σ_f log det C̃_f
	primed bool
}

func newDirScore(m, n int) dirScore {
	return dirScore{m: m, n: n, d: make([]complex128, m*n), dr: make([]complex128, m*n),
		corr: make([]complex128, m*m), scr: make([]complex128, m*m), inv: make([]float64, m), r: make([]float64, m), envR: make([]float64, m)}
}

func (d *dirScore) reset() {
	clear(d.envR)
	d.envLD, d.primed = 0, false
}

// copyFrom takes o's averages, source i of d being source perm[i] of o.
func (d *dirScore) copyFrom(o *dirScore, perm []int) {
	for i := range d.envR {
		d.envR[i] = o.envR[perm[i]]
	}
	d.envLD, d.primed = o.envLD, o.primed
}

// predict demixes the spectrum mix by s's current D and keeps its terms
// of the score for commit.
func (d *dirScore) predict(s *IVA, mix [][]complex128, cov []complex128) {
	if d.m == 2 && !s.red {
		d.predict2(s, mix, cov)
		return
	}
	m, n := d.m, d.n
	clear(d.r)
	ld, prod := 0.0, 1.0
	for f := 0; f < s.bins; f++ {
		w := s.w[f*m*m : (f+1)*m*m]
		if s.red {
			mulTo(d.d, w, s.q[f*m*n:(f+1)*m*n], m, m, n)
		} else {
			copy(d.d, w)
		}
		r := cov[f*n*n : (f+1)*n*n]
		mulTo(d.dr, d.d, r, m, n, n)
		load := complex(covLoad(r, n), 0)
		for k := range d.dr {
			d.dr[k] += load * d.d[k]
		}
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				var acc complex128
				for k := 0; k < n; k++ {
					acc += d.dr[i*n+k] * cconj(d.d[j*n+k])
				}
				d.corr[i*m+j] = acc
			}
		}
		for i := 0; i < m; i++ {
			p := math.Max(real(d.corr[i*m+i]), 1e-300)
			var acc complex128
			for k := 0; k < n; k++ {
				acc += d.d[i*n+k] * mix[k][f]
			}
			d.r[i] += abs2(acc) / p
			d.inv[i] = 1 / math.Sqrt(p)
		}
		// C̃ = diag(p)^-½·C·diag(p)^-½ has a unit diagonal and det in (0, 1].
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				d.corr[i*m+j] *= complex(d.inv[i]*d.inv[j], 0)
			}
		}
		prod *= math.Max(absDet2(d.scr, d.corr, m), 1e-300) // |det C̃|², in [1e-300, 1]
		if prod < 1e-200 {
			ld += 0.5 * math.Log(prod)
			prod = 1
		}
	}
	d.ld = ld + 0.5*math.Log(prod)
}

// predict2 is predict for two sources without reduction, written out:
// det C̃ = 1 − |c₀₁|²/(p₀p₁), one logarithm per bin.
func (d *dirScore) predict2(s *IVA, mix [][]complex128, cov []complex128) {
	r0, r1, ld, prod := 0.0, 0.0, 0.0, 1.0
	x0s, x1s := mix[0][:s.bins], mix[1][:s.bins]
	for f := range x0s {
		w := s.w[4*f : 4*f+4 : 4*f+4]
		r := cov[4*f : 4*f+4 : 4*f+4]
		load := covLoad(r, 2)
		a00, a01, a10, a11 := r[0]+complex(load, 0), r[1], r[2], r[3]+complex(load, 0)
		// rows of D·(R + load·I)
		e00, e01 := w[0]*a00+w[1]*a10, w[0]*a01+w[1]*a11
		e10, e11 := w[2]*a00+w[3]*a10, w[2]*a01+w[3]*a11
		p0 := math.Max(real(e00*cconj(w[0])+e01*cconj(w[1])), 1e-300)
		p1 := math.Max(real(e10*cconj(w[2])+e11*cconj(w[3])), 1e-300)
		c01 := e00*cconj(w[2]) + e01*cconj(w[3])
		// Σ log as log Π: one logarithm per spectrum, not per bin (each
		// factor is in [1e-300, 1]; fold the product in before it underflows).
		prod *= math.Max(1-abs2(c01)/(p0*p1), 1e-300)
		if prod < 1e-200 {
			ld += math.Log(prod)
			prod = 1
		}
		x0, x1 := x0s[f], x1s[f]
		r0 += abs2(w[0]*x0+w[1]*x1) / p0
		r1 += abs2(w[2]*x0+w[3]*x1) / p1
	}
	d.r[0], d.r[1], d.ld = r0, r1, ld+math.Log(prod)
}

// covLoad is the diagonal loading added to R: with a silent or dead mic R
// is rank deficient and the normalised correlation would be singular.
func covLoad(r []complex128, n int) float64 {
	tr := 0.0
	for k := 0; k < n; k++ {
		tr += real(r[k*n+k])
	}
	return 1e-3*tr/float64(n) + 1e-300
}

// commit adds the predicted spectrum to the averages (forgetting lam) and
// returns J for F bins.
func (d *dirScore) commit(lam float64, bins int) float64 {
	ld := d.ld
	if !d.primed {
		for i := range d.envR {
			d.envR[i] = math.Sqrt(d.r[i])
		}
		d.envLD, d.primed = ld, true
	} else {
		for i := range d.envR {
			d.envR[i] = lam*d.envR[i] + (1-lam)*math.Sqrt(d.r[i])
		}
		d.envLD = lam*d.envLD + (1-lam)*ld
	}
	j := -d.envLD
	for _, v := range d.envR {
		j += 2 * float64(bins) * math.Log(v)
	}
	return j
}

// align sets perm to the matching of the short memory's sources to the
// main separator's outputs that their demixing matrices agree on best: per
// bin G_f = D_main,f · A_short,f is the response of each main output to
// each source as the short memory models it (A = D⁺, its mixing estimate);
// matching sources make G_f a permuted diagonal. Each row of |G_f|² is
// normalised and summed over bins, and the matching with the largest trace
// wins (every permutation up to 4 sources, greedy above).
func (t *tracker) align(s *IVA) {
	fast := t.fast
	m, n := s.m, s.n
	sc := t.match
	clear(sc)
	for f := 0; f < s.bins; f++ {
		copy(t.ga, fast.w[f*m*m:(f+1)*m*m])
		if !invertTo(t.gb, t.ga, m, pivotTiny) {
			continue
		}
		a := t.gb[:m*m] // A = W⁻¹ without reduction (n = m)
		if fast.red {
			// A = q⁺·W⁻¹ (n×m), q⁺ = qᴴ·diag(λ).
			q, ql := fast.q[f*m*n:(f+1)*m*n], fast.qlam[f*m:f*m+m]
			for c := 0; c < n; c++ {
				for j := 0; j < m; j++ {
					var acc complex128
					for k := 0; k < m; k++ {
						acc += cconj(q[k*n+c]) * complex(ql[k], 0) * t.gb[k*m+j]
					}
					t.gn[c*m+j] = acc
				}
			}
			a = t.gn[:n*m]
		}
		d := s.w[f*m*m : (f+1)*m*m]
		if s.red {
			mulTo(t.gd, d, s.q[f*m*n:(f+1)*m*n], m, m, n)
			d = t.gd[:m*n]
		}
		for i := 0; i < m; i++ {
			row := 0.0
			for j := 0; j < m; j++ {
				var acc complex128
				for c := 0; c < n; c++ {
					acc += d[i*n+c] * a[c*m+j]
				}
				t.gg[j] = abs2(acc)
				row += t.gg[j]
			}
			if !(row > 0) || math.IsInf(row, 0) {
				continue
			}
			for j := 0; j < m; j++ {
				sc[i*m+j] += t.gg[j] / row
			}
		}
	}
	if t.perms != nil {
		best, bestScore := 0, math.Inf(-1)
		for k, p := range t.perms {
			v := 0.0
			for i, j := range p {
				v += sc[i*m+j]
			}
			if v > bestScore {
				best, bestScore = k, v
			}
		}
		copy(t.perm, t.perms[best])
		return
	}
	// Greedy: take the largest remaining agreement, m times.
	clear(t.used)
	for i := range t.perm {
		t.perm[i] = -1
	}
	for range m {
		bi, bj, bv := 0, 0, math.Inf(-1)
		for i := 0; i < m; i++ {
			if t.perm[i] >= 0 {
				continue
			}
			for j := 0; j < m; j++ {
				if !t.used[j] && sc[i*m+j] > bv {
					bi, bj, bv = i, j, sc[i*m+j]
				}
			}
		}
		t.perm[bi] = bj
		t.used[bj] = true
	}
}

// permutations lists the permutations of 0..m−1 for m ≤ 4 (24 at most, so
// align stays cheap); nil above (align is greedy there).
func permutations(m int) [][]int {
	if m > 4 {
		return nil
	}
	id := make([]int, m)
	for i := range id {
		id[i] = i
	}
	var out [][]int
	var rec func(k int)
	rec = func(k int) {
		if k == m {
			out = append(out, append([]int(nil), id...))
			return
		}
		for i := k; i < m; i++ {
			id[k], id[i] = id[i], id[k]
			rec(k + 1)
			id[k], id[i] = id[i], id[k]
		}
	}
	rec(0)
	return out
}

// adopt replaces this separator's learnt state by src's, output i taking
// src's source perm[i], with the memory restarted at trackRestart and
// growing again (Warmup) from there. The channel state (quiet, dead) stays.
func (s *IVA) adopt(src *IVA, perm []int) {
	m := s.m
	mm := m * m
	for f := 0; f < s.bins; f++ {
		for i, j := range perm {
			copy(s.w[f*mm+i*m:f*mm+i*m+m], src.w[f*mm+j*m:f*mm+j*m+m])
			if s.v != nil {
				copy(s.v[(f*m+i)*mm:(f*m+i+1)*mm], src.v[(f*m+j)*mm:(f*m+j+1)*mm])
			}
			if s.vinv != nil {
				copy(s.vinv[(f*m+i)*mm:(f*m+i+1)*mm], src.vinv[(f*m+j)*mm:(f*m+j+1)*mm])
			}
			if s.binv != nil {
				// W' = P·W, so W'⁻¹ = W⁻¹·Pᵀ: columns move.
				for r := 0; r < m; r++ {
					s.binv[f*mm+r*m+i] = src.binv[f*mm+r*m+j]
				}
			}
			s.scale[f*m+i] = src.scale[f*m+j]
		}
	}
	if s.red {
		copy(s.cov, src.cov)
		copy(s.eig, src.eig)
		copy(s.q, src.q)
		copy(s.qlam, src.qlam)
	}
	for i, j := range perm {
		s.alpha[i] = src.alpha[j]
		s.wtOld[i] = src.wtOld[j]
	}
	s.restartMemory()
	s.conv = src.conv
	s.power = src.power
	s.frozen = -1
}

// restartMemory sets the spectra learnt so that the memory restarts at
// trackRestart and grows again from there (forget() gives memory
// 1 + Warmup·(t − subWarm)).
func (s *IVA) restartMemory() {
	mem := math.Max(2, trackRestart.Seconds()*s.cfg.SpectraPerSecond)
	s.t = s.subWarm + int(math.Round((mem-1)/s.cfg.Warmup))
}

// absDet2 is |det a|² of the m×m matrix a, by Gaussian elimination with
// partial pivoting on a copy in scratch (len ≥ m²).
func absDet2(scratch, a []complex128, m int) float64 {
	b := scratch[:m*m]
	copy(b, a[:m*m])
	det := 1.0
	for k := 0; k < m; k++ {
		p, best := k, abs2(b[k*m+k])
		for i := k + 1; i < m; i++ {
			if v := abs2(b[i*m+k]); v > best {
				p, best = i, v
			}
		}
		if best == 0 {
			return 0
		}
		if p != k {
			for j := k; j < m; j++ {
				b[k*m+j], b[p*m+j] = b[p*m+j], b[k*m+j]
			}
		}
		det *= best
		d := cinv(b[k*m+k])
		for i := k + 1; i < m; i++ {
			f := b[i*m+k] * d
			if f == 0 {
				continue
			}
			for j := k + 1; j < m; j++ {
				b[i*m+j] -= f * b[k*m+j]
			}
		}
	}
	return det
}
