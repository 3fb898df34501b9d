package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

var update = flag.Bool("update", false, "rewrite the transcript files with the output they produce")

// transcriptStart is the fixed moment every transcript starts at: Monday
// 2 March 2026, 09:00 in Shanghai (the demo roster's timezone).
var transcriptStart = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// TestTranscripts runs every file in testdata/transcripts through the
// console against a real Redis. A transcript reads like a chat: lines after
// "> " are typed (or directives), everything else is what Firebreak printed.
// The first line may set the locale: "# locale: zh-CN". Each run must
// reproduce its file exactly; `go test ./cmd/firebreak -run Transcripts
// -update` rewrites them (read the diff before committing it).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts found: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runTranscript(t, string(want))
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("transcript %s differs (run with -update to see the new output as a diff):\n%s", file, diff(string(want), got))
			}
		})
	}
}

// runTranscript feeds the input lines of a transcript to a fresh console and
// returns everything it printed.
func runTranscript(tb testing.TB, transcript string) string {
	tb.Helper()
	var input strings.Builder
	cfg := Config{RedisURL: redistest.URL(tb), TimeScale: 1}
	for _, line := range strings.Split(transcript, "\n") {
		switch {
		case strings.HasPrefix(line, "> "):
			input.WriteString(strings.TrimPrefix(line, "> ") + "\n")
		case strings.HasPrefix(line, "#"), strings.TrimSpace(line) == "":
			if v, ok := strings.CutPrefix(line, "# locale: "); ok {
				cfg.Locale = strings.TrimSpace(v)
			}
			input.WriteString(line + "\n")
		}
	}
	a := mustApp(tb, cfg)
	c := newConsole(a, a.clock.(*workflow.ManualClock))
	var out bytes.Buffer
	if err := c.Run(context.Background(), "chen", strings.NewReader(strings.TrimSuffix(input.String(), "\n")), &out); err != nil {
		tb.Fatalf("console: %v", err)
	}
	return out.String()
}

// mustApp wires a whole app on the test Redis with a unique key prefix and a
// manual clock at transcriptStart.
func mustApp(tb testing.TB, cfg Config) *app {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, log, wiring{
		clock: workflow.NewManualClock(transcriptStart), prefix: redistest.Prefix(tb)})
	if err != nil {
		tb.Fatalf("newApp: %v", err)
	}
	tb.Cleanup(a.Close)
	return a
}

// testWriter sends log lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// diff shows the first lines where want and got part.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			end := min(i+8, len(g))
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n--- got from there:\n" + strings.Join(g[i:end], "\n")
		}
	}
	return "(no difference)"
}
