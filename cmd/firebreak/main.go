// Command firebreak runs Firebreak, the chat-bot that runs the handling of
// public-opinion incidents.
//
//	firebreak [serve]                 HTTP server (health, platforms)
//	firebreak console --as <person>   type commands in the terminal
//	firebreak config                  list the environment variables
//	firebreak roster check <file>     validate a roster file (for the platforms configured)
//	firebreak store init [--next-id N]
//	                                  accept an empty Redis (new, or one that lost its data)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	"golang.org/x/term"

	"github.com/firebreak/firebreak/adapters/console"
	"github.com/firebreak/firebreak/adapters/feed"
	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/rosterfile"
	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "console":
		err = runConsole(ctx, args, stdin, stdout, stderr)
	case "config":
		err = printConfig(stdout)
	case "roster":
		err = rosterCmd(args, stdout)
	case "store":
		err = storeCmd(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "firebreak: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "firebreak %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

const usage = `usage:
  firebreak [serve]                 run the HTTP server (FIREBREAK_HTTP_ADDR)
  firebreak console --as <person>   type /incident commands in the terminal as a roster person
  firebreak config                  list every environment variable
  firebreak roster check <file>     validate a roster file, for the platforms the environment configures
  firebreak store init [--next-id N]
                                    accept the Redis of FIREBREAK_REDIS_URL when it holds no Firebreak
                                    data: a new installation, or one that lost its data (serve refuses
                                    both, as they look the same). The next incident is YQ-N; without
                                    --next-id, a number taken from the clock (minutes since 2020),
                                    above any ID handed out before. A new installation may use 1.
`

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Any early return stops the workers started below.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	playground := !cfg.platformConfigured()
	if playground {
		// Trying it out: an hour passes in a minute, and only this machine
		// can reach the page (no token protects the playground).
		if _, set := os.LookupEnv(envPrefix + "_TIME_SCALE"); !set {
			cfg.TimeScale = 60
		}
		if _, set := os.LookupEnv(envPrefix + "_HTTP_ADDR"); !set {
			cfg.HTTPAddr = "127.0.0.1:8080"
		}
	}
	log := newLogger(cfg, stderr)
	a, err := newApp(ctx, cfg, log, wiring{refuseEmpty: true})
	if err != nil {
		return err
	}
	defer a.Close()

	mux := http.NewServeMux()
	health := http.NewServeMux()
	web.Health(health, readiness{a}, a.metrics.Handler(), log)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /metrics", health)
	mux.Handle("GET /readyz", notReadyWhenLost(a.watch, health))
	var senders []bot.Sender
	platformSenders, err := setupPlatforms(ctx, a, cfg, mux)
	if err != nil {
		return err
	}
	senders = append(senders, platformSenders...)
	webSender, err := setupWeb(ctx, a, cfg, mux, playground)
	if err != nil {
		return err
	}
	if webSender != nil {
		senders = append(senders, webSender)
	}

	// Shutdown runs in this order (the defers below, newest first): the
	// HTTP server drains (the end of this function), the timer loop stops,
	// then delivery stops and releases its outbox leases, so the next
	// replica delivers at once; Redis closes last (a.Close). Delivery has a
	// context of its own, so it goes on while requests drain: what they
	// append is delivered here or, once released, by the next replica.
	deliveryCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	var dispatchers sync.WaitGroup
	defer func() { stopDelivery(); dispatchers.Wait() }()
	var running []*bot.Dispatcher
	for _, sender := range senders {
		d := &bot.Dispatcher{Store: a.store, Sender: sender, Render: a.h, Consumer: replicaName(), Log: log, Metrics: a.metrics}
		running = append(running, d)
		dispatchers.Go(func() {
			if err := d.Run(deliveryCtx); err != nil {
				log.Error("delivery stopped", "platform", sender.Platform(), "err", err)
			}
		})
	}
	// A notice appended by any replica wakes every dispatcher here, so it
	// goes out at once rather than at the next poll.
	appended, stopAppended := a.store.OutboxWakeUps(deliveryCtx)
	defer stopAppended()
	dispatchers.Go(func() {
		for range appended {
			for _, d := range running {
				d.Wake()
			}
		}
	})
	var workers sync.WaitGroup
	defer func() { cancel(); workers.Wait() }()
	workers.Go(func() { a.watch.run(ctx, instanceCheckEvery) })
	wake, unsubscribe := a.store.WakeUps(ctx)
	defer unsubscribe()
	a.sched.Wake = wake
	workers.Go(func() {
		if err := a.sched.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("timer loop stopped", "err", err)
		}
	})
	stopCron := a.cron.Start(ctx)
	defer stopCron()
	if feeds := a.roster.Intake.Feeds; len(feeds) > 0 {
		poller := feed.New(feed.Options{Feeds: feeds, Receiver: a.svc, Locker: a.store, State: a.store.Memo("feed"),
			Clock: a.clock, Log: log, Registerer: a.metrics.Registry()})
		workers.Go(func() { _ = poller.Run(ctx) })
		log.Info("watching feeds", "feeds", len(feeds))
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := newHTTPServer(mux, serverLimits)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("firebreak serving", "addr", ln.Addr().String(), "roster", a.roster.String(), "locale", a.locale,
		"platforms", len(platformSenders))
	if playground {
		fmt.Fprintf(stderr, "\nFirebreak playground: http://%s/  (demo time: %gx; Ctrl-C to stop)\n\n", ln.Addr(), cfg.TimeScale)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("shutting down: releasing the outbox for the next replica")
	return nil
}

// httpLimits bound what one client can hold of the HTTP server.
type httpLimits struct {
	// ReadHeader bounds reading the request line and headers, Read the
	// whole request with its body: a client trickling bytes is cut off.
	ReadHeader, Read time.Duration
	// Write bounds handling and writing the answer, from the end of the
	// headers. The event stream (/api/v1/events) lifts it for itself.
	Write time.Duration
	// Idle bounds a kept-alive connection between requests.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// serverLimits are the limits of `firebreak serve`. Slack, Telegram and
// browsers send their requests (a few KiB, at most 1 MiB) in well under a
// second; Write exceeds the longest handling of a request, a Telegram update
// (30 s, telegram.handleTimeout); a Slack command answers within 3 s.
var serverLimits = httpLimits{
	ReadHeader:     5 * time.Second,
	Read:           10 * time.Second,
	Write:          45 * time.Second,
	Idle:           90 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

// newHTTPServer returns the server of h with limits l.
func newHTTPServer(h http.Handler, l httpLimits) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read,
		WriteTimeout: l.Write, IdleTimeout: l.Idle, MaxHeaderBytes: l.MaxHeaderBytes}
}

// notReadyWhenLost answers /readyz 503 with the cause while the store is not
// the one this process started on, and leaves the rest to next (whose
// answer names no cause but "Redis unavailable").
func notReadyWhenLost(watch *storeWatch, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := watch.Lost(); err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: Redis lost Firebreak's data / Redis 丢失了 Firebreak 的数据\n%v\n"+
				"No incident is opened until an operator runs `firebreak store init` and restarts Firebreak.\n"+
				"运维人员执行 `firebreak store init` 并重启 Firebreak 之前,不会新建事件。\n", err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readiness is ready while Redis answers, holds the store this process
// started on, and the timer loop can read its queue.
type readiness struct{ a *app }

// Ping reports why the replica is not ready, or nil.
func (r readiness) Ping(ctx context.Context) error {
	if err := r.a.watch.Lost(); err != nil {
		return err
	}
	if !r.a.sched.Ready() {
		return errors.New("the timer loop cannot read its queue")
	}
	return r.a.store.Ping(ctx)
}

// replicaName names this process among the replicas (outbox consumer).
func replicaName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "firebreak"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

func runConsole(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	as := fs.String("as", "chen", "roster ID of the person typing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if os.Getenv(envPrefix+"_LOG_LEVEL") == "" {
		cfg.LogLevel = "warn" // request logs would drown the transcript
	}
	log := newLogger(cfg, stderr)
	// The console's clock follows the app's (demo time goes on from the
	// epoch kept in Redis) and :advance moves it ahead.
	var clock *workflow.OffsetClock
	a, err := newApp(ctx, cfg, log.With("adapter", "console"), wiring{refuseEmpty: true, wrapClock: func(base workflow.Clock) workflow.Clock {
		clock = workflow.NewOffsetClock(base)
		return clock
	}})
	if err != nil {
		return err
	}
	defer a.Close()
	c := newConsole(a, clock)
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.Prompt = true
		fmt.Fprintln(stdout, "Firebreak console. Type /incident help; :as <person> switches who you are; Ctrl-D quits.")
	}
	return c.Run(ctx, *as, stdin, stdout)
}

// newConsole wires the console adapter to the app: its router, outbox,
// timers and the clock that :advance moves.
func newConsole(a *app, clock console.SettableClock) *console.Console {
	return &console.Console{Router: a.router, Outbox: a.store, Render: a.h, Roster: a.roster,
		Clock: clock, Timers: a.store, RunDue: a.sched.RunDue, Digest: a.h.Digest, Intake: a.consoleIntake}
}

// consoleIntake delivers the items of body (a JSON item or an array of
// them, each naming its source) as POST /intake would, and says in a line
// each what became of them.
func (a *app) consoleIntake(ctx context.Context, body string) (string, error) {
	var items []workflow.Item
	body = strings.TrimSpace(body)
	var err error
	if strings.HasPrefix(body, "[") {
		err = json.Unmarshal([]byte(body), &items)
	} else {
		var it workflow.Item
		err = json.Unmarshal([]byte(body), &it)
		items = []workflow.Item{it}
	}
	if err != nil {
		return "", fmt.Errorf(":intake needs a JSON item or an array of them: %w", err)
	}
	got, err := a.svc.Intake(ctx, "", items)
	if err != nil {
		if t := workflow.ErrorText(err); t != nil {
			return "", errors.New(t.In(a.locale))
		}
		return "", err
	}
	lines := make([]string, len(got))
	for i, r := range got {
		lines[i] = "⇢ " + r.Candidate + " " + string(r.Outcome)
		if r.Incident != "" {
			lines[i] += " " + r.Incident
		}
	}
	return strings.Join(lines, "\n"), nil
}

// configRows is the row of envconfig.DefaultTableFormat: the platforms'
// variables continue the table of Config.
const configRows = "{{range .}}{{usage_key .}}\t{{usage_type .}}\t{{usage_default .}}\t{{usage_required .}}\t{{usage_description .}}\n{{end}}"

func printConfig(w io.Writer) error {
	var c Config
	if err := envconfig.Usagef(envPrefix, &c, w, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	return printPlatformSettings(w)
}

func rosterCmd(args []string, w io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		return errors.New("usage: firebreak roster check <file>")
	}
	// Checked as serve would load it: the platforms the environment
	// configures must find their channels in it.
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	on := running(cfg)
	r, err := rosterfile.LoadRunning(args[1], on, platforms()...)
	if err != nil {
		if t := workflow.ErrorText(err); t != nil && rosterLocale(args[1]) == workflow.LocaleZH {
			// An office that keeps its roster in Chinese reads why in Chinese.
			return errors.New(t.ZH)
		}
		return err
	}
	if len(on) > 0 {
		fmt.Fprintf(w, "%s: ok for %s (%s)\n", args[1], strings.Join(on, " and "), r)
		return nil
	}
	fmt.Fprintf(w, "%s: ok (%s)\n", args[1], r)
	return nil
}

// rosterLocale is the language a roster file that may not load asks for:
// its locale key, else the terminal's (LANG, LC_ALL, LC_MESSAGES).
func rosterLocale(path string) string {
	chinese := func(l string) string {
		if strings.HasPrefix(strings.ToLower(l), "zh") {
			return workflow.LocaleZH
		}
		return workflow.LocaleEN
	}
	if b, err := os.ReadFile(path); err == nil {
		if m := localeLine.FindSubmatch(b); m != nil {
			return chinese(string(m[1]))
		}
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if l := os.Getenv(v); l != "" {
			return chinese(l)
		}
	}
	return workflow.LocaleEN
}

var localeLine = regexp.MustCompile(`(?m)^locale:\s*["']?([A-Za-z-]+)`)

// storeCmd runs `firebreak store init [--next-id N]`.
func storeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: firebreak store init [--next-id N]"
	if len(args) == 0 || args[0] != "init" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("store init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	next := fs.Int64("next-id", 0, "number of the next incident, YQ-N (at least 1); unset: minutes since 2020 by the clock, above any earlier ID")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(use)
	}
	nextSet := false
	fs.Visit(func(f *flag.Flag) { nextSet = nextSet || f.Name == "next-id" })
	if nextSet && *next < 1 {
		return fmt.Errorf("--next-id must be at least 1, not %d", *next)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errors.New(envPrefix + "_REDIS_URL is not set: the embedded Redis starts empty at every start and initialises itself; " +
			"set it to the Redis to initialise")
	}
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := dialRedis(dialCtx, cfg, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer client.Close()
	return initStore(dialCtx, fbredis.New(client, fbredis.Options{}), *next, time.Now(), fbredis.Redact(cfg.RedisURL), stdout)
}

// idEpoch is where clockNextID counts from.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// clockNextID is the first incident number of a store initialised at now
// without --next-id: the minutes since 2020 (YQ-3639461 at 09:41 UTC on 2
// December 2026). An earlier store's IDs stay below it unless that store
// handed out more than one ID a minute on average since it was initialised,
// which no office does.
func clockNextID(now time.Time) int64 {
	return max(1, int64(now.Sub(idEpoch)/time.Minute))
}

// initStore accepts the store with its next incident numbered next (0: by
// the clock at now) and says what it did; where names the Redis.
func initStore(ctx context.Context, store *fbredis.Store, next int64, now time.Time, where string, w io.Writer) error {
	if next == 0 {
		next = clockNextID(now)
	}
	// A process still running on the wiped Redis knows the last ID posted;
	// asked, it leaves it beside the marker (it would within 2 s anyway,
	// but init may come sooner).
	if err := store.AskLostSeq(ctx, 2*time.Second); err != nil {
		fmt.Fprintf(w, "could not ask running Firebreak processes for the last incident ID: %v\n", err)
	}
	lost, err := store.LostSeq(ctx)
	if err != nil {
		return err
	}
	inst, first, err := store.InitInstance(ctx, next, fbredis.InitByOperator)
	if errors.Is(err, fbredis.ErrInitialised) {
		return fmt.Errorf("%s: %w; nothing was changed (store init accepts only a store that Firebreak refuses: "+
			"one with no Firebreak data, or one that lost it)", where, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "store initialised: %s, instance %s (%s)\n", where, inst.ID, store.InstanceKey())
	switch {
	case first > next && first == lost+1:
		fmt.Fprintf(w, "a running Firebreak had handed out YQ-%d when it found the data lost (%s): ", lost, store.LostSeqKey())
	case first > next:
		fmt.Fprintf(w, "the incident counter was already past YQ-%d: ", next-1)
	}
	fmt.Fprintf(w, "the next incident is YQ-%d\n", first)
	fmt.Fprintln(w, "restart every Firebreak process on this Redis: one still running holds the old store's state "+
		"(which cards and threads belong to which incident) and stays not ready")
	return nil
}
