package smoke

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// EnvBin names a prebuilt firebreak binary to test instead of building
// ./cmd/firebreak (for example one built from an older commit).
const EnvBin = "FIREBREAK_SMOKE_BIN"

var (
	// binary is the firebreak executable under test.
	binary string
	// logDir keeps the stderr of every process started; it is deleted
	// after a passing run and kept (and named) after a failing one.
	logDir string
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	// The tests wait on the wall clock far more than they compute, each with
	// processes of its own: run them side by side unless told otherwise.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "firebreak-smoke-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "smoke: temp dir: %v\n", err)
		return 1
	}
	logDir = dir
	if bin := os.Getenv(EnvBin); bin != "" {
		abs, err := filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "smoke: %s=%s: %v\n", EnvBin, bin, err)
			return 1
		}
		binary = abs
		fmt.Fprintf(os.Stderr, "smoke: testing the prebuilt binary %s\n", abs)
	} else {
		binary = filepath.Join(dir, "firebreak")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", binary, "github.com/firebreak/firebreak/cmd/firebreak")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "smoke: go build ./cmd/firebreak: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "smoke: built ./cmd/firebreak in %s\n", time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "smoke: the full stderr of every firebreak process is kept in %s\n", dir)
		return code
	}
	_ = os.RemoveAll(dir)
	return code
}
