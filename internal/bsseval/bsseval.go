package bsseval

import (
	"errors"
	"fmt"
	"math"
)

// FilterLen is the length of the time-invariant distortion filters allowed
// by the BSS Eval v3 decomposition (mir_eval's hard-coded 512 taps).
const FilterLen = 512

// MaxPermSources is the largest number of sources for which Sources searches
// all K! pairings (10! ≈ 3.6 million). Use SourcesPerm beyond that.
const MaxPermSources = 10

// maxSources is mir_eval.separation.MAX_SOURCES.
const maxSources = 100

// Result holds BSS Eval metrics in dB, indexed by reference source j.
type Result struct {
	SDR, SIR, SAR []float64
	// Perm[j] is the index of the estimate paired with reference j, as
	// mir_eval's "Source permutation" (estimated source perm[j] corresponds
	// to true source j). Nil for a silent frame of Framewise.
	Perm []int
}

// Sources computes BSS Eval v3 SDR, SIR and SAR for every reference source,
// pairing references and estimates with the permutation that maximises the
// mean SIR, exactly as mir_eval.separation.bss_eval_sources: all K!
// pairings are tried in lexicographic order (itertools.permutations) and
// the first one with the largest mean wins.
//
// refs and ests are K signals each, all of the same length. It returns an
// error for empty input, mismatched counts or lengths, non-finite samples,
// an all-zero reference or estimate (mir_eval raises for these), or more
// than MaxPermSources sources.
func Sources(refs, ests [][]float64) (Result, error) {
	if err := validate(refs, ests); err != nil {
		return Result{}, err
	}
	k := len(refs)
	if k > MaxPermSources {
		return Result{}, fmt.Errorf("bsseval: %d sources: the permutation search is limited to %d (K! pairings); use SourcesPerm", k, MaxPermSources)
	}
	sdr, sir, sar := pairCriteria(refs, ests, FilterLen)
	perm := bestPerm(sir)
	return pick(sdr, sir, sar, perm), nil
}

// pairCriteria returns the criteria for every (estimate i, reference j)
// pair, indexed [i][j] like mir_eval's sdr[jest, jtrue].
func pairCriteria(refs, ests [][]float64, flen int) (sdr, sir, sar [][]float64) {
	k := len(refs)
	p := newProjector(refs, flen)
	need := make([][]bool, k)
	for i := range need {
		need[i] = make([]bool, k)
		for j := range need[i] {
			need[i][j] = true
		}
	}
	dec := p.decompose(ests, need)
	sdr, sir, sar = square(k), square(k), square(k)
	for i := range k {
		for j := range k {
			sdr[i][j], sir[i][j], sar[i][j] = criteria(ests[i], dec[i].pOne[j], dec[i].pAll)
		}
	}
	return sdr, sir, sar
}

// SourcesPerm computes the metrics for a fixed pairing: reference j with
// estimate perm[j]. A nil perm means the identity (mir_eval's
// compute_permutation=False). Use it to score a mixture baseline, or to
// keep the pairing found by Sources. Errors as Sources, plus an invalid perm.
func SourcesPerm(refs, ests [][]float64, perm []int) (Result, error) {
	if err := validate(refs, ests); err != nil {
		return Result{}, err
	}
	k := len(refs)
	perm, err := checkPerm(perm, k)
	if err != nil {
		return Result{}, err
	}
	return sourcesPerm(refs, ests, perm, FilterLen), nil
}

// sourcesPerm is SourcesPerm on validated input.
func sourcesPerm(refs, ests [][]float64, perm []int, flen int) Result {
	k := len(refs)
	p := newProjector(refs, flen)
	need := make([][]bool, k)
	for i := range need {
		need[i] = make([]bool, k)
	}
	for j, i := range perm {
		need[i][j] = true
	}
	dec := p.decompose(ests, need)
	r := Result{
		SDR: make([]float64, k), SIR: make([]float64, k), SAR: make([]float64, k),
		Perm: perm,
	}
	for j, i := range perm {
		r.SDR[j], r.SIR[j], r.SAR[j] = criteria(ests[i], dec[i].pOne[j], dec[i].pAll)
	}
	return r
}

