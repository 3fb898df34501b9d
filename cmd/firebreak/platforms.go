package main

import (
	"context"
	"net/http"

	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
)

// setupPlatforms builds the Slack and Telegram adapters that the
// configuration enables, registers their endpoints on mux, starts what they
// run in the background, and returns their outbox senders.
func setupPlatforms(ctx context.Context, a *app, cfg Config, mux *http.ServeMux) ([]bot.Sender, error) {
	var senders []bot.Sender
	if cfg.TelegramToken != "" {
		s, err := setupTelegram(ctx, a, cfg, mux)
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
	}
	return senders, nil
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
		Router:      a.router, Roster: a.roster, Locale: a.locale, Log: a.log, Clock: a.clock,
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
