package dict

import (
	"testing"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/streamtest"
)

// checkContract is streamtest.CheckProcessor for a dictionary separator in
// a synSize-point stream.Spectral. The masks are computed from the spectrum
// they are applied to, so a changed input frame changes output frames up to
// synSize−1 before the one it reaches at Latency() (all still unplayed: the
// processor stays causal with that latency); MaskReach tells the checker so,
// and it then requires the largest change at exactly Latency(). Every other
// check (block partition with poisoned buffers, Reset, NaN/Inf, zero
// allocations) is exact.
func checkContract(t *testing.T, p stream.Processor, spec stream.Spec) {
	t.Helper()
	streamtest.CheckProcessor(t, p, spec, streamtest.Options{MaskReach: synSize - 1})
}
