//go:build !race

package stream

// raceEnabled: allocation assertions are skipped under -race.
const raceEnabled = false
