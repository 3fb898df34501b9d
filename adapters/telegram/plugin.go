package telegram

import (
	"context"

	"github.com/firebreak/firebreak/bot"
)

// Plugin runs Telegram in Firebreak: cmd/firebreak lists it among the
// platforms.
var Plugin = bot.Plugin{Platform: Platform, Settings: func() bot.PluginSettings { return new(Settings) }}

// Settings are the Telegram adapter's environment variables.
type Settings struct {
	Token         string `envconfig:"TELEGRAM_TOKEN" desc:"Telegram bot token from BotFather"`
	Mode          string `envconfig:"TELEGRAM_MODE" default:"webhook" desc:"webhook or poll"`
	WebhookURL    string `envconfig:"TELEGRAM_WEBHOOK_URL" desc:"public URL of POST /telegram/webhook, registered at start-up"`
	WebhookSecret string `envconfig:"TELEGRAM_WEBHOOK_SECRET" desc:"secret_token Telegram sends in X-Telegram-Bot-Api-Secret-Token"`
	APIEndpoint   string `envconfig:"TELEGRAM_API_ENDPOINT" desc:"override of the Bot API endpoint, format http://host/bot%s/%s"`
}

// Enabled implements bot.PluginSettings: the bot token asks for Telegram.
func (s *Settings) Enabled() bool { return s.Token != "" }

// Start implements bot.PluginSettings: it serves the webhook and starts the
// adapter: in webhook mode it registers the webhook, in poll mode it polls
// whenever this replica holds the poll lease. Stopping waits until it has
// (the lease is released).
func (s *Settings) Start(ctx context.Context, h bot.Host) (bot.Sender, func(), error) {
	st := h.State(Platform.Name)
	a, err := New(Options{
		Token: s.Token, Mode: s.Mode,
		WebhookURL: s.WebhookURL, WebhookSecret: s.WebhookSecret,
		APIEndpoint: s.APIEndpoint,
		Router:      h.Router, Roster: h.Roster, Locale: h.Locale, Log: h.Log, Clock: h.Clock, Metrics: h.Metrics,
		Lease: st, UpdateLog: st, Memo: st, Once: h.Locker,
	})
	if err != nil {
		return nil, nil, err
	}
	a.Register(h.Mux)
	tctx, cancel := context.WithCancel(ctx)
	if err := a.Start(tctx); err != nil {
		cancel()
		return nil, nil, err
	}
	return a.Sender(), func() { cancel(); a.Wait() }, nil
}
