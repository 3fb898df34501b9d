package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// irregularStart is a start with a sub-second offset: no rule may depend on
// a clock that starts on a whole hour (or second, or millisecond).
const irregularStart = 123456789 * time.Nanosecond

// transcriptStarts are the starts every transcript runs at, with the same
// expected text: the whole hour, a fixed irregular offset, and a random
// offset below a second, named in the subtest so a failure can be replayed.
func transcriptStarts() []time.Duration {
	return []time.Duration{0, irregularStart, time.Duration(1 + rand.Int64N(int64(time.Second)-1))}
}

// TestTranscripts runs every file in testdata/transcripts through the
// console against a real Redis. A transcript reads like a chat: lines after
// "> " are typed (or directives), everything else is what Firebreak printed.
// The first line may set the locale: "# locale: zh-CN". Each file runs at
// every one of transcriptStarts and must reproduce its file exactly each
// time; `go test ./cmd/firebreak -run Transcripts -update` rewrites them from
// the whole-hour run (read the diff before committing it).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts found: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		for _, offset := range transcriptStarts() {
			if *update && offset != 0 {
				continue // rewritten from the whole-hour run alone
			}
			t.Run(fmt.Sprintf("%s/start+%dns", name, offset), func(t *testing.T) {
				t.Parallel()
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				got := runTranscript(t, string(want), transcriptStart.Add(offset))
				if *update {
					if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				if got != string(want) {
					t.Errorf("transcript %s differs when started at %s (+%dns; run with -update to see the new output as a diff):\n%s",
						file, transcriptStart.Add(offset).Format(time.RFC3339Nano), offset, diff(string(want), got))
				}
			})
		}
	}
}

// runTranscript feeds the input lines of a transcript to a fresh console
// whose clock starts at start, and returns everything it printed.
func runTranscript(tb testing.TB, transcript string, start time.Time) string {
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
	a := mustAppAt(tb, cfg, start)
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
	return mustAppAt(tb, cfg, transcriptStart)
}

// mustAppAt is mustApp with the manual clock at start.
func mustAppAt(tb testing.TB, cfg Config, start time.Time) *app {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, log, wiring{
		clock: workflow.NewManualClock(start), prefix: redistest.Prefix(tb)})
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
