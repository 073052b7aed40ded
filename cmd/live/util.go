package main

import (
	"bytes"
	"io"
	"runtime"
)

func numCPU() int { return runtime.NumCPU() }

// bytesReadSeeker reads an embedded file.
func bytesReadSeeker(b []byte) io.ReadSeeker { return bytes.NewReader(b) }
