package slack

import (
	"context"
	"time"

	"github.com/firebreak/firebreak/bot"
)

// Plugin runs Slack in Firebreak: cmd/firebreak lists it among the
// platforms.
var Plugin = bot.Plugin{Platform: Platform, Settings: func() bot.PluginSettings { return new(Settings) }}

// Settings are the Slack adapter's environment variables.
type Settings struct {
	BotToken      string `envconfig:"SLACK_BOT_TOKEN" desc:"Slack bot token (xoxb-...)"`
	SigningSecret string `envconfig:"SLACK_SIGNING_SECRET" desc:"Slack signing secret, to verify requests"`
	AppToken      string `envconfig:"SLACK_APP_TOKEN" desc:"Slack app-level token (xapp-...) for Socket Mode"`
	APIURL        string `envconfig:"SLACK_API_URL" desc:"override of the Slack Web API base URL"`
}

// drainTimeout bounds how long stopping waits for replies still being
// sent in the background.
const drainTimeout = 10 * time.Second

// Enabled implements bot.PluginSettings: any Slack variable asks for Slack
// (New refuses a bot token with no way for Slack to reach Firebreak).
func (s *Settings) Enabled() bool {
	return s.BotToken != "" || s.SigningSecret != "" || s.AppToken != ""
}

// Start implements bot.PluginSettings: it serves the HTTP endpoints and,
// with an app token, runs Socket Mode. Stopping waits for replies still
// being sent in the background.
func (s *Settings) Start(ctx context.Context, h bot.Host) (bot.Sender, func(), error) {
	a, err := New(Options{
		SigningSecret: s.SigningSecret,
		BotToken:      s.BotToken,
		AppToken:      s.AppToken,
		APIURL:        s.APIURL,
		Router:        h.Router,
		Roster:        h.Roster,
		Memo:          h.State(Platform.Name),
		Locale:        h.Locale,
		Locker:        h.Locker, // each event_id and command handled once across replicas
		NotBefore:     h.StoreSince,
		Log:           h.Log,
		// Clock stays nil: signatures are checked against real time, also in demo mode.
	})
	if err != nil {
		return nil, nil, err
	}
	a.Register(h.Mux)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if s.AppToken != "" {
		go func() {
			defer close(done)
			if err := a.RunSocketMode(sctx); err != nil && sctx.Err() == nil {
				a.log.Error("slack socket mode stopped", "err", err)
			}
		}()
	} else {
		close(done)
	}
	stop := func() {
		cancel()
		<-done
		drainCtx, cancelDrain := context.WithTimeout(context.Background(), drainTimeout)
		defer cancelDrain()
		if err := a.Drain(drainCtx); err != nil {
			a.log.Warn("slack replies still in flight at shutdown", "err", err)
		}
	}
	a.log.Info("slack enabled", "http", s.SigningSecret != "", "socket_mode", s.AppToken != "")
	return a.Sender(), stop, nil
}
