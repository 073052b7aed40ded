package dict

import (
	_ "embed"
	"sync"
)

// defaultModel is the model shipped in the binary, trained by `live train`
// on /work/shared/data/train (speech, music, noise); the command that
// rebuilds it bit for bit is in the package documentation.
//
//go:embed default.lsd
var defaultModel []byte

var (
	defaultOnce sync.Once
	defaultM    *Model
	defaultErr  error
)

// Default returns the embedded default model (speech, music, noise),
// parsed once. The model is immutable and may be shared.
func Default() (*Model, error) {
	defaultOnce.Do(func() { defaultM, defaultErr = Parse(defaultModel, "embedded default model") })
	return defaultM, defaultErr
}

// DefaultBytes returns the embedded model file's bytes (a copy), e.g. to
// compare against a rebuilt model.
func DefaultBytes() []byte { return append([]byte(nil), defaultModel...) }
