package online

import (
	"slices"
	"testing"
)

// A channel that goes quiet for a while is not learnt from: W does not
// move, the spectra are counted as Quiet, and separation carries on when the
// channel is back.
func TestIVAQuietChannelFreezes(t *testing.T) {
	const bins, spectra = 64, 3000
	s := newSynth(5, 2, 2, bins, spectra)
	sep := newTestIVA(t, IVAConfig{}, 2, bins)
	s.run(sep, 0, 2000)
	before := slices.Clone(sep.w)
	for k := 2000; k < 2100; k++ {
		clear(s.mix[k][1])
	}
	// The channel is back at 2100, but the next WindowHops (4) spectra's
	// analysis windows would still reach into the silence: not learnt.
	s.run(sep, 2000, 2104)
	if !slices.Equal(before, sep.w) {
		t.Error("W changed while channel 2 was silent or just back")
	}
	if ev := sep.Events(); ev.Quiet != 104 || ev.Excluded != 0 {
		t.Errorf("events %+v, want Quiet 104 and nothing excluded (2 mics, 2 sources)", ev)
	}
	s.run(sep, 2104, 2105)
	if slices.Equal(before, sep.w) {
		t.Error("W did not learn once the quiet stretch was out of the window")
	}
	s.run(sep, 2105, spectra)
	s.checkSeparated(t, sep, sepLimits{medianDB: -30, p90DB: -20, medianRel: 0.03})
	if sep.Err() != nil {
		t.Errorf("Err() = %v: a quiet channel is not a numerical error", sep.Err())
	}
}

// With more mics than sources, a channel quiet for longer than deadAfter
// is excluded and the others go on learning and separating; it stays out
// when it comes back.
func TestIVADeadChannelExcluded(t *testing.T) {
	const bins = 64
	s := newSynth(6, 4, 2, bins, 4500)
	sep := newTestIVA(t, IVAConfig{Sources: 2}, 4, bins)
	s.run(sep, 0, 2000)
	for k := 2000; k < 4000; k++ {
		clear(s.mix[k][3])
	}
	s.run(sep, 2000, 4000)
	ev := sep.Events()
	if ev.Excluded != 1 {
		t.Fatalf("Excluded = %d after 2000 spectra of a dead channel, want 1", ev.Excluded)
	}
	// Excluded after deadAfter: the quiet spectra before that are not learnt.
	if want := int64(deadAfter * sep.cfg.SpectraPerSecond); ev.Quiet != want-1 && ev.Quiet != want {
		t.Errorf("Quiet = %d, want about %d (the spectra before exclusion)", ev.Quiet, want)
	}
	// The demixing must not use the dead channel, and must separate.
	for f := 0; f < bins; f++ {
		d := sep.demixingTo(make([]complex128, 2*4), f)
		row := abs2(d[0]) + abs2(d[1]) + abs2(d[2]) + abs2(d[4]) + abs2(d[5]) + abs2(d[6])
		if abs2(d[3]) > 1e-20*row || abs2(d[7]) > 1e-20*row {
			t.Fatalf("bin %d: demixing still weights the dead channel: %v %v", f, d[3], d[7])
		}
	}
	s.checkSeparated(t, sep, sepLimits{medianDB: -30, p90DB: -20, medianRel: 0.03})
	s.run(sep, 4000, 4500)
	if ev := sep.Events(); ev.Excluded != 1 {
		t.Errorf("Excluded = %d after the channel came back, want 1 (until Reset)", ev.Excluded)
	}
	s.checkSeparated(t, sep, sepLimits{medianDB: -30, p90DB: -20, medianRel: 0.03})
	sep.Reset()
	if ev := sep.Events(); ev.Excluded != 0 {
		t.Errorf("Excluded = %d after Reset", ev.Excluded)
	}
	if sep.Err() != nil {
		t.Errorf("Err() = %v", sep.Err())
	}
}

// HoldLearning (Spectral calls it for clipped input) keeps W for exactly
// the next spectrum and counts it.
func TestIVAHoldLearning(t *testing.T) {
	const bins = 32
	s := newSynth(7, 2, 2, bins, 600)
	sep := newTestIVA(t, IVAConfig{}, 2, bins)
	s.run(sep, 0, 500)
	before := slices.Clone(sep.w)
	dst := alloc2c(2, bins)
	for k := 500; k < 510; k++ {
		sep.HoldLearning()
		sep.Separate(dst, s.mix[k])
	}
	if !slices.Equal(before, sep.w) {
		t.Error("W changed on held spectra")
	}
	sep.Separate(dst, s.mix[510])
	if slices.Equal(before, sep.w) {
		t.Error("W did not change on the spectrum after the hold")
	}
	if ev := sep.Events(); ev.Held != 10 || sep.Err() != nil {
		t.Errorf("events %+v, Err %v; want Held 10 and no error", ev, sep.Err())
	}
}
