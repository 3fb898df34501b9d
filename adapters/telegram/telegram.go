// Package telegram is Firebreak's Telegram adapter: it receives updates over
// a webhook or by long polling, turns typed /incident commands and
// inline-keyboard presses into router requests, renders replies and outbox
// messages as HTML with inline keyboards, and keeps approval requests
// current (a newer draft version supersedes the older requests).
//
// It is thin: every rule of the handling plan is the router's. What it keeps
// for itself (which updates were handled, which message was sent for which
// thread, where a migrated group went, who holds the poll lease) lives in
// Redis behind the small interfaces Lease, UpdateLog and Memo, so any number
// of replicas can run side by side.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Modes of receiving updates.
const (
	// ModeWebhook: Telegram posts updates to POST /telegram/webhook; the
	// webhook is registered (with its secret) at start-up.
	ModeWebhook = "webhook"
	// ModePoll: one replica at a time long-polls getUpdates.
	ModePoll = "poll"
)

// WebhookPath is where Register serves Telegram's webhook.
const WebhookPath = "/telegram/webhook"

// pollLeaseName names the lease that lets one replica poll.
const pollLeaseName = "poll"

// Lease, UpdateLog and Memo are the adapter's state in the store (see
// bot.PlatformState, which the Redis store's PlatformState implements).
type (
	Lease     = bot.Lease
	UpdateLog = bot.UpdateLog
	Memo      = bot.Memo
)

// Options configures an Adapter.
type Options struct {
	// Token is the bot token from BotFather (FIREBREAK_TELEGRAM_TOKEN). It
	// never appears in logs, errors or replies.
	Token string
	// Mode is ModeWebhook or ModePoll (FIREBREAK_TELEGRAM_MODE; default
	// webhook).
	Mode string
	// WebhookURL is the public URL of POST /telegram/webhook, registered at
	// start-up in webhook mode (FIREBREAK_TELEGRAM_WEBHOOK_URL).
	WebhookURL string
	// WebhookSecret is the secret_token Telegram sends back in the
	// X-Telegram-Bot-Api-Secret-Token header (FIREBREAK_TELEGRAM_WEBHOOK_SECRET);
	// required in webhook mode: 1-256 characters of A-Z, a-z, 0-9, _ and -.
	WebhookSecret string
	// APIEndpoint replaces the Bot API endpoint, format
	// "http://host/bot%s/%s" (token, method) (FIREBREAK_TELEGRAM_API_ENDPOINT).
	APIEndpoint string

	// Router handles every command and button press.
	Router *bot.Router
	// Roster maps Telegram user IDs to people and channels to chats
	// (default: the router's).
	Roster *workflow.Roster
	// Locale of the adapter's own texts, "en" or "zh-CN" (default: the
	// router's).
	Locale string
	// Log receives failures; nil discards.
	Log *slog.Logger
	// Metrics, when set, counts chat migrations
	// (firebreak_telegram_migrations_total{source,outcome}).
	Metrics *bot.Metrics
	// Clock stamps decisions shown on approval requests (default: the
	// system clock).
	Clock workflow.Clock

	// Lease, UpdateLog and Memo keep the adapter's shared state (Redis in
	// production: (*redis.Store).PlatformState("telegram") implements all three). Lease
	// is needed in poll mode only.
	Lease     Lease
	UpdateLog UpdateLog
	Memo      Memo
	// Once, when set, guards the command of each update (its key
	// telegram:update:<id>): a command that took effect runs no second
	// time when a redelivery of its update decides again because the
	// outcome could not be saved (a Redis stall).
	Once bot.OnceLocker

	// HTTPClient calls the Bot API (default: a client with a timeout of
	// PollTimeout plus 15s).
	HTTPClient *http.Client
	// PollTimeout is the long-polling timeout of getUpdates (25s when zero).
	PollTimeout time.Duration
	// LeaseTTL is how long the poll lease lasts without renewal (30s when
	// zero); it is renewed every third of it.
	LeaseTTL time.Duration
	// LeaseRetry is how often a replica without the lease tries to take it
	// (LeaseTTL/3 when zero).
	LeaseRetry time.Duration
	// RetryWait is the wait after a failed getUpdates or a failed update
	// before trying again (2s when zero).
	RetryWait time.Duration
}

