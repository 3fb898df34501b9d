package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// platforms are the chat platforms people and channels have IDs on, as
// their adapters describe them: the roster file takes their keys ("slack:
// U0CHEN") and checks IDs with them. A new platform is one line here.
var platforms = []workflow.Platform{
	fbslack.Platform,
	telegram.Platform,
}

// slackEnabled and telegramEnabled say whether the configuration runs the
// platform: setupPlatforms starts it, and the roster file must give it its
// channels (running).
func slackEnabled(cfg Config) bool    { return cfg.SlackSigningSecret != "" || cfg.SlackAppToken != "" }
func telegramEnabled(cfg Config) bool { return cfg.TelegramToken != "" }

// running names the platforms the configuration runs, for
// rosterfile.LoadRunning: each needs its incidents and statements channels,
// and the leaders must be reachable on one of them.
func running(cfg Config) []string {
	var names []string
	if slackEnabled(cfg) {
		names = append(names, fbslack.Platform.Name)
	}
	if telegramEnabled(cfg) {
		names = append(names, telegram.Platform.Name)
	}
	return names
}

// setupPlatforms builds the Slack and Telegram adapters that the
// configuration enables, registers their endpoints on mux, starts what they
// run in the background, and returns their outbox senders.
func setupPlatforms(ctx context.Context, a *app, cfg Config, mux *http.ServeMux) ([]bot.Sender, error) {
	var senders []bot.Sender
	if slackEnabled(cfg) {
		s, err := setupSlack(ctx, a, cfg, mux)
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
		warnMissingChannels(a, fbslack.Platform.Name)
	} else if cfg.SlackBotToken != "" {
		return nil, fmt.Errorf("FIREBREAK_SLACK_BOT_TOKEN is set but neither FIREBREAK_SLACK_SIGNING_SECRET " +
			"(HTTP endpoints) nor FIREBREAK_SLACK_APP_TOKEN (Socket Mode) is: Slack could not reach Firebreak")
	}
	if telegramEnabled(cfg) {
		s, err := setupTelegram(ctx, a, cfg, mux)
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
		warnMissingChannels(a, telegram.Platform.Name)
	}
	return senders, nil
}

// warnMissingChannels logs the channels a configured platform has no
// address for in the roster. A roster file with such a gap is refused when
// it is loaded (rosterfile.LoadRunning); only the built-in demo roster,
// whose statements are on Slack only, gets here with one, and the demo
// still runs.
func warnMissingChannels(a *app, platform string) {
	if missing := a.roster.MissingChannels(platform); len(missing) > 0 {
		a.log.Warn("a configured platform has no address in the roster for some channels; what goes there is not posted on it",
			"platform", platform, "channels", strings.Join(missing, ", "))
	}
}

// setupSlack builds the Slack adapter, serves its endpoints on mux and, with
// an app token, runs Socket Mode. Closing the app waits for replies still
// being sent in the background.
func setupSlack(ctx context.Context, a *app, cfg Config, mux *http.ServeMux) (bot.Sender, error) {
	sl, err := fbslack.New(fbslack.Options{
		SigningSecret: cfg.SlackSigningSecret,
		BotToken:      cfg.SlackBotToken,
		AppToken:      cfg.SlackAppToken,
		APIURL:        cfg.SlackAPIURL,
		Router:        a.router,
		Roster:        a.roster,
		Memo:          a.store.Memo("slack"),
		Locale:        a.locale,
		Locker:        a.store, // each event_id handled once across replicas
		Log:           a.log,
		// Clock stays nil: signatures are checked against real time, also in demo mode.
	})
	if err != nil {
		return nil, err
	}
	sl.Register(mux)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	if cfg.SlackAppToken != "" {
		go func() {
			defer close(done)
			if err := sl.RunSocketMode(sctx); err != nil && sctx.Err() == nil {
				a.log.Error("slack socket mode stopped", "err", err)
			}
		}()
	} else {
		close(done)
	}
	a.closers = append(a.closers, func() {
		stop()
		<-done
		drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sl.Drain(drainCtx); err != nil {
			a.log.Warn("slack replies still in flight at shutdown", "err", err)
		}
	})
	a.log.Info("slack enabled", "http", cfg.SlackSigningSecret != "", "socket_mode", cfg.SlackAppToken != "")
	return sl.Sender(), nil
}

// setupTelegram builds the Telegram adapter, serves its webhook on mux and
// starts it: in webhook mode it registers the webhook, in poll mode it polls
// whenever this replica holds the poll lease. Closing the app stops it and
// waits (the lease is released) before Redis is closed.
func setupTelegram(ctx context.Context, a *app, cfg Config, mux *http.ServeMux) (bot.Sender, error) {
	st := a.store.Telegram()
	tg, err := telegram.New(telegram.Options{
		Token: cfg.TelegramToken, Mode: cfg.TelegramMode,
		WebhookURL: cfg.TelegramWebhookURL, WebhookSecret: cfg.TelegramWebhookSecret,
		APIEndpoint: cfg.TelegramAPIEndpoint,
		Router:      a.router, Roster: a.roster, Locale: a.locale, Log: a.log, Clock: a.clock, Metrics: a.metrics,
		Lease: st, UpdateLog: st, Memo: st,
	})
	if err != nil {
		return nil, err
	}
	tg.Register(mux)
	tctx, stop := context.WithCancel(ctx)
	if err := tg.Start(tctx); err != nil {
		stop()
		return nil, err
	}
	a.closers = append(a.closers, func() { stop(); tg.Wait() })
	return tg.Sender(), nil
}