// Framewise computes SourcesPerm on successive windows of win samples
// advanced by hop samples, as mir_eval.separation.bss_eval_sources_framewise
// (with compute_permutation=False when perm is nil; with a non-nil perm,
// that fixed pairing is used in every window).
//
// There are floor((n - win + hop) / hop) windows, all of full length; a
// trailing partial window is dropped. If that count is below 2, a single
// Result for the whole signals is returned, as mir_eval does. A window in
// which any reference or estimate is all zeros gets NaN metrics and a nil
// Perm (mir_eval: nan), instead of an error.
func Framewise(refs, ests [][]float64, win, hop int, perm []int) ([]Result, error) {
	if err := validate(refs, ests); err != nil {
		return nil, err
	}
	if win <= 0 || hop <= 0 {
		return nil, fmt.Errorf("bsseval: window %d and hop %d must be positive", win, hop)
	}
	k, n := len(refs), len(refs[0])
	perm, err := checkPerm(perm, k)
	if err != nil {
		return nil, err
	}
	nwin := 0
	if n-win+hop >= 0 {
		nwin = (n - win + hop) / hop
	}
	if nwin < 2 {
		return []Result{sourcesPerm(refs, ests, perm, FilterLen)}, nil
	}
	out := make([]Result, nwin)
	rw := make([][]float64, k)
	ew := make([][]float64, k)
	for w := range nwin {
		lo := w * hop
		silent := false
		for j := range k {
			rw[j] = refs[j][lo : lo+win]
			ew[j] = ests[j][lo : lo+win]
			silent = silent || allZero(rw[j]) || allZero(ew[j])
		}
		if silent {
			nan := func() []float64 {
				s := make([]float64, k)
				for i := range s {
					s[i] = math.NaN()
				}
				return s
			}
			out[w] = Result{SDR: nan(), SIR: nan(), SAR: nan()}
			continue
		}
		out[w] = sourcesPerm(rw, ew, append([]int(nil), perm...), FilterLen)
	}
	return out, nil
}

// SISDR returns the scale-invariant SDR of est against ref in dB, with no
// mean removal:
//
//	α = <est, ref> / <ref, ref>,  SI-SDR = 10·log10(‖α·ref‖² / ‖α·ref − est‖²).
//
// It is +Inf when the residual α·ref − est is exactly zero, and NaN when
// ref or est is all zeros. It panics if the lengths differ (a programming
// error).
func SISDR(ref, est []float64) float64 {
	if len(ref) != len(est) {
		panic(fmt.Sprintf("bsseval: SISDR length mismatch: ref %d, est %d", len(ref), len(est)))
	}
	var er, rr float64
	for t, r := range ref {
		er += est[t] * r
		rr += r * r
	}
	alpha := er / rr
	var num, den float64
	for t, r := range ref {
		s := alpha * r
		num += s * s
		e := s - est[t]
		den += e * e
	}
	return 10 * math.Log10(num/den)
}

// criteria is mir_eval's _bss_source_crit for one (estimate, reference)
// pair, written with the projections: s_filt = pOne, e_interf = pAll − pOne,
// e_artif = est − pAll, e_interf + e_artif = est − pOne.
func criteria(est, pOne, pAll []float64) (sdr, sir, sar float64) {
	var sFilt, interf, distort, all, artif float64
	n := len(est)
	for t := range pOne {
		o, a := pOne[t], pAll[t]
		var e float64
		if t < n {
			e = est[t]
		}
		sFilt += o * o
		d := a - o
		interf += d * d
		d = e - o
		distort += d * d
		all += a * a
		d = e - a
		artif += d * d
	}
	return safeDB(sFilt, distort), safeDB(sFilt, interf), safeDB(all, artif)
}

// safeDB is mir_eval's _safe_db: +Inf for a zero denominator.
func safeDB(num, den float64) float64 {
	if den == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(num/den)
}

