package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func mustRun(tb testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestConfigListsEveryVariable(t *testing.T) {
	code, out, _ := mustRun(t, "", "config")
	if code != 0 {
		t.Fatalf("got exit %d, want 0", code)
	}
	for _, name := range []string{"HTTP_ADDR", "REDIS_URL", "ROSTER", "LOCALE", "TIMEZONE", "TIME_SCALE",
		"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "TELEGRAM_TOKEN",
		"TELEGRAM_MODE", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_ENDPOINT"} {
		if !strings.Contains(out, "FIREBREAK_"+name) {
			t.Errorf("config output lacks FIREBREAK_%s", name)
		}
	}
}

func TestRosterCheck(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(bad, []byte("timezone: Asia/Shanghai\npeople:\n  - id: chen\n    roles: [staff]\n    departments: [nowhere]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, src string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	leaders := "timezone: Asia/Shanghai\npeople:\n  - {id: chen, roles: [staff]}\n  - {id: wang, roles: [leader]}\n  - {id: zhao, roles: [leader]}\n"
	noPrincipal := write("no-principal.yaml", leaders)
	tooManyApprovals := write("approvals.yaml", strings.ReplaceAll(leaders, "[leader]", "[principal]")+"policy:\n  critical:\n    approvals: 5\n")
	// reachable: leaders who hear reports on Telegram, and an incidents
	// channel there, but no statements channel anywhere.
	reachable := "timezone: Asia/Shanghai\npeople:\n  - {id: chen, roles: [staff]}\n" +
		"  - {id: wang, roles: [principal], telegram: 1004}\n  - {id: zhao, roles: [leader], telegram: 1005}\n" +
		"channels:\n  incidents: {telegram: -100111}\n"
	noStatements := write("no-statements.yaml", reachable)
	nobodyHears := write("nobody.yaml", strings.ReplaceAll(leaders, "[leader]", "[principal]"))
	tooMuchGrowth := write("growth.yaml", reachable+"spreading:\n  heat: 80\n  posts_growth: 1500%\n")
	zhRoster := write("zh.yaml", "locale: zh-CN\n"+leaders+"policy:\n  critical:\n    approvals: 5\n")
	telegramOn := map[string]string{"FIREBREAK_TELEGRAM_TOKEN": "123:abc"}
	bothOn := map[string]string{"FIREBREAK_TELEGRAM_TOKEN": "123:abc", "FIREBREAK_SLACK_SIGNING_SECRET": "s3cret"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string // platforms configured; none unless given
		wantCode int
		want     string // in stdout or stderr
	}{
		{"example roster", []string{"roster", "check", "../../deploy/roster.example.yaml"}, nil, 0, "ok"},
		{"example roster on both platforms", []string{"roster", "check", "../../deploy/roster.example.yaml"}, bothOn, 0, "ok for slack and telegram"},
		{"no statements channel for a configured platform names the channels", []string{"roster", "check", noStatements}, telegramOn, 1,
			"no-statements.yaml:6: telegram is configured, but channels statements has no telegram address"},
		{"no statements channel without a configured platform", []string{"roster", "check", noStatements}, nil, 0, "ok"},
		{"leaders nobody can receive name the people", []string{"roster", "check", nobodyHears}, nil, 1,
			"nobody.yaml:2: nobody can receive reports and approval requests"},
		{"growth over 1000% names its line", []string{"roster", "check", tooMuchGrowth}, nil, 1, "growth.yaml:10: posts_growth must be at most 1000%"},
		{"dangling department names its line", []string{"roster", "check", bad}, nil, 1, ":5"},
		{"demo roster", []string{"roster", "check", "../../adapters/rosterfile/demo.yaml"}, nil, 0, "ok"},
		{"no principal names the people", []string{"roster", "check", noPrincipal}, nil, 1, "no-principal.yaml:2: policy major: a principal leader must approve"},
		{"approvals beyond the leaders name their line", []string{"roster", "check", tooManyApprovals}, nil, 1, "approvals.yaml:8: policy critical: approvals: 5, but the roster has 2 leader(s)"},
		{"missing file", []string{"roster", "check", "/nonexistent/roster.yaml"}, nil, 1, "roster.yaml"},
		{"no file given", []string{"roster", "check"}, nil, 1, "usage"},
		{"a zh-CN roster is told why in Chinese", []string{"roster", "check", zhRoster}, nil, 1,
			"zh.yaml 第 3 行:处置策略 major(重大):须经主要领导批准"},
		{"a Chinese terminal is told why in Chinese", []string{"roster", "check", tooManyApprovals}, map[string]string{"LANG": "zh_CN.UTF-8"}, 1,
			"approvals.yaml 第 8 行:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"FIREBREAK_SLACK_SIGNING_SECRET", "FIREBREAK_SLACK_APP_TOKEN", "FIREBREAK_TELEGRAM_TOKEN",
				"LANG", "LC_ALL", "LC_MESSAGES"} {
				t.Setenv(name, tt.env[name])
			}
			code, out, errOut := mustRun(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("got output %q, want it to contain %q", out+errOut, tt.want)
			}
		})
	}
}

func TestUnknownSubcommand(t *testing.T) {
	code, _, errOut := mustRun(t, "", "bogus")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("got exit %d and %q, want 2 and an unknown-command message", code, errOut)
	}
}