// Adapter is the Telegram adapter. Build it with New, serve its webhook with
// Register, run it with Start, and deliver the outbox through Sender.
type Adapter struct {
	mode       string
	webhookURL string
	secret     string
	router     *bot.Router
	roster     *workflow.Roster
	locale     string
	log        *slog.Logger
	migrations *bot.Counter // nil without Metrics
	clock      workflow.Clock
	lease      Lease
	updates    UpdateLog
	memo       Memo
	once       bot.OnceLocker // nil: no guard beyond the update log

	api         *tgbotapi.BotAPI
	http        *http.Client
	token       string
	pollTimeout time.Duration
	leaseTTL    time.Duration
	leaseRetry  time.Duration
	retryWait   time.Duration
	// claimLease bounds how long one try may hold an update.
	claimLease time.Duration
	// pollTimer measures getUpdates calls and waits between them (the
	// wall clock; tests count calls without waiting).
	pollTimer pollTimer

	mu       sync.RWMutex
	username string // the bot's @username, known after Start

	wg sync.WaitGroup
}

// ClaimLease bounds how long one try may hold an update: when Redis stalls
// and even giving the update up fails, Telegram's redelivery is handled
// once the lease ends (it was 2 minutes: three updates stayed refused that
// long after a 10 s stall). A try decides within decideTimeout, well
// inside it.
const ClaimLease = 20 * time.Second

const decideTimeout = 8 * time.Second

// updateOnceTTL is how long an update's command guard lasts: as long as a
// handled update ID is remembered, longer than Telegram redelivers.
const updateOnceTTL = 24 * time.Hour

// claimTimeout bounds the claim of an update, its first call to the store:
// a stalled Redis gets the update refused within seconds, for Telegram to
// deliver it again.
const claimTimeout = 3 * time.Second

