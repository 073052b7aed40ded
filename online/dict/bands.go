package dict

import (
	"fmt"
	"math"
)

// bandMap maps the Bins() magnitudes of one STFT spectrum to Bands
// mel-spaced band magnitudes and band masks back to bins. Both directions
// use the same triangular weights, which form a partition of unity over the
// bins: bin f lies between the centres c_j ≤ f < c_{j+1} of two adjacent
// bands and belongs to them with weights a and 1−a,
//
//	a = (c_{j+1} − f)/(c_{j+1} − c_j).
//
// Band magnitude j is the weighted mean of the bin magnitudes under its
// triangle, so it stays additive (a mixture's band is the sum of its sources'
// bands, up to phase) and is on the same scale for wide and narrow bands.
// A band mask is taken back to bins by the same interpolation, so a constant
// band mask gives the same constant at every bin.
type bandMap struct {
	bins, bands int
	centre      []float64 // band centres in (fractional) bins, c_0 = 0, c_{B−1} = bins−1
	lo          []int32   // per bin: lower band j
	a           []float32 // per bin: weight of band j (band j+1 gets 1−a)
	norm        []float32 // per band: 1/Σ_f weight
	near        []int32   // per bin: the band whose centre is nearest
}

// minBandSpacing is the smallest distance between two band centres in bins:
// narrower bands than one bin carry no information of their own.
const minBandSpacing = 1.0

// newBandMap places bands centres between 0 Hz and Nyquist, equally spaced on
// the mel scale m(f) = 2595·log10(1 + f/700) but never closer than one bin,
// for an STFT with the given bins (N/2+1) at the given sample rate.
func newBandMap(rate, bins, bands int) (*bandMap, error) {
	if bins < 2 || bands < 2 || bands > bins {
		return nil, fmt.Errorf("dict: %d bands cannot be placed on %d bins (need 2 ≤ bands ≤ bins)", bands, bins)
	}
	if rate <= 0 {
		return nil, fmt.Errorf("dict: sample rate %d Hz is not positive", rate)
	}
	nyq := float64(rate) / 2
	binHz := nyq / float64(bins-1)
	mel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	imel := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	top := float64(bins - 1)
	c := make([]float64, bands)
	// Greedy: each centre is the next mel step from the previous one, over
	// the bands still to place, but at least minBandSpacing bins on.
	for j := 1; j < bands; j++ {
		left := bands - 1 - (j - 1) // intervals still to place
		mPrev := mel(c[j-1] * binHz)
		step := (mel(nyq) - mPrev) / float64(left)
		next := imel(mPrev+step) / binHz
		c[j] = math.Max(next, c[j-1]+minBandSpacing)
	}
	c[bands-1] = top
	if c[bands-2] >= top {
		return nil, fmt.Errorf("dict: %d bands do not fit on %d bins with one bin spacing", bands, bins)
	}
	m := &bandMap{
		bins: bins, bands: bands, centre: c,
		lo: make([]int32, bins), a: make([]float32, bins), norm: make([]float32, bands),
		near: make([]int32, bins),
	}
	sum := make([]float64, bands)
	j := 0
	for f := 0; f < bins; f++ {
		x := float64(f)
		for j < bands-2 && x >= c[j+1] {
			j++
		}
		a := (c[j+1] - x) / (c[j+1] - c[j])
		a = math.Min(math.Max(a, 0), 1)
		m.lo[f], m.a[f] = int32(j), float32(a)
		m.near[f] = int32(j)
		if a < 0.5 {
			m.near[f] = int32(j + 1)
		}
		sum[j] += a
		sum[j+1] += 1 - a
	}
	for j, s := range sum {
		if s <= 0 {
			return nil, fmt.Errorf("dict: band %d of %d has no bins", j, bands)
		}
		m.norm[j] = float32(1 / s)
	}
	return m, nil
}

// analyze writes the band magnitudes of the bin magnitudes mag to dst.
func (m *bandMap) analyze(dst, mag []float32) {
	dst = dst[:m.bands]
	clear(dst)
	lo, a := m.lo[:len(mag)], m.a[:len(mag)]
	for f, v := range mag {
		j := lo[f]
		w := a[f]
		dst[j] += w * v
		dst[j+1] += (1 - w) * v
	}
	for j, n := range m.norm {
		dst[j] *= n
	}
}

// interp writes the bin values of the band values band to dst.
func (m *bandMap) interp(dst, band []float32) {
	lo, a := m.lo[:len(dst)], m.a[:len(dst)]
	_ = band[m.bands-1]
	for f := range dst {
		j := lo[f]
		w := a[f]
		dst[f] = w*band[j] + (1-w)*band[j+1]
	}
}

// peaks writes, per band, the largest bin magnitude among the bins nearest
// to that band's centre (0 for a band that is nearest to no bin).
func (m *bandMap) peaks(dst, mag []float32) {
	dst = dst[:m.bands]
	clear(dst)
	near := m.near[:len(mag)]
	for f, v := range mag {
		j := near[f]
		if v > dst[j] {
			dst[j] = v
		}
	}
}
