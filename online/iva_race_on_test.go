//go:build race

package online_test

// ivaRaceEnabled reports a -race build: the race detector slows the BSS
// Eval of full recordings about tenfold, so TestIVADevMixtures skips then.
const ivaRaceEnabled = true
