package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func TestConfigListsRedisModeAndTLS(t *testing.T) {
	_, out, _ := mustRun(t, "", "config")
	for _, name := range []string{"REDIS_MODE", "REDIS_TLS_CA", "REDIS_TLS_CERT", "REDIS_TLS_KEY"} {
		if !strings.Contains(out, "FIREBREAK_"+name) {
			t.Errorf("config output lacks FIREBREAK_%s", name)
		}
	}
}

// setRedisEnv sets the Redis variables to env, and the others of them to "".
func setRedisEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range []string{"REDIS_URL", "REDIS_MODE", "REDIS_TLS_CA", "REDIS_TLS_CERT", "REDIS_TLS_KEY"} {
		t.Setenv("FIREBREAK_"+name, env[name])
		if _, set := env[name]; !set {
			_ = os.Unsetenv("FIREBREAK_" + name) // t.Setenv restores it
		}
	}
}

func TestLoadConfigChecksRedis(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string // "" for no error
	}{
		{"default", map[string]string{}, ""},
		{"cluster", map[string]string{"REDIS_URL": "redis://h1:7000?addr=h2:7001", "REDIS_MODE": "cluster"}, ""},
		{"empty mode is single", map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_MODE": ""}, ""},
		{"unknown mode", map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_MODE": "clustre"},
			`FIREBREAK_REDIS_MODE must be single, cluster or sentinel, not "clustre"`},
		{"mode without URL", map[string]string{"REDIS_MODE": "sentinel"},
			"FIREBREAK_REDIS_MODE=sentinel is set, but FIREBREAK_REDIS_URL is not"},
		{"TLS without URL", map[string]string{"REDIS_TLS_CA": "/etc/ca.pem"},
			"FIREBREAK_REDIS_TLS_CA is set, but FIREBREAK_REDIS_URL is not"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setRedisEnv(t, tt.env)
			_, err := loadConfig()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDialRedisNamesTheVariable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"CA with redis://", Config{RedisURL: "redis://127.0.0.1:1", RedisTLSCA: missing},
			"FIREBREAK_REDIS_TLS_CA: is set, but the URL starts with redis://"},
		{"CA unreadable", Config{RedisURL: "rediss://127.0.0.1:1", RedisTLSCA: missing}, "FIREBREAK_REDIS_TLS_CA: read the CA file"},
		{"key without certificate", Config{RedisURL: "rediss://127.0.0.1:1", RedisTLSKey: missing}, "FIREBREAK_REDIS_TLS_KEY: "},
		{"sentinel without master", Config{RedisURL: "redis://127.0.0.1:1", RedisMode: "sentinel"}, "FIREBREAK_REDIS_URL: redis://127.0.0.1:1 names no master"},
		{"unreadable URL", Config{RedisURL: "redis://:xx/word@127.0.0.1:1"}, "FIREBREAK_REDIS_URL: redis://(the rest cannot be shown)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialRedis(context.Background(), tt.cfg, tt.cfg.RedisURL)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

// TestStoreInitHidesTheSecret runs `firebreak store init` on Redis URLs
// whose secrets break the URL apart, or that cannot be reached: what it
// prints shows no three characters in a row of the secret.
func TestStoreInitHidesTheSecret(t *testing.T) {
	for _, tt := range []struct {
		name, url, mode, secret string
	}{
		{"unencoded slash", "redis://:xx/word@127.0.0.1:1/0", "single", "xx/word"},
		{"unencoded at and slash", "redis://:Kq@ss/wXrd@127.0.0.1:1/0", "single", "Kq@ss/wXrd"},
		{"unreachable", "redis://:Zq8vK2xw@127.0.0.1:1/0", "single", "Zq8vK2xw"},
		{"cluster", "redis://:Zq8vK2xw@127.0.0.1:1?addr=127.0.0.1:2", "cluster", "Zq8vK2xw"},
		{"sentinel, unencoded ampersand", "redis://127.0.0.1:1?master_name=m&password=Wq7&zPv4k", "sentinel", "Wq7&zPv4k"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setRedisEnv(t, map[string]string{"REDIS_URL": tt.url, "REDIS_MODE": tt.mode})
			code, out, errOut := mustRun(t, "", "store", "init")
			if code == 0 {
				t.Fatalf("store init: got exit 0, want a failure (nothing listens)")
			}
			for _, piece := range windows(tt.secret) {
				if strings.Contains(out+errOut, piece) {
					t.Errorf("store init printed %q of the secret:\n%s%s", piece, out, errOut)
				}
			}
		})
	}
}

// windows returns the pieces of three characters in a row of s.
func windows(s string) []string {
	var out []string
	for i := 0; i+3 <= len(s); i++ {
		out = append(out, s[i:i+3])
	}
	return out
}

// TestServeOnCluster builds the app as serve does with
// FIREBREAK_REDIS_MODE=cluster on a 3-master cluster: an incident opens,
// and /readyz is 200.
func TestServeOnCluster(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	cfg := Config{RedisURL: cluster.URL(), RedisMode: "cluster", TimeScale: 1}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, log, wiring{prefix: "fbt:" + strings.ReplaceAll(t.Name(), "/", "-") + time.Now().Format("150405.000000"),
		clock: workflow.NewManualClock(transcriptStart.Add(37*time.Minute + 13*time.Second))})
	if err != nil {
		t.Fatalf("newApp on a cluster: %v", err)
	}
	t.Cleanup(a.Close)
	r := a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformWeb, Actor: "chen", Conversation: "web",
		Text: `/incident open "Photos of a flooded underpass" level:major category:other`})
	if r.Failed || !strings.Contains(r.Text+cardTitle(r), "YQ-1") {
		t.Fatalf("open on a cluster: got %+v, want YQ-1 opened", r)
	}
	mux := http.NewServeMux()
	web.Health(mux, readiness{a}, http.NotFoundHandler(), log)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /readyz on a cluster: got %d %q, want 200", rec.Code, rec.Body)
	}
}

// TestLoadConfigChecksThePublicURL: PUBLIC_URL is an http(s) base URL,
// kept without its trailing slash; anything else is refused without
// repeating the value (it might hold a password).
func TestLoadConfigChecksThePublicURL(t *testing.T) {
	for _, tt := range []struct {
		value, want, wantErr string
	}{
		{"", "", ""},
		{"https://fb.example.org/", "https://fb.example.org", ""},
		{"http://10.0.0.5:8080/firebreak", "http://10.0.0.5:8080/firebreak", ""},
		{"fb.example.org", "", "needs https://"},
		{"ftp://fb.example.org", "", "needs https://"},
		{"https://admin:s3cr3t-pw@fb.example.org", "", "must not hold a user or password"},
		{"https://fb.example.org/?x=1", "", "must not have a query"},
		{"https://fb.example.org/#top", "", "must not have a query"},
		{"https://fb.example.org/%zz", "", "does not parse"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			setRedisEnv(t, nil)
			t.Setenv("FIREBREAK_PUBLIC_URL", tt.value)
			c, err := loadConfig()
			switch {
			case tt.wantErr == "" && (err != nil || c.PublicURL != tt.want):
				t.Errorf("got %q, %v, want %q", c.PublicURL, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want %q", err, tt.wantErr)
			case err != nil && tt.value != "" && strings.Contains(err.Error(), tt.value):
				t.Errorf("the error repeats the value: %v", err)
			}
		})
	}
}
