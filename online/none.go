package online

import "fmt"

// Passthrough is the "none" method: it copies the reference microphone's
// spectrum (mic 0) to its single output unchanged. Through stream.Spectral it
// proves analysis, synthesis and latency compensation end to end: the output
// equals input channel 1, delayed by the stated latency.
type Passthrough struct{}

// Prepare implements stream.Separator.
func (Passthrough) Prepare(mics, bins int) (int, error) {
	if mics < 1 || bins < 1 {
		return 0, fmt.Errorf("online: passthrough needs at least 1 mic and 1 bin, got %d and %d", mics, bins)
	}
	return 1, nil
}

// Separate implements stream.Separator.
func (Passthrough) Separate(dst, mix [][]complex128) { copy(dst[0], mix[0]) }

// Reset implements stream.Separator.
func (Passthrough) Reset() {}

// Err implements stream.Separator.
func (Passthrough) Err() error { return nil }
