package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// wecom is a platform that exists only in this test: its plugin is all a
// new platform brings, and the line that adds it to plugins all the wiring.
var wecom = bot.Plugin{
	Platform: workflow.Platform{Name: "wecom",
		ParseAccount: func(s string) (string, error) { return s, nil },
		ParseAddress: func(s string) (string, error) {
			if !strings.HasPrefix(s, "wr") {
				return "", errors.New("must start with wr")
			}
			return s, nil
		}},
	Settings: func() bot.PluginSettings { return new(wecomSettings) },
}

type wecomSettings struct {
	Token string `envconfig:"WECOM_TOKEN" desc:"WeCom bot token"`
	// started and stopped record what the app did with it.
	started, stopped bool
	host             bot.Host
}

func (s *wecomSettings) Enabled() bool { return s.Token != "" }

func (s *wecomSettings) Start(_ context.Context, h bot.Host) (bot.Sender, func(), error) {
	s.started, s.host = true, h
	h.Mux.HandleFunc("POST /wecom/hook", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return nil, func() { s.stopped = true }, nil
}

// withWecom adds wecom to the plugins, as its one line of wiring would,
// for the rest of the test.
func withWecom(t *testing.T) {
	saved := plugins
	plugins = append(append([]bot.Plugin(nil), plugins...), wecom)
	t.Cleanup(func() { plugins = saved })
}

// TestAddingAPlatform: a plugin in the list is configured, checked in the
// roster, started and stopped like Slack and Telegram, with nothing else
// in cmd/firebreak changed.
func TestAddingAPlatform(t *testing.T) {
	withWecom(t)
	for _, name := range []string{"FIREBREAK_SLACK_BOT_TOKEN", "FIREBREAK_SLACK_SIGNING_SECRET", "FIREBREAK_SLACK_APP_TOKEN", "FIREBREAK_TELEGRAM_TOKEN"} {
		t.Setenv(name, "")
	}

	if _, out, _ := mustRun(t, "", "config"); !strings.Contains(out, "FIREBREAK_WECOM_TOKEN\tString\t\t\tWeCom bot token") {
		t.Errorf("config output lacks the plugin's variable:\n%s", out)
	}

	t.Setenv("FIREBREAK_WECOM_TOKEN", "")
	if cfg, err := loadConfig(); err != nil || cfg.platformConfigured() {
		t.Fatalf("without its token: configured %v (err %v), want the playground", cfg.platformConfigured(), err)
	}
	t.Setenv("FIREBREAK_WECOM_TOKEN", "wecom-s3cret")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got := running(cfg); !cfg.platformConfigured() || len(got) != 1 || got[0] != "wecom" {
		t.Fatalf("running: %v, want [wecom]", got)
	}

	// The roster checks the plugin's IDs and asks for its channels.
	dir := t.TempDir()
	roster := "timezone: Asia/Shanghai\norganisation: {name: Riverside District}\npeople:\n  - {id: chen, roles: [staff], wecom: ChenJing}\n" +
		"  - {id: wang, roles: [leader, principal], wecom: WangFang}\n  - {id: zhao, roles: [leader, principal], wecom: ZhaoLei}\n" +
		"  - {id: sun, roles: [spokesperson], wecom: SunYu}\n" +
		"channels:\n  incidents: {wecom: wrINC}\n  statements: {wecom: %s}\n"
	for _, tt := range []struct {
		name, statements string
		wantCode         int
		want             string
	}{
		{"ok", "wrSTATE", 0, "ok for wecom"},
		{"an address its platform refuses", "C0STATE", 1, "must start with wr"},
	} {
		path := filepath.Join(dir, tt.name+".yaml")
		if err := os.WriteFile(path, []byte(strings.Replace(roster, "%s", tt.statements, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := mustRun(t, "", "roster", "check", path); code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("roster check (%s): exit %d, %q; want %d and %q", tt.name, code, out+errOut, tt.wantCode, tt.want)
		}
	}

	// Serve starts it with the app's router and the store's state for it,
	// serves its endpoint, and stops it when the app closes.
	cfg.TimeScale = 1
	a := mustApp(t, cfg)
	mux := http.NewServeMux()
	if _, err := setupPlatforms(context.Background(), a, cfg, mux); err != nil {
		t.Fatalf("setupPlatforms: %v", err)
	}
	s := cfg.Platforms[len(cfg.Platforms)-1].(*wecomSettings)
	if !s.started || s.host.Router != a.router || s.host.Mux != mux {
		t.Fatalf("started %v with router %v, mux %v; want started with the app's", s.started, s.host.Router != nil, s.host.Mux != nil)
	}
	ctx := context.Background()
	state := s.host.State("wecom")
	if err := state.SetMemo(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := a.store.PlatformState("wecom").GetMemo(ctx, "k"); err != nil || !ok || v != "v" {
		t.Errorf("memo read back: %q %v %v, want v (kept in the store)", v, ok, err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wecom/hook", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("POST /wecom/hook: %d, want the plugin's 204", rec.Code)
	}
	a.Close()
	if !s.stopped {
		t.Error("closing the app did not stop the plugin")
	}
}
