package redistest

import (
	"os/exec"
	"testing"
	"time"
)

// TestStartServer covers the last resort of URL: a redis-server of its own,
// which stops when the guard's stdin closes (as it does when the test
// process ends).
func TestStartServer(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not on PATH: %v", err)
	}
	guard := keepAlive
	t.Cleanup(func() { keepAlive = guard })

	url, err := startServer(bin)
	if err != nil {
		t.Fatalf("startServer: %v", err)
	}
	if err := ping(url, time.Second); err != nil {
		t.Fatalf("ping %s: got %v, want nil", url, err)
	}
	if err := keepAlive.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ping(url, 100*time.Millisecond) == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("%s still answers 5s after its guard was closed", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