// bestPerm returns the pairing (perm[j] = estimate for reference j) that
// maximises the mean of sir[perm[j]][j], replicating mir_eval: candidates in
// itertools.permutations (lexicographic) order, choice as np.argmax (the
// first maximum; a NaN mean wins as soon as it is seen).
func bestPerm(sir [][]float64) []int {
	k := len(sir)
	perm := make([]int, k)
	for i := range perm {
		perm[i] = i
	}
	best := append([]int(nil), perm...)
	vals := make([]float64, k)
	bestMean := math.Inf(-1)
	first := true
	for {
		for j, i := range perm {
			vals[j] = sir[i][j]
		}
		m := mean(vals)
		// np.argmax: take the candidate unless it is <= the current best.
		if first || !(m <= bestMean) {
			bestMean = m
			copy(best, perm)
			if math.IsNaN(m) {
				break
			}
		}
		first = false
		if !nextPerm(perm) {
			break
		}
	}
	return best
}

// nextPerm advances perm to the next permutation in lexicographic order and
// reports false after the last one.
func nextPerm(perm []int) bool {
	i := len(perm) - 2
	for i >= 0 && perm[i] >= perm[i+1] {
		i--
	}
	if i < 0 {
		return false
	}
	j := len(perm) - 1
	for perm[j] <= perm[i] {
		j--
	}
	perm[i], perm[j] = perm[j], perm[i]
	for a, b := i+1, len(perm)-1; a < b; a, b = a+1, b-1 {
		perm[a], perm[b] = perm[b], perm[a]
	}
	return true
}

// mean is the arithmetic mean, summed left to right. np.mean rounds
// differently in the last bit for some K (pairwise summation), which can
// only matter for two pairings whose mean SIRs agree to within an ulp.
func mean(a []float64) float64 {
	var s float64
	for _, v := range a {
		s += v
	}
	return s / float64(len(a))
}

// pick gathers the criteria of the chosen pairing, indexed by reference.
func pick(sdr, sir, sar [][]float64, perm []int) Result {
	k := len(perm)
	r := Result{
		SDR: make([]float64, k), SIR: make([]float64, k), SAR: make([]float64, k),
		Perm: perm,
	}
	for j, i := range perm {
		r.SDR[j], r.SIR[j], r.SAR[j] = sdr[i][j], sir[i][j], sar[i][j]
	}
	return r
}

func square(k int) [][]float64 {
	m := make([][]float64, k)
	for i := range m {
		m[i] = make([]float64, k)
	}
	return m
}

// checkPerm validates perm (nil = identity) and returns a private copy.
func checkPerm(perm []int, k int) ([]int, error) {
	out := make([]int, k)
	if perm == nil {
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	if len(perm) != k {
		return nil, fmt.Errorf("bsseval: permutation has %d entries for %d sources", len(perm), k)
	}
	seen := make([]bool, k)
	for j, i := range perm {
		if i < 0 || i >= k || seen[i] {
			return nil, fmt.Errorf("bsseval: %v is not a permutation of 0..%d (entry %d)", perm, k-1, j)
		}
		seen[i] = true
		out[j] = i
	}
	return out, nil
}

var errEmpty = errors.New("bsseval: no sources or no samples")

// validate mirrors mir_eval.separation.validate, returning errors where
// mir_eval raises (or warns and returns empty arrays, for empty input).
func validate(refs, ests [][]float64) error {
	if len(refs) == 0 || len(ests) == 0 {
		return errEmpty
	}
	if len(refs) != len(ests) {
		return fmt.Errorf("bsseval: %d reference sources but %d estimates", len(refs), len(ests))
	}
	if len(refs) > maxSources {
		return fmt.Errorf("bsseval: %d sources, more than the %d allowed", len(refs), maxSources)
	}
	n := len(refs[0])
	if n == 0 {
		return errEmpty
	}
	for _, set := range []struct {
		name string
		s    [][]float64
	}{{"reference", refs}, {"estimate", ests}} {
		for j, x := range set.s {
			if len(x) != n {
				return fmt.Errorf("bsseval: %s %d has %d samples, reference 0 has %d", set.name, j, len(x), n)
			}
			for t, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("bsseval: %s %d has a non-finite sample (%v) at index %d", set.name, j, v, t)
				}
			}
			if allZero(x) {
				return fmt.Errorf("bsseval: %s %d is all zeros (silent); BSS Eval is undefined for silent sources", set.name, j)
			}
		}
	}
	return nil
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}