// New checks opts and returns an Adapter. It does not call Telegram; Start
// does.
func New(opts Options) (*Adapter, error) {
	if opts.Token == "" {
		return nil, errors.New("telegram: the bot token is required (FIREBREAK_TELEGRAM_TOKEN)")
	}
	if opts.Router == nil {
		return nil, errors.New("telegram: Router is required")
	}
	if opts.UpdateLog == nil || opts.Memo == nil {
		return nil, errors.New("telegram: UpdateLog and Memo are required")
	}
	mode := opts.Mode
	if mode == "" {
		mode = ModeWebhook
	}
	switch mode {
	case ModeWebhook:
		if opts.WebhookURL == "" {
			return nil, errors.New("telegram: webhook mode needs FIREBREAK_TELEGRAM_WEBHOOK_URL (or set FIREBREAK_TELEGRAM_MODE=poll)")
		}
		if !validSecret(opts.WebhookSecret) {
			return nil, errors.New("telegram: webhook mode needs FIREBREAK_TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
		}
	case ModePoll:
		if opts.Lease == nil {
			return nil, errors.New("telegram: poll mode needs a Lease, so that one replica polls")
		}
		if opts.WebhookSecret != "" && !validSecret(opts.WebhookSecret) {
			return nil, errors.New("telegram: FIREBREAK_TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
		}
	default:
		return nil, fmt.Errorf("telegram: mode must be %s or %s, not %q", ModeWebhook, ModePoll, mode)
	}
	endpoint := opts.APIEndpoint
	if endpoint == "" {
		endpoint = tgbotapi.APIEndpoint
	}
	if strings.Count(endpoint, "%s") != 2 || strings.Count(endpoint, "%") != 2 {
		return nil, errors.New("telegram: the API endpoint must have the form http://host/bot%s/%s (token, method)")
	}
	a := &Adapter{
		mode: mode, webhookURL: opts.WebhookURL, secret: opts.WebhookSecret,
		router: opts.Router, roster: opts.Roster, locale: opts.Locale, log: opts.Log, clock: opts.Clock,
		lease: opts.Lease, updates: opts.UpdateLog, memo: opts.Memo, once: opts.Once,
		http: opts.HTTPClient, token: opts.Token,
		pollTimeout: opts.PollTimeout, leaseTTL: opts.LeaseTTL, leaseRetry: opts.LeaseRetry, retryWait: opts.RetryWait,
		pollTimer: wallTimer{},
	}
	if a.roster == nil {
		a.roster = opts.Router.Roster()
	}
	if opts.Metrics != nil {
		a.migrations = opts.Metrics.Counter("firebreak_telegram_migrations_total",
			"Telegram group-to-supergroup migrations seen, by source (update: the service message; api: a refused send) and outcome (followed, refused).",
			"source", "outcome")
	}
	if a.locale == "" {
		a.locale = opts.Router.Locale()
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("adapter", "telegram")
	if a.clock == nil {
		a.clock = workflow.SystemClock{}
	}
	if a.pollTimeout <= 0 {
		a.pollTimeout = 25 * time.Second
	}
	if a.pollTimeout < time.Second {
		a.pollTimeout = time.Second // getUpdates takes whole seconds
	}
	if a.leaseTTL <= 0 {
		a.leaseTTL = 30 * time.Second
	}
	if a.leaseRetry <= 0 {
		a.leaseRetry = a.leaseTTL / 3
	}
	if a.retryWait <= 0 {
		a.retryWait = 2 * time.Second
	}
	// A try holds an update for at most ClaimLease; a failed try gives it
	// up at once (abandon), or as soon as the store answers again.
	a.claimLease = ClaimLease
	if a.http == nil {
		a.http = &http.Client{Timeout: a.pollTimeout + 15*time.Second}
	}
	// Built by hand rather than with tgbotapi.NewBotAPI*, which calls getMe:
	// New stays offline, and Debug stays off (it logs URLs with the token).
	a.api = &tgbotapi.BotAPI{Token: opts.Token, Client: a.http, Buffer: 100}
	a.api.SetAPIEndpoint(endpoint)
	return a, nil
}

// validSecret reports whether s is a valid secret_token for setWebhook.
func validSecret(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// allowedUpdates are the update kinds the adapter asks Telegram for.
var allowedUpdates = []string{"message", "callback_query", "my_chat_member"}

// Start calls getMe (which checks the token), then in webhook mode registers
// the webhook with its secret_token, and in poll mode starts long polling in
// the background, on this replica whenever it holds the poll lease. Polling
// stops when ctx is done; Wait waits for it.
func (a *Adapter) Start(ctx context.Context) error {
	me, err := a.getMe(ctx)
	if err != nil {
		return fmt.Errorf("telegram: start: %w", err)
	}
	a.mu.Lock()
	a.username = me.UserName
	a.mu.Unlock()
	switch a.mode {
	case ModeWebhook:
		if err := a.setWebhook(ctx); err != nil {
			return fmt.Errorf("telegram: register the webhook: %w", err)
		}
		a.log.InfoContext(ctx, "telegram webhook registered", "bot", me.UserName)
	case ModePoll:
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.pollLoop(ctx)
		}()
	}
	return nil
}

// Wait blocks until the background work started by Start has stopped (after
// its context is done); the poll lease is released by then.
func (a *Adapter) Wait() { a.wg.Wait() }

// Username returns the bot's @username once Start has run, else "".
func (a *Adapter) Username() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.username
}

func (a *Adapter) getMe(ctx context.Context) (tgbotapi.User, error) {
	resp, err := a.call(ctx, "getMe", nil)
	if err != nil {
		return tgbotapi.User{}, err
	}
	var u tgbotapi.User
	if err := decodeResult(resp, &u); err != nil {
		return tgbotapi.User{}, fmt.Errorf("telegram getMe: %w", err)
	}
	return u, nil
}

// setWebhook registers the webhook. The v5 library's WebhookConfig has no
// secret_token, so the parameters are sent by hand.
func (a *Adapter) setWebhook(ctx context.Context) error {
	p := tgbotapi.Params{"url": a.webhookURL, "secret_token": a.secret}
	if err := p.AddInterface("allowed_updates", allowedUpdates); err != nil {
		return err
	}
	_, err := a.call(ctx, "setWebhook", p)
	return err
}

// t picks the adapter's text for its locale.
func (a *Adapter) t(en, zh string) string { return workflow.Text{EN: en, ZH: zh}.In(a.locale) }
