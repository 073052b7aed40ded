// Package shareddata finds the project's shared test data: the folder
// ../shared/data beside the repository (DEVELOPERS: recordings, dev
// mixtures with their true sources, mir_eval test vectors, training audio,
// each with its SOURCES.md). CI lays it out in the same place.
//
// Tests call Path; when the folder is absent (a bare checkout) the test is
// skipped with the reason, never failed and never silently passed.
//
// # Real-time contract, concurrency
//
// Not applicable: test support, called from test goroutines.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns ../shared/data/elem... relative to the module root (the
// nearest folder above the working directory holding go.mod), or skips tb
// when it does not exist.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("no go.mod above the test directory; cannot locate ../shared/data")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "data"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test data %s is absent: %v", p, err)
	}
	return p
}
