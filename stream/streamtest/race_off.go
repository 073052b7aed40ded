//go:build !race

package streamtest

// RaceEnabled is true when built with -race. Allocation assertions are
// skipped then: the race runtime allocates on its own.
const RaceEnabled = false