// TestConsoleRunsOnEmbeddedRedis is the fresh-machine path: no
// configuration at all.
func TestConsoleRunsOnEmbeddedRedis(t *testing.T) {
	t.Setenv("FIREBREAK_REDIS_URL", "")
	t.Setenv("FIREBREAK_ROSTER", "")
	code, out, errOut := mustRun(t, "/incident open \"Canteen complaint\" level:major\n/incident status YQ-1\n", "console", "--as", "chen")
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "Opened YQ-1.") || !strings.Contains(out, "→ #leaders") {
		t.Errorf("got output\n%s\nwant the incident opened and the leaders told", out)
	}
	if !strings.Contains(errOut, "NOTHING IS PERSISTED") {
		t.Errorf("got stderr %q, want a loud warning that nothing is persisted", errOut)
	}
}

func TestConsoleRefusesUnknownPerson(t *testing.T) {
	t.Setenv("FIREBREAK_REDIS_URL", "")
	code, _, errOut := mustRun(t, "", "console", "--as", "nobody")
	if code != 1 || !strings.Contains(errOut, "not in the roster") {
		t.Errorf("got exit %d and %q, want 1 and a not-in-roster message", code, errOut)
	}
}

// TestRedisDown shows that when Redis goes away every command answers
// "storage unavailable, nothing was changed" and readiness turns 503.
func TestRedisDown(t *testing.T) {
	url, stop, err := fbredis.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	a := mustApp(t, Config{RedisURL: url, TimeScale: 1})
	mux := http.NewServeMux()
	web.Health(mux, a.store, a.metrics.Handler(), slog.New(slog.DiscardHandler))

	ready := func() int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("got /readyz %d with Redis up, want 200", got)
	}
	stop()

	for _, text := range []string{`open "Canteen complaint"`, "status YQ-1", "list", "approve YQ-1"} {
		req := &bot.Request{Platform: bot.PlatformConsole, Actor: "wang", Text: text}
		reply := a.router.Handle(context.Background(), req)
		if !reply.Failed || !strings.Contains(reply.Text, "storage unavailable, nothing was changed") {
			t.Errorf("%s: got reply %q, want the storage-unavailable message", text, reply.Text)
		}
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("got /readyz %d with Redis down, want 503", got)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("got /healthz %d, want 200 (the process is alive)", rec.Code)
	}
}

// TestMetricsCountRequests checks that /metrics reports what the router did.
func TestMetricsCountRequests(t *testing.T) {
	a := mustApp(t, Config{RedisURL: redistest.URL(t), TimeScale: 1})
	a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: "list"})
	a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: "status YQ-404"})
	var b bytes.Buffer
	if err := a.metrics.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// Prometheus writes labels sorted by name.
		`firebreak_requests_total{code="ok",command="list",platform="console"} 1`,
		`firebreak_requests_total{code="not_found",command="status",platform="console"} 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got metrics\n%s\nwant a line %s", b.String(), want)
		}
	}
	_ = workflow.CodeNotFound
}
