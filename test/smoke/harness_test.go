package smoke

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Credentials the binary is started with; the fakes accept only these.
const (
	slackSigningSecret = "smoke-signing-secret-0123456789"
	slackBotToken      = "xoxb-smoke-0000-token"
	telegramToken      = "123456:SMOKE-telegram-token"
	webhookSecret      = "smoke_webhook_secret-42"
)

// person is someone of the roster the tests write.
type person struct {
	id, name, slack string
	telegram        int64
}

// chats are the person's direct-message chats on both platforms.
func (p person) chats() []string {
	return []string{"slack:" + p.slack, fmt.Sprintf("telegram:%d", p.telegram)}
}

var (
	chen = person{"chen", "Chen Jing", "U0CHEN", 1001}
	li   = person{"li", "Li Ming", "U0LI", 1002}
	wang = person{"wang", "Wang Fang", "U0WANG", 1004} // leader, principal
	zhao = person{"zhao", "Zhao Lei", "U0ZHAO", 1005}  // leader
)

// The channels of the standard roster, on both platforms.
const (
	slackIncidents = "slack:C0INCIDENTS"
	tgIncidents    = "telegram:-100111"
	slackLeaders   = "slack:C0LEADERS"
	tgLeaders      = "telegram:-100222"

	tgIncidentsChat int64 = -100111
)

var (
	incidentsChats = []string{slackIncidents, tgIncidents}
	leadersChats   = []string{slackLeaders, tgLeaders}
)

// standardRoster is the roster of most tests: incidents of categories
// other, hype and rumor go to the office, whose only member is chen, so
// chen is the assignee of every such incident; wang is the principal. The
// policy is the default of DESIGN.md §1. digest is the cron spec of the
// daily digest ("" for none).
func standardRoster(digest string) string {
	s := `timezone: Asia/Shanghai
locale: en
organisation: {name: Riverside District Education Bureau}
people:
  - {id: chen, name: Chen Jing, roles: [staff], departments: [office], slack: U0CHEN, telegram: 1001}
  - {id: li, name: Li Ming, roles: [staff], departments: [logistics], slack: U0LI, telegram: 1002}
  - {id: wang, name: Wang Fang, roles: [leader, principal], slack: U0WANG, telegram: 1004}
  - {id: zhao, name: Zhao Lei, roles: [leader], slack: U0ZHAO, telegram: 1005}
  - {id: sun, name: Sun Yue, roles: [spokesperson], slack: U0SUN, telegram: 1006}
departments:
  - {id: office, name: Public Opinion Office, categories: [other, hype, rumor]}
  - {id: logistics, name: Logistics Department, categories: [inquiry]}
channels:
  incidents:  {slack: C0INCIDENTS, telegram: -100111}
  leaders:    {slack: C0LEADERS, telegram: -100222}
  statements: {slack: C0STATEMENTS, telegram: -100333}
`
	if digest != "" {
		s += fmt.Sprintf("digest:\n  daily: %q\n", digest)
	}
	return s
}

// worldOptions configure a world.
type worldOptions struct {
	// scale is FIREBREAK_TIME_SCALE.
	scale float64
	// roster is the roster YAML (standardRoster("") when empty).
	roster string
	// uninitialised leaves the Redis as it starts, empty, without `firebreak
	// store init`: serve refuses it.
	uninitialised bool
}

// world is one Redis, one fake Slack, one fake Telegram and a roster:
// everything the firebreak processes of one test share.
type world struct {
	t          *testing.T
	scale      float64
	redisURL   string
	slack      *fakeSlack
	tg         *fakeTelegram
	rosterPath string

	updateID atomic.Int64
	userMsg  atomic.Int64
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	if o.roster == "" {
		o.roster = standardRoster("")
	}
	w := &world{t: t, scale: o.scale, redisURL: startRedis(t),
		slack: newFakeSlack(t, slackBotToken), tg: newFakeTelegram(t, telegramToken)}
	w.rosterPath = filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(w.rosterPath, []byte(o.roster), 0o600); err != nil {
		t.Fatalf("write roster: %v", err)
	}
	w.userMsg.Store(1_000_000)
	if !o.uninitialised {
		w.storeInit("--next-id", "1") // a new installation
	}
	return w
}

