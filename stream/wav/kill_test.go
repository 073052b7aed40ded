package wav

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

const (
	killEnv      = "WAV_TEST_KILL_CHILD" // path the child writes to
	killChannels = 3
	killBlock    = 1000
)

// killCode is the PCM16 code of frame i, channel c in the child's file.
func killCode(i, c int) int16 { return int16(uint16(i*31 + c*7919)) }

// TestKillChild is the child half of TestKillDuringWrite: with the env var
// set it writes blocks forever, flushing after each, until it is killed.
func TestKillChild(t *testing.T) {
	path := os.Getenv(killEnv)
	if path == "" {
		t.Skip("child process of TestKillDuringWrite only")
	}
	w, err := Create(path, 16000, killChannels, PCM16)
	if err != nil {
		t.Fatal(err)
	}
	block := planes(killChannels, killBlock)
	deadline := time.Now().Add(60 * time.Second) // never outlive a lost parent for long
	for i := 0; time.Now().Before(deadline); {
		for k := 0; k < killBlock; k++ {
			for c := range block {
				block[c][k] = float32(killCode(i+k, c)) / 32768
			}
		}
		if _, err := w.WriteFrames(block); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		i += killBlock
	}
	t.Fatal("child was not killed within 60 s")
}

// TestKillDuringWrite re-executes the test binary as a writer, SIGKILLs it
// while it is writing, and checks the file it leaves: a valid WAV with a
// whole number of flushed blocks, every sample as written.
func TestKillDuringWrite(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs a subprocess that can be killed while another process reads its file")
	}
	path := filepath.Join(t.TempDir(), "killed.wav")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child has flushed a fair amount (reading concurrently
	// with the writer), then kill it mid-stream.
	want := int64(20 * killBlock)
	if testing.Short() {
		want = 3 * killBlock
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, err := Open(path); err == nil {
			n := r.Info().Frames
			r.Close()
			if n >= want {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not write %d frames within 30 s", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatal("child exited normally; expected it to be killed")
	}

	info, data, err := ReadFile(path)
	if err != nil {
		t.Fatalf("file left by the killed writer does not parse: %v", err)
	}
	st, _ := os.Stat(path)
	t.Logf("killed writer left %d frames (%d bytes on disk)", info.Frames, st.Size())
	if info.Frames < want || info.Frames%killBlock != 0 {
		t.Fatalf("%d frames: want a whole number of %d-frame blocks, at least %d", info.Frames, killBlock, want)
	}
	for i := range data[0] {
		for c := range data {
			if got, w := data[c][i], float32(killCode(i, c))/32768; got != w {
				t.Fatalf("frame %d ch %d = %v, want %v", i, c, got, w)
			}
		}
	}
}
