//go:build race

package online

// fastRaceEnabled reports a -race build, where the long oracle runs of
// iva_fast_test.go are shortened tenfold.
const fastRaceEnabled = true