// proc is one `firebreak serve` process.
type proc struct {
	w       *world
	name    string
	addr    string
	cmd     *exec.Cmd
	log     *lineLog
	exited  chan struct{}
	waitErr error
	// started is when the process was started, ready when /readyz first
	// answered 200.
	started, ready time.Time
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// start runs `firebreak serve` against the world and waits until /readyz
// answers 200. The process is killed when the test ends; when the test
// failed, the tail of its stderr is logged.
func (w *world) start(name string) *proc {
	w.t.Helper()
	p := &proc{w: w, name: name, addr: fmt.Sprintf("127.0.0.1:%d", freePort(w.t)), exited: make(chan struct{})}
	env := w.env(p.addr)
	logName := strings.NewReplacer("/", "_", " ", "_").Replace(w.t.Name()) + "-" + name + ".log"
	file, err := os.Create(filepath.Join(logDir, logName))
	if err != nil {
		w.t.Fatalf("log file: %v", err)
	}
	p.log = &lineLog{file: file}
	p.cmd = exec.Command(binary, "serve")
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		w.t.Fatalf("start %s: %v", binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	w.t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		_ = file.Close()
		if w.t.Failed() {
			w.t.Logf("stderr of firebreak %s (last 120 lines; all of it in %s):\n%s", name, file.Name(), p.log.Tail(120))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := httpClient.Get("http://" + p.addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Now()
				return p
			}
		}
		if !p.running() {
			w.t.Fatalf("firebreak %s exited before it was ready (%v):\n%s", name, p.waitErr, p.log.Tail(60))
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("firebreak %s not ready after 30s (last: %v):\n%s", name, err, p.log.Tail(60))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// env is the environment of a firebreak process of the world serving on
// addr: the world's Redis, roster and fakes, and the test's environment
// without any FIREBREAK_ variable of its own.
func (w *world) env(addr string) []string {
	env := []string{
		"FIREBREAK_HTTP_ADDR=" + addr,
		"FIREBREAK_REDIS_URL=" + w.redisURL,
		"FIREBREAK_ROSTER=" + w.rosterPath,
		"FIREBREAK_LOCALE=en",
		"FIREBREAK_TIME_SCALE=" + strconv.FormatFloat(w.scale, 'g', -1, 64),
		"FIREBREAK_LOG_LEVEL=debug",
		"FIREBREAK_SLACK_BOT_TOKEN=" + slackBotToken,
		"FIREBREAK_SLACK_SIGNING_SECRET=" + slackSigningSecret,
		"FIREBREAK_SLACK_API_URL=" + w.slack.APIURL(),
		"FIREBREAK_TELEGRAM_TOKEN=" + telegramToken,
		"FIREBREAK_TELEGRAM_MODE=webhook",
		"FIREBREAK_TELEGRAM_WEBHOOK_URL=http://" + addr + "/telegram/webhook",
		"FIREBREAK_TELEGRAM_WEBHOOK_SECRET=" + webhookSecret,
		"FIREBREAK_TELEGRAM_API_ENDPOINT=" + w.tg.Endpoint(),
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FIREBREAK_") {
			env = append(env, kv)
		}
	}
	return env
}

// storeInit runs `firebreak store init` with args on the world's Redis, as
// an operator does once per new installation, and returns its output.
func (w *world) storeInit(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(binary, append([]string{"store", "init"}, args...)...)
	cmd.Env = w.env("127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("firebreak store init %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill() {
	p.w.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && p.running() {
		p.w.t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.exited
}

// terminate sends SIGTERM and waits for the process to exit; it fails the
// test unless the process exits with status 0 within 30s.
func (p *proc) terminate() {
	p.w.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.w.t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.w.t.Fatalf("firebreak %s still running 30s after SIGTERM", p.name)
	}
	if p.waitErr != nil {
		p.w.t.Errorf("firebreak %s after SIGTERM: got exit %v, want status 0", p.name, p.waitErr)
	}
}

// stamp is the wall-clock window in which the binary handled a request:
// from just before it was sent to just after the answer came back. Whatever
// the binary did for the request (read its clock, open an incident) it did
// within it.
type stamp struct {
	sent, done time.Time
	// answered is when the HTTP answer came (for a slash command answered
	// "working on it", before done, when the reply came on response_url).
	answered time.Time
}

// slash sends a slash command as Slack does — a form signed with the v0
// HMAC scheme — typed by who in #incidents, and returns the reply's text
// (the text and every text of its blocks).
func (p *proc) slash(who person, text string) (string, stamp) {
	p.w.t.Helper()
	reply, at, err := p.trySlash(who, text)
	if err != nil {
		p.w.t.Fatal(err)
	}
	return reply, at
}

// slashRequest is the POST of a slash command's form body, signed as Slack
// signs it at ts.
func (p *proc) slashRequest(body string, ts time.Time) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", slackSignature(slackSigningSecret, stamp, body))
	return req, nil
}

// slashBody is the form body of a slash command as Slack sends it, with a
// trigger ID of its own, and its response_url.
func (p *proc) slashBody(who person, text string) (body, responseURL string) {
	responseURL = p.w.slack.ResponseURL()
	form := url.Values{
		"token": {"unused-verification-token"}, "team_id": {"T0SMOKE"}, "team_domain": {"smoke"},
		"channel_id": {"C0INCIDENTS"}, "channel_name": {"incidents"},
		"user_id": {who.slack}, "user_name": {who.id}, "command": {"/incident"}, "text": {text},
		"api_app_id": {"A0SMOKE"}, "response_url": {responseURL}, "trigger_id": {fmt.Sprintf("1.2.%d", p.w.userMsg.Add(1))},
	}
	return form.Encode(), responseURL
}

// trySlash is slash returning its failure, for use off the test goroutine.
func (p *proc) trySlash(who person, text string) (string, stamp, error) {
	body, responseURL := p.slashBody(who, text)
	req, err := p.slashRequest(body, time.Now())
	if err != nil {
		return "", stamp{}, err
	}
	var at stamp
	at.sent = time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", at, fmt.Errorf("slash command %q: %w", text, err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	at.done = time.Now()
	at.answered = at.done
	if resp.StatusCode != http.StatusOK {
		return "", at, fmt.Errorf("slash command %q: got HTTP %d %s, want 200", text, resp.StatusCode, bytes.TrimSpace(b))
	}
	var reply map[string]any
	if err := json.Unmarshal(b, &reply); err != nil {
		return "", at, fmt.Errorf("slash command %q: answer is not JSON: %v\n%s", text, err, b)
	}
	out := replyText(reply)
	if strings.Contains(out, "Working on it") {
		// Slower than Slack's 3 seconds: the reply follows on response_url.
		var r slackResponse
		if !waitFor(30*time.Second, func() bool {
			var ok bool
			r, ok = p.w.slack.Response(responseURL)
			return ok
		}) {
			return "", at, fmt.Errorf("slash command %q: no reply on response_url within 30s", text)
		}
		at.done, out = r.At, replyText(r.Body)
	}
	return out, at, nil
}

// slackSignature is Slack's v0 request signature.
func slackSignature(secret, timestamp, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":" + body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// replyText is the text of a Slack message and every "text" in its blocks,
// nested ones (a section's text object) included.
func replyText(v map[string]any) string {
	var parts []string
	if s, ok := v["text"].(string); ok {
		parts = append(parts, s)
	}
	walkJSON(v["blocks"], func(x map[string]any) bool {
		if s, ok := x["text"].(string); ok {
			parts = append(parts, s)
		}
		return true
	})
	return strings.Join(parts, "\n")
}

// telegramUpdate posts an update to the webhook as Telegram does, with the
// secret token header, and fails the test unless it is answered 200.
func (p *proc) telegramUpdate(update map[string]any) stamp {
	p.w.t.Helper()
	update["update_id"] = p.w.updateID.Add(1)
	b, err := json.Marshal(update)
	if err != nil {
		p.w.t.Fatal(err)
	}
	status, body, at, err := p.deliverUpdate(b)
	if err != nil {
		p.w.t.Fatalf("telegram update: %v", err)
	}
	if status != http.StatusOK {
		p.w.t.Fatalf("telegram update: got HTTP %d %s, want 200", status, body)
	}
	return at
}

// deliverUpdate posts the bytes of an update to the webhook, as Telegram
// delivers (and redelivers) it, and returns the answer's status and body.
func (p *proc) deliverUpdate(b []byte) (int, string, stamp, error) {
	var at stamp
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/telegram/webhook", bytes.NewReader(b))
	if err != nil {
		return 0, "", at, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", webhookSecret)
	at.sent = time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", at, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	at.done = time.Now()
	at.answered = at.done
	return resp.StatusCode, string(bytes.TrimSpace(body)), at, nil
}

func telegramUser(who person) map[string]any {
	return map[string]any{"id": who.telegram, "is_bot": false, "first_name": who.name, "username": who.id, "language_code": "en"}
}

// telegramCommand types /incident text as who in chat and returns the
// bot's reply to that message.
func (p *proc) telegramCommand(who person, chat int64, text string) (string, stamp) {
	p.w.t.Helper()
	id := int(p.w.userMsg.Add(1))
	full := "/incident " + text
	at := p.telegramUpdate(map[string]any{"message": map[string]any{
		"message_id": id, "date": time.Now().Unix(), "chat": chatObject(chat), "from": telegramUser(who),
		"text": full, "entities": []any{map[string]any{"type": "bot_command", "offset": 0, "length": len("/incident")}},
	}})
	var reply []string
	for _, m := range p.w.tg.Sent() {
		if m.ReplyTo == id {
			reply = append(reply, m.Text)
		}
	}
	if len(reply) == 0 {
		p.w.t.Fatalf("telegram command %q: got no reply to message %d, want one", full, id)
	}
	return strings.Join(reply, "\n"), at
}

// press presses the button labelled label on a Telegram message m, as who.
func (p *proc) press(who person, m message, label string) stamp {
	p.w.t.Helper()
	var data string
	var row []any
	for _, b := range m.Buttons {
		if b.Label == label {
			data = b.Data
		}
		row = append(row, map[string]any{"text": b.Label, "callback_data": b.Data})
	}
	if data == "" {
		p.w.t.Fatalf("press %q: got buttons %v on the message, want one labelled %q", label, m.Buttons, label)
	}
	chat, err := strconv.ParseInt(strings.TrimPrefix(m.Chat, "telegram:"), 10, 64)
	if err != nil {
		p.w.t.Fatalf("press %q: %s is not a Telegram chat", label, m.Chat)
	}
	msgID, _ := strconv.Atoi(m.ID)
	return p.telegramUpdate(map[string]any{"callback_query": map[string]any{
		"id": fmt.Sprintf("cb-%d", p.w.updateID.Load()+1), "from": telegramUser(who), "chat_instance": "smoke", "data": data,
		"message": map[string]any{"message_id": msgID, "date": m.At.Unix(), "chat": chatObject(chat), "text": m.Text,
			"from":         map[string]any{"id": 999, "is_bot": true, "first_name": "Firebreak", "username": "firebreak_smoke_bot"},
			"reply_markup": map[string]any{"inline_keyboard": []any{row}}},
	}})
}

// incident is an incident a test opened.
type incident struct {
	ID    string
	level string
	// opened is when it was opened: its discovery (no found: was given), in
	// the binary's clock, lies within this window.
	opened   stamp
	assignee person
}

var incidentID = regexp.MustCompile(`YQ-\d+`)

// openSlack opens an incident with a slash command typed by who, at
// whatever moment this is (never a whole second or minute on purpose), and
// without found:, as a person would. category other sends it to the office.
func (p *proc) openSlack(who person, level, title string) incident {
	p.w.t.Helper()
	reply, at := p.slash(who, fmt.Sprintf("open %q level:%s category:other", title, level))
	return p.opened(reply, at, level)
}

// openMany opens n general incidents of category other as who, titled
// "<title> <i>", eight requests at a time, at rate a second (0: each as
// soon as a request is free), and returns them in order. Any failure fails
// the test.
func (p *proc) openMany(who person, n int, rate float64, title string) []incident {
	p.w.t.Helper()
	incs := make([]incident, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for i := range next {
				reply, at, err := p.trySlash(who, fmt.Sprintf("open \"%s %d\" level:general category:other", title, i))
				if err != nil {
					errs <- err
					continue
				}
				id := incidentID.FindString(reply)
				if id == "" {
					errs <- fmt.Errorf("open %d: got reply %q, want an incident ID", i, reply)
					continue
				}
				incs[i] = incident{ID: id, level: "general", opened: at}
			}
		})
	}
	for i := range n {
		if rate > 0 {
			// The load generator's own pace, not a wait for the product.
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		}
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		p.w.t.Fatal(err)
	}
	return incs
}

// openTelegram opens an incident with /incident typed by who in the
// Telegram incidents group.
func (p *proc) openTelegram(who person, level, title string) incident {
	p.w.t.Helper()
	reply, at := p.telegramCommand(who, tgIncidentsChat, fmt.Sprintf("open %q level:%s category:other", title, level))
	return p.opened(reply, at, level)
}

func (p *proc) opened(reply string, at stamp, level string) incident {
	p.w.t.Helper()
	id := incidentID.FindString(reply)
	if id == "" || !strings.Contains(strings.ToLower(reply), "opened") {
		p.w.t.Fatalf("open: got reply %q, want one saying which incident was opened", reply)
	}
	return incident{ID: id, level: level, opened: at, assignee: chen}
}

// metrics returns GET /metrics.
func (p *proc) metrics() string {
	p.w.t.Helper()
	resp, err := httpClient.Get("http://" + p.addr + "/metrics")
	if err != nil {
		p.w.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.w.t.Fatalf("GET /metrics: got HTTP %d, want 200", resp.StatusCode)
	}
	return string(b)
}

// messages returns every message that reached either fake, in the order
// received.
func (w *world) messages() []message {
	all := append(w.slack.Posts(), w.tg.Sent()...)
	slices.SortStableFunc(all, func(a, b message) int { return a.At.Compare(b.At) })
	return all
}

// edits returns every edit of a message already posted (Slack's
// chat.update, Telegram's editMessageText and editMessageReplyMarkup), in
// the order received.
func (w *world) edits() []message {
	all := append(w.slack.Updates(), w.tg.Edits()...)
	slices.SortStableFunc(all, func(a, b message) int { return a.At.Compare(b.At) })
	return all
}

// in returns the messages that reached chat, in the order received.
func (w *world) in(chat string) []message {
	var out []message
	for _, m := range w.messages() {
		if m.Chat == chat {
			out = append(out, m)
		}
	}
	return out
}

// find returns the first message to chat whose text contains every one of
// the phrases.
func (w *world) find(chat string, phrases ...string) (message, bool) {
	for _, m := range w.in(chat) {
		if containsAll(m.Text, phrases...) {
			return m, true
		}
	}
	return message{}, false
}

func containsAll(s string, phrases ...string) bool {
	for _, p := range phrases {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitFor polls cond every 20ms until it holds (true) or timeout passes
// (false).
func waitFor(timeout time.Duration, cond func() bool) bool {
	return waitUntil(time.Now().Add(timeout), cond)
}

// waitUntil polls cond every 20ms until it holds (true) or deadline passes
// (false).
func waitUntil(deadline time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lineLog collects a process's output: all of it in a file, and in memory
// for the tail shown on failure.
type lineLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	file *os.File
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_, _ = l.file.Write(p)
	}
	l.buf.Write(p)
	if l.buf.Len() > 4<<20 { // keep the last 2 MiB in memory
		tail := slices.Clone(l.buf.Bytes()[l.buf.Len()-2<<20:])
		l.buf.Reset()
		l.buf.Write(tail)
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Tail returns the last n lines.
func (l *lineLog) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unknownMethods notes the API methods a fake does not know, logging each
// the first time it is called: the product calls something the fake should
// speak.
type unknownMethods struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (u *unknownMethods) note(tb testing.TB, platform, method string) {
	u.mu.Lock()
	first := !u.seen[method]
	if u.seen == nil {
		u.seen = map[string]bool{}
	}
	u.seen[method] = true
	u.mu.Unlock()
	if first {
		tb.Logf("fake %s: unknown method %s called", platform, method)
	}
}
