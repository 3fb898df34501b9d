// Package slack is Firebreak's Slack adapter: slash commands, Block Kit
// button presses and app mentions over HTTP (signed with Slack's v0 scheme)
// or Socket Mode, rendered as Block Kit, and a bot.Sender that delivers the
// outbox with chat.postMessage. It is thin: it turns Slack requests into
// bot.Requests and bot.Replies into Slack messages; every rule of the
// handling plan is the router's.
//
// Slack wants an answer within 3 seconds. A slash command runs the router
// for up to AckTimeout (2.5 s); a reply ready by then is the HTTP answer,
// else the person is told it is on its way and the reply follows through
// the command's response_url. Button presses and events are acknowledged at
// once and answered in the background (response_url, chat.postMessage).
package slack

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Defaults of Options.
const (
	// DefaultAckTimeout is how long a slash command may run before Slack is
	// answered with "working on it" and the reply follows via response_url:
	// Slack gives up after 3 s.
	DefaultAckTimeout = 2500 * time.Millisecond
	// DefaultWorkTimeout bounds a request's work in the background.
	DefaultWorkTimeout = 30 * time.Second
	// MaxBody is the largest request body accepted (1 MiB).
	MaxBody = 1 << 20
	// MaxSkew is how far the X-Slack-Request-Timestamp may be from now.
	MaxSkew = 5 * time.Minute
	// EventDedupeTTL is how long an event_id is remembered: Slack retries
	// an event three times within about five minutes.
	EventDedupeTTL = time.Hour
)

// Locker takes a lock that expires by itself (SET NX EX): the adapter
// handles each Events API event once across replicas, although Slack
// retries it. A OnceLocker can also take the key of a slash command with
// the command's own first round trip to the store
// (adapters/redis.Store.Once): the command pays nothing for its guard.
type (
	Locker     = bot.Locker
	OnceLocker = bot.OnceLocker
)

// Options configure an Adapter. Router and Roster are required, and
// SigningSecret (HTTP) or AppToken (Socket Mode).
type Options struct {
	// SigningSecret verifies HTTP requests (FIREBREAK_SLACK_SIGNING_SECRET).
	// Empty: every HTTP request is refused; use Socket Mode.
	SigningSecret string
	// BotToken is the xoxb- token for the Web API (FIREBREAK_SLACK_BOT_TOKEN).
	BotToken string
	// AppToken is the xapp- token for Socket Mode (FIREBREAK_SLACK_APP_TOKEN).
	AppToken string
	// APIURL overrides the Web API base URL (FIREBREAK_SLACK_API_URL), e.g.
	// a slacktest server; a trailing slash is added when missing.
	APIURL string
	// Router handles every request.
	Router *bot.Router
	// Roster maps Slack user IDs to people and names the channels.
	Roster *workflow.Roster
	// Locale is the language of the adapter's own texts (en or zh-CN);
	// the router's when empty.
	Locale string
	// Locker deduplicates Events API retries across replicas; nil: within
	// this process only.
	Locker Locker
	// Memo remembers which message shows each card in each conversation, so
	// that later decisions update it; shared by replicas (the Redis Store's
	// Memo("slack")). Nil: this process only, forgotten on restart.
	Memo Memo
	// Log receives rejected requests and delivery failures; never secrets,
	// request bodies or response URLs.
	Log *slog.Logger
	// Clock checks request timestamps. It must be the real time (nil: the
	// system clock), also in demo mode; tests set it.
	Clock workflow.Clock
	// NotBefore refuses HTTP requests Slack signed before it (bot.Host's
	// StoreSince): a replay or a retry of a request to a store that was
	// lost, whose record of having handled it went with it. Zero: none.
	NotBefore time.Time
	// HTTPClient calls the Web API and response URLs (nil: a client with a
	// 10 s timeout).
	HTTPClient *http.Client
	// AckTimeout overrides DefaultAckTimeout.
	AckTimeout time.Duration
	// WorkTimeout overrides DefaultWorkTimeout.
	WorkTimeout time.Duration
}

// Adapter connects Slack to the router. Build one with New; it is safe for
// concurrent use.
type Adapter struct {
	secret   []byte
	since    time.Time // Options.NotBefore
	appToken string
	api      *slackgo.Client
	http     *http.Client
	router   *bot.Router
	roster   *workflow.Roster
	locale   string
	locker   Locker
	log      *slog.Logger
	clock    workflow.Clock
	ackIn    time.Duration
	workIn   time.Duration
	sender   *Sender
	bg       *workers
}

