package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStartServer covers the redis-server of its own that URL starts when
// no Redis answers: it stops when the guard's stdin closes (as it does when
// the test process ends). Outside CI a machine without redis-server skips
// it; in CI (.ci/run installs redis-server) its absence fails it.
func TestStartServer(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if ci := os.Getenv(EnvCI); ci != "" {
			t.Fatalf("%s=%s and redis-server is not on PATH: %v (apt-get install redis-server; .ci/run does it)", EnvCI, ci, err)
		}
		t.Skipf("redis-server is not on PATH (%v): the test of starting one runs in CI", err)
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

// deadURL is the URL of a port on which nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// TestFindWithoutRedis covers a machine with no Redis at all: outside CI
// the embedded Redis, told once; in CI a failure that says how to get one.
func TestFindWithoutRedis(t *testing.T) {
	noServer := func(string) (string, error) { return "", exec.ErrNotFound }
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			var notice strings.Builder
			env := map[string]string{EnvCI: ci}
			f := finder{getenv: func(k string) string { return env[k] }, localURL: deadURL(t), lookPath: noServer, notice: &notice}
			url, isEmbedded, err := f.find()
			if ci != "" {
				if err == nil || url != "" || isEmbedded {
					t.Fatalf("find: got %q, embedded %v, %v; want an error", url, isEmbedded, err)
				}
				for _, want := range []string{"redis-server is not on PATH", "CI=true", "FIREBREAK_TEST_REDIS_URL=redis://", "docker run"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("find error %q: want it to contain %q", err, want)
					}
				}
				if notice.Len() != 0 {
					t.Errorf("notice: got %q, want none", notice.String())
				}
				return
			}
			if err != nil || !isEmbedded {
				t.Fatalf("find: got %q, embedded %v, %v; want the embedded Redis", url, isEmbedded, err)
			}
			if err := ping(url, time.Second); err != nil {
				t.Errorf("ping the embedded Redis %s: %v", url, err)
			}
			got := notice.String()
			for _, want := range []string{"embedded in-memory Redis", "With CI set they fail", "redis-server is not on PATH"} {
				if !strings.Contains(got, want) {
					t.Errorf("notice %q: want it to contain %q", got, want)
				}
			}
		})
	}
}

// TestFindPrefersARealRedis: FIREBREAK_TEST_REDIS_URL first, then the local
// Redis, never the embedded one while either answers.
func TestFindPrefersARealRedis(t *testing.T) {
	var notice strings.Builder
	embeddedURL, isEmbedded, err := finder{getenv: func(string) string { return "" }, localURL: deadURL(t),
		lookPath: func(string) (string, error) { return "", exec.ErrNotFound }, notice: &notice}.find()
	if err != nil || !isEmbedded {
		t.Fatalf("find: got %q, embedded %v, %v; want the embedded Redis to stand in for a real one", embeddedURL, isEmbedded, err)
	}
	lookPath := func(string) (string, error) {
		t.Error("redis-server looked up while a Redis answers")
		return "", exec.ErrNotFound
	}

	for _, tt := range []struct {
		name        string
		env, local  string
		want        string
		wantErrText string
	}{
		{"the local Redis", "", embeddedURL, embeddedURL, ""},
		{"FIREBREAK_TEST_REDIS_URL over the local Redis", embeddedURL, deadURL(t), embeddedURL, ""},
		{"FIREBREAK_TEST_REDIS_URL that does not answer", deadURL(t), embeddedURL, "", "does not answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var notice strings.Builder
			env := map[string]string{EnvURL: tt.env}
			url, isEmbedded, err := finder{getenv: func(k string) string { return env[k] }, localURL: tt.local,
				lookPath: lookPath, notice: &notice}.find()
			if tt.wantErrText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("find: got %q, %v; want an error saying %q", url, err, tt.wantErrText)
				}
				return
			}
			if err != nil || url != tt.want || isEmbedded || notice.Len() != 0 {
				t.Errorf("find: got %q, embedded %v, %v, notice %q; want %q, not embedded, no notice", url, isEmbedded, err, notice.String(), tt.want)
			}
		})
	}
}

// TestURLHintsOnce: with no Redis, the first failing test gets the whole
// story, the others one line.
func TestURLHintsOnce(t *testing.T) {
	finds := 0
	s := &source{find: func() (string, bool, error) {
		finds++
		return "", false, errors.New("no Redis for the tests: the long story\n" + howTo)
	}}
	var got []string
	for range 3 {
		r := &recorder{TB: t}
		func() {
			defer func() { _ = recover() }()
			s.get(r)
		}()
		got = append(got, r.msg)
	}
	if finds != 1 {
		t.Errorf("looked for a Redis %d times, want once", finds)
	}
	if !strings.Contains(got[0], howTo) {
		t.Errorf("first failure: got %q, want the hint", got[0])
	}
	for i, m := range got[1:] {
		if m == "" || strings.Contains(m, "docker") || strings.Contains(m, "\n") {
			t.Errorf("failure %d: got %q, want one short line", i+2, m)
		}
	}
}

// recorder is a testing.TB whose Fatal records the message and stops the
// calling function (with a panic the test recovers from).
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	panic(r)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}
