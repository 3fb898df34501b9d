package slack_test

import (
	"net/url"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestManifest: the app manifest points Slack at the endpoints Register
// serves, asks for the scopes the adapter uses and no others, and leaves
// Socket Mode off.
func TestManifest(t *testing.T) {
	b, err := os.ReadFile("../../deploy/slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command string `yaml:"command"`
				URL     string `yaml:"url"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled bool   `yaml:"is_enabled"`
				URL     string `yaml:"request_url"`
			} `yaml:"interactivity"`
			Events struct {
				URL       string   `yaml:"request_url"`
				BotEvents []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	path := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" {
			t.Errorf("URL %q: want an https URL", raw)
			return ""
		}
		return u.Path
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/incident" ||
		path(m.Features.SlashCommands[0].URL) != "/slack/commands" {
		t.Errorf("slash commands %+v, want /incident → /slack/commands", m.Features.SlashCommands)
	}
	if !m.Settings.Interactivity.Enabled || path(m.Settings.Interactivity.URL) != "/slack/interactions" {
		t.Errorf("interactivity %+v, want it on → /slack/interactions", m.Settings.Interactivity)
	}
	if path(m.Settings.Events.URL) != "/slack/events" || !slices.Equal(m.Settings.Events.BotEvents, []string{"app_mention"}) {
		t.Errorf("events %+v, want app_mention → /slack/events", m.Settings.Events)
	}
	want := []string{"app_mentions:read", "chat:write", "commands", "im:write"}
	got := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if !slices.Equal(got, want) {
		t.Errorf("bot scopes %v, want exactly %v", got, want)
	}
	if m.Settings.SocketMode {
		t.Error("socket_mode_enabled is true, want false")
	}
}