// New returns an Adapter for opts.
func New(opts Options) (*Adapter, error) {
	switch {
	case opts.Router == nil:
		return nil, errors.New("slack: Options.Router is required")
	case opts.Roster == nil:
		return nil, errors.New("slack: Options.Roster is required")
	case opts.SigningSecret == "" && opts.AppToken == "":
		return nil, errors.New("slack: set FIREBREAK_SLACK_SIGNING_SECRET (HTTP) or FIREBREAK_SLACK_APP_TOKEN (Socket Mode)")
	case opts.BotToken == "":
		return nil, errors.New("slack: FIREBREAK_SLACK_BOT_TOKEN is required")
	case opts.AppToken != "" && !strings.HasPrefix(opts.AppToken, "xapp-"):
		return nil, errors.New("slack: FIREBREAK_SLACK_APP_TOKEN must be an app-level token (xapp-...)")
	}
	locale := cmp.Or(opts.Locale, opts.Router.Locale())
	if locale != workflow.LocaleEN && locale != workflow.LocaleZH {
		return nil, errors.New("slack: locale must be en or zh-CN")
	}
	a := &Adapter{
		secret:   []byte(opts.SigningSecret),
		since:    opts.NotBefore.Truncate(time.Second), // signatures name whole seconds
		appToken: opts.AppToken,
		http:     opts.HTTPClient,
		router:   opts.Router,
		roster:   opts.Roster,
		locale:   locale,
		locker:   opts.Locker,
		log:      opts.Log,
		clock:    opts.Clock,
		ackIn:    cmp.Or(opts.AckTimeout, DefaultAckTimeout),
		workIn:   cmp.Or(opts.WorkTimeout, DefaultWorkTimeout),
		bg:       newWorkers(workerIdle),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("adapter", "slack")
	if a.clock == nil {
		a.clock = workflow.SystemClock{}
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 10 * time.Second}
	}
	if a.locker == nil {
		a.locker = newMemLocker(a.clock)
	}
	apiOpts := []slackgo.Option{slackgo.OptionHTTPClient(a.http)}
	if opts.APIURL != "" {
		apiOpts = append(apiOpts, slackgo.OptionAPIURL(strings.TrimRight(opts.APIURL, "/")+"/"))
	}
	if opts.AppToken != "" {
		apiOpts = append(apiOpts, slackgo.OptionAppLevelToken(opts.AppToken))
	}
	a.api = slackgo.New(opts.BotToken, apiOpts...)
	a.sender = newSender(a.api, a.roster, a.locale, a.log, opts.Memo)
	return a, nil
}

// Register adds the HTTP endpoints of DESIGN.md §4 to mux:
// POST /slack/commands, POST /slack/interactions and POST /slack/events.
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /slack/commands", a.serveCommands)
	mux.HandleFunc("POST /slack/interactions", a.serveInteractions)
	mux.HandleFunc("POST /slack/events", a.serveEvents)
}

// Sender returns the outbox Sender of this Slack workspace.
func (a *Adapter) Sender() bot.Sender { return a.sender }

// Drain waits until the work still running in the background (replies on
// their way to a response_url, mentions being answered) is done, or ctx
// ends. Call it at shutdown, after the HTTP server stopped taking requests.
func (a *Adapter) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// background runs f in a goroutine that Drain waits for, with a context that
// outlives the request that started it but not WorkTimeout.
func (a *Adapter) background(ctx context.Context, f func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.workIn)
	a.bg.Go(func() {
		defer cancel()
		f(ctx)
	})
}

// memLocker is the Locker of a single process, when none is given.
type memLocker struct {
	mu    sync.Mutex
	clock workflow.Clock
	until map[string]time.Time
}

func newMemLocker(c workflow.Clock) *memLocker {
	return &memLocker{clock: c, until: map[string]time.Time{}}
}

// TryLock takes key for ttl unless it is held.
func (m *memLocker) TryLock(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if len(m.until) > 10_000 {
		for k, t := range m.until {
			if !t.After(now) {
				delete(m.until, k)
			}
		}
	}
	if t, ok := m.until[key]; ok && t.After(now) {
		return false, nil
	}
	m.until[key] = now.Add(ttl)
	return true, nil
}

func (a *Adapter) t(en, zh string) string { return workflow.Text{EN: en, ZH: zh}.In(a.locale) }
