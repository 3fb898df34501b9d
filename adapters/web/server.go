package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Router runs a request through the bot: a *bot.Router, the same one the
// chat platforms use, so the playground gets exactly their replies.
type Router interface {
	Handle(ctx context.Context, req *bot.Request) *bot.Reply
}

// Incidents is what the board reads: the Redis Store.
type Incidents interface {
	// Get returns an incident (workflow.CodeNotFound when there is none).
	Get(ctx context.Context, id string) (*workflow.Incident, error)
	// History returns an incident (workflow.CodeNotFound when there is
	// none) with its events, oldest first, read together.
	History(ctx context.Context, id string) (*workflow.Incident, []workflow.Event, error)
	// List returns the incidents a query selects (the board asks for open).
	List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error)
	// ListPage is List with how many match in all: the export reads the
	// resolved incidents a page at a time.
	ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error)
	// Recent returns the incidents discovered at or after since among the
	// last max opened, resolved ones included (for the charts).
	Recent(ctx context.Context, since time.Time, max int) ([]*workflow.Incident, error)
}

// Config is what a Server needs. Router, Incidents, Roster and Clock are
// required.
type Config struct {
	Router    Router
	Incidents Incidents
	Roster    *workflow.Roster
	// Locale names levels, statuses and deadlines ("en" or "zh-CN").
	Locale string
	// Clock is the app's clock; Scale is how fast it runs against the wall
	// clock (1 in production, 60 in the demo, 0 for a clock that stands
	// still), so the page can count down between two fetches.
	Clock workflow.Clock
	Scale float64
	// Playground turns on the playground at GET / and lets anyone who can
	// reach the server see the board (the server listens on 127.0.0.1).
	// Without it the board needs Token, and is off when Token is empty.
	Playground bool
	// Token is FIREBREAK_BOARD_TOKEN.
	Token string
	// TrustProxy says the server is reached through a reverse proxy that
	// sets (overwriting what the client sent) X-Forwarded-Proto,
	// X-Forwarded-For and X-Forwarded-Host. Then cookies are Secure (the
	// proxy is taken to serve HTTPS unless it says X-Forwarded-Proto:
	// http), logins count against the address
	// the proxy saw, and an Origin may name the host the proxy was asked
	// for. Without it those headers are ignored: anyone can send them.
	TrustProxy bool
	// StoreTimeout bounds every storage call made for a request (Incidents
	// and, for the playground, Router): past it the request answers 503
	// (a command: a failed reply) instead of waiting for a stalled Redis.
	// Zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Describe says what a timeline event was, in a sentence in the locale
	// asked for (the handlers' EventLine); nil: a plain sentence from the
	// event's kind, actor and text.
	Describe func(e workflow.Event, locale string) string
	// Reports builds the handling report of an incident (the handlers'
	// BuildReport); nil: the report pages answer 404.
	Reports Reports
	// Intake takes monitoring items at POST /intake and lists the
	// candidates of the board's triage lane: the Service, once UseIntake
	// gave it a store. Nil (or a Service without one): the intake answers
	// 503 and the board has no triage lane.
	Intake Intake
	// IntakeToken is FIREBREAK_INTAKE_TOKEN, the bearer token of POST
	// /intake for any source; a source's own token is the roster's
	// (intake.tokens), valid for that source only. With neither, POST
	// /intake answers 503.
	IntakeToken string
	// Hub holds the posts and streams events (a new one when nil).
	Hub *Hub
	// Log receives failures (discarded when nil).
	Log *slog.Logger
}

// Server serves the playground, the board, the incident pages, the JSON API
// under /api/v1/ and the event stream.
type Server struct {
	cfg     Config
	hub     *Hub
	session string
	tmpl    *template.Template
	sender  *Sender
	logins  *loginLimiter
	// intakeFails counts wrong intake tokens per client, as logins does
	// login attempts.
	intakeFails *loginLimiter
}

// DefaultStoreTimeout is how long a request waits for storage unless
// Config.StoreTimeout says otherwise.
const DefaultStoreTimeout = 3 * time.Second

// maxBody bounds the body of every request that may change state but a
// delivery to the intake (maxIntakeBody); the login form reads at most
// 8 KiB of it.
const maxBody = 64 << 10

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hub == nil {
		cfg.Hub = NewHub(0)
	}
	if cfg.Locale == "" {
		cfg.Locale = cfg.Roster.Locale
	}
	if _, ok := knownLocale(cfg.Locale); !ok {
		cfg.Locale = workflow.LocaleEN
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if e, ok := cfg.Intake.(interface{ IntakeEnabled() bool }); ok && !e.IntakeEnabled() {
		cfg.Intake = nil // a Service with no intake store
	}
	// Every storage call of a request is bounded here, once, so that no
	// handler can forget it (go-redis ignores context deadlines unless told
	// otherwise, so the bound does not rely on the store honouring them).
	cfg.Incidents = boundedIncidents{Incidents: cfg.Incidents, timeout: cfg.StoreTimeout}
	if cfg.Router != nil {
		cfg.Router = boundedRouter{Router: cfg.Router, timeout: cfg.StoreTimeout, locale: cfg.Locale}
	}
	s := &Server{cfg: cfg, hub: cfg.Hub, tmpl: templates, logins: newLoginLimiter(), intakeFails: newLoginLimiter()}
	if cfg.Token != "" {
		s.session = sessionValue(cfg.Token)
	}
	s.sender = NewSender(cfg.Hub, cfg.Clock)
	return s
}

// Sender returns the web platform's outbox sender, posting to this server's
// hub. Run a bot.Dispatcher with it.
func (s *Server) Sender() *Sender { return s.sender }

// Hub returns the server's hub.
func (s *Server) Hub() *Hub { return s.hub }

// Close ends the event streams, so that the HTTP server can shut down.
func (s *Server) Close() { s.hub.Close() }

// Register adds the server's routes to mux:
//
//	GET  /                                the playground (in production: a redirect to /board)
//	GET  /board                           every open incident, live, and the charts
//	GET  /incidents/{id}                  one incident: timeline, drafts, approvals
//	GET  /incidents/{id}/report[.md]      its handling report, to print (or as Markdown)
//	GET  /stats[?period=…]                the statistics of a period
//	GET  /login, POST /login, POST /logout  the board token (production)
//	GET  /assets/...                      the page's scripts, styles and icon
//	GET  /favicon.ico                     the icon (an SVG)
//	GET  /api/v1/incidents[?page=N], /api/v1/incidents/{id}[/timeline], /api/v1/stats, /api/v1/events (SSE)
//	GET  /api/v1/incidents.csv, /api/v1/incidents.json  the export (?from=&to=)
//	GET  /api/v1/candidates[?state=&page=]  the monitoring candidates (the triage lane)
//	GET  /api/v1/playground, POST /api/v1/playground/command, POST /api/v1/playground/action
//	POST /api/v1/playground/intake        the playground's intake pane (source "playground")
//	POST /intake, POST /intake/{source}   monitoring items, with a bearer token (docs/intake.md)
//
// Every route goes through the same guard (see guard): requests that may
// change state must come from this site and carry a bounded body.
func (s *Server) Register(mux *http.ServeMux) {
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, secureHeaders(s.guard(h))) }
	handle("GET /{$}", s.home)
	handle("/", s.notFoundPage)
	handle("GET /board", s.page(s.boardPage))
	handle("GET /stats", s.page(s.statsPage))
	handle("GET /incidents/{id}", s.page(s.incidentPage))
	handle("GET /incidents/{id}/report", s.page(s.reportPage))
	handle("GET /incidents/{id}/report.md", s.page(s.reportMarkdown))
	handle("GET /login", s.loginForm)
	handle("POST /login", s.login)
	handle("POST /logout", s.logout)
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/assets/", http.FileServerFS(static))
	handle("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			s.notFoundPage(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})

	// Browsers ask for /favicon.ico whatever the page links: the same icon.
	handle("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=86400")
		http.ServeFileFS(w, r, static, "favicon.svg")
	})
	handle("/api/v1/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API endpoint")
	})
	handle("GET /api/v1/incidents", s.api(s.listIncidents))
	handle("GET /api/v1/incidents/{id}", s.api(s.getIncident))
	handle("GET /api/v1/incidents/{id}/timeline", s.api(s.getTimeline))
	handle("GET /api/v1/incidents.csv", s.api(s.exportCSV))
	handle("GET /api/v1/incidents.json", s.api(s.exportJSON))
	handle("GET /api/v1/stats", s.api(s.getStats))
	handle("GET /api/v1/events", s.api(s.events))
	handle("GET /api/v1/candidates", s.api(s.getCandidates))
	if s.cfg.Playground {
		handle("GET /api/v1/playground", s.playgroundInfo)
		handle("POST /api/v1/playground/command", s.sameOrigin(s.command))
		handle("POST /api/v1/playground/action", s.sameOrigin(s.action))
		handle("POST /api/v1/playground/intake", s.sameOrigin(s.playgroundIntake))
	}
	handle("POST /intake", s.intake)
	handle("POST /intake/{source}", s.intake)
	handle("/intake", intakeMethod)
	handle("/intake/{source}", intakeMethod)
}

// contentSecurityPolicy allows the page's own scripts, styles and API and
// nothing else: no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// guard is the middleware of every route. It notes a request that came
// through a trusted proxy, which serves HTTPS unless it says otherwise
// (see secure); and a request that may
// change state (any method but GET, HEAD and OPTIONS) is refused with 403
// when a browser says another site sent it, and with 413 when its body is
// larger than maxBody (maxIntakeBody for the intake); the body is cut off
// at that size before any handler reads it.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proto := lastHeader(r.Header, "X-Forwarded-Proto"); s.cfg.TrustProxy && (proto == "" || strings.EqualFold(proto, "https")) {
			r = r.WithContext(context.WithValue(r.Context(), httpsKey{}, true))
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		if !s.sameSite(r) {
			s.cfg.Log.Warn("cross-site request refused", "method", r.Method, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
			s.refuse(w, r, http.StatusForbidden, "forbidden", msgCrossSite)
			return
		}
		limit := bodyLimit(r.URL.Path)
		if r.ContentLength > limit {
			if isIntakePath(r.URL.Path) {
				writeIntakeError(w, http.StatusRequestEntityTooLarge, tooLarge(limit))
				return
			}
			s.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", msgTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// sameSite reports whether r may have come from this site. A browser that
// sends Sec-Fetch-Site is believed: "same-origin", or "none" (typed,
// bookmarked), and nothing else ("same-site" siblings are other sites too).
// Its Origin is not checked then: under this server's Referrer-Policy
// (no-referrer) Chromium sends "Origin: null" with the login form of our
// own page. A browser without Sec-Fetch-Site is judged by Origin, whose
// host must be the request's (or, behind a trusted proxy, the host the
// proxy was asked for). A request with neither header does not come from a
// browser page (curl, scripts with the bearer token, tests), so no other
// site can have made it: it is allowed. (The rule of Go's
// http.CrossOriginProtection, with the trusted proxy's host added.)
func (s *Server) sameSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // "null": a sandboxed page, or a redirect from elsewhere
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(u.Host, lastHeader(r.Header, "X-Forwarded-Host"))
}

// lastHeader is the last value of a header that proxies may append to
// ("a, b" or repeated): the one the nearest proxy set.
func lastHeader(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) == 0 {
		return ""
	}
	parts := strings.Split(vs[len(vs)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1])
}

var (
	msgCrossSite = workflow.Text{
		EN: "refused: this request was sent by another site; use the pages of this server",
		ZH: "已拒绝:该请求由其他网站发出;请使用本服务的页面",
	}
	msgTooLarge = workflow.Text{
		EN: fmt.Sprintf("refused: the request body is larger than %d KiB", maxBody>>10),
		ZH: fmt.Sprintf("已拒绝:请求内容超过 %d KiB", maxBody>>10),
	}
)

// refuse answers a request the guard turns away: in JSON under /api/, in
// the request's language (the intake: in both); elsewhere as plain text in
// both languages (no page of ours asked for it).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, code string, msg workflow.Text) {
	if isIntakePath(r.URL.Path) {
		writeIntakeError(w, status, intakeError{Code: code, Error: msg.EN, ErrorZH: msg.ZH})
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, status, code, msg.In(s.localeOf(r)))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s\n%s\n", msg.EN, msg.ZH)
}

// Pages.

// pageData is what the templates see. html/template escapes every field.
type pageData struct {
	Title      string
	Page       string
	Playground bool
	Clock      string
	ID         string
	Next       string
	Error      string
	Message    string
	LoggedIn   bool
	// Intake says the monitoring intake is on: the board shows its triage
	// lane and the playground its intake pane.
	Intake bool
	// Locale is the page's language; Lang the language switch.
	Locale string
	Lang   []langLink
	// I18n is what the page's scripts read (FB.t): embedded as JSON.
	I18n pageI18n
}

// pageI18n is the dictionary of the page's locale, and the names of the
// deadlines in every locale (so that a card's deadline lines can be found
// and shown live whatever language the bot wrote them in).
type pageI18n struct {
	Locale    string            `json:"locale"`
	Labels    map[string]string `json:"labels"`
	Deadlines map[string]string `json:"deadlines"`
}

// T is the page's text for key (see labels).
func (d pageData) T(key string, args ...any) string { return label(d.Locale, key, args...) }

// TH is the page's text for key as HTML, with {0}, {1}, ... replaced by
// codes shown as code; everything is escaped.
func (d pageData) TH(key string, codes ...string) template.HTML {
	s := template.HTMLEscapeString(label(d.Locale, key))
	for i, c := range codes {
		s = strings.ReplaceAll(s, fmt.Sprintf("{%d}", i), "<code>"+template.HTMLEscapeString(c)+"</code>")
	}
	return template.HTML(s) //nolint:gosec // every part is escaped above
}

// clockLabel says how time runs: "demo time: 60×".
func (s *Server) clockLabel(locale string) string {
	switch {
	case s.cfg.Scale == 0:
		return label(locale, "clock.still")
	case s.cfg.Scale == 1:
		return label(locale, "clock.real")
	}
	return label(locale, "clock.demo", strconv.FormatFloat(s.cfg.Scale, 'g', -1, 64))
}

// data is what every page shows, in the request's language; title is a
// label key.
func (s *Server) data(r *http.Request, page, title string) pageData {
	locale := s.localeOf(r)
	u := r.URL
	if r.Method != http.MethodGet {
		u = &url.URL{Path: u.Path} // a form's answer: switch to the page, not the post
	}
	return pageData{Title: label(locale, title), Page: page, Playground: s.cfg.Playground, Clock: s.clockLabel(locale),
		LoggedIn: !s.cfg.Playground && s.cfg.Token != "", Intake: s.cfg.Intake != nil, Locale: locale, Lang: langLinks(u, locale),
		I18n: pageI18n{Locale: locale, Labels: dictionary(locale), Deadlines: deadlineLabels()}}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		s.cfg.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	keepLocale(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// renderMessage shows a page with a title (a label key) and a message.
func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	d := s.data(r, "message", title)
	d.Message = msg
	s.render(w, r, status, "message.html", d)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, errKey string) {
	msg := ""
	if errKey != "" {
		msg = label(s.localeOf(r), errKey)
	}
	s.renderLoginText(w, r, status, next, msg)
}

// renderLoginText shows the login form with an error message (already in
// the request's language), or none.
func (s *Server) renderLoginText(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	d := s.data(r, "login", "title.login")
	d.Next, d.LoggedIn = localPath(next), false
	d.Error = msg
	if r.Method != http.MethodGet {
		d.Lang = langLinks(&url.URL{Path: "/login", RawQuery: url.Values{"next": {d.Next}}.Encode()}, d.Locale)
	}
	s.render(w, r, status, "login.html", d)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Playground {
		http.Redirect(w, r, "/board", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "playground.html", s.data(r, "playground", "title.playground"))
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, r, http.StatusNotFound, "title.not_found", label(s.localeOf(r), "msg.not_found", r.URL.Path))
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "board.html", s.data(r, "board", "title.board"))
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) {
	id := workflow.NormalizeID(r.PathValue("id"))
	inc, err := s.cfg.Incidents.Get(r.Context(), id)
	if err != nil {
		if workflow.ErrorCode(err) == workflow.CodeNotFound {
			s.renderMessage(w, r, http.StatusNotFound, "title.no_incident", label(s.localeOf(r), "msg.no_incident", r.PathValue("id")))
			return
		}
		status, msg := s.failure(r, err)
		s.renderMessage(w, r, status, "title.incident_fail", msg)
		return
	}
	d := s.data(r, "incident", "")
	d.Title, d.ID = inc.ID+" "+inc.Title, inc.ID
	s.render(w, r, http.StatusOK, "incident.html", d)
}

// failure logs err when it is a fault and returns the status and message to
// show: 503 when storage is unreachable, else 500 with a reference.
func (s *Server) failure(r *http.Request, err error) (int, string) {
	locale := s.localeOf(r)
	if workflow.ErrorCode(err) == workflow.CodeUnavailable {
		return http.StatusServiceUnavailable, label(locale, "msg.unavailable")
	}
	ref := bot.NewRequestID()
	s.cfg.Log.Error("web request failed", "path", r.URL.Path, "reference", ref, "err", err)
	return http.StatusInternalServerError, label(locale, "msg.internal", ref)
}

// JSON API.

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is the body of every JSON error.
type apiError struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Error: msg})
}

func (s *Server) writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	if workflow.ErrorCode(err) == workflow.CodeNotFound {
		var we *workflow.Error
		msg := "not found"
		if errors.As(err, &we) {
			msg = we.Msg.In(s.localeOf(r))
		}
		writeError(w, http.StatusNotFound, "not_found", msg)
		return
	}
	status, msg := s.failure(r, err)
	code := "internal"
	if status == http.StatusServiceUnavailable {
		code = "unavailable"
	}
	writeError(w, status, code, msg)
}

func (s *Server) clock(r *http.Request) clockInfo {
	return clockInfo{Now: s.cfg.Clock.Now(), Scale: s.cfg.Scale, Timezone: s.cfg.Roster.Location().String(), Locale: s.localeOf(r)}
}

// views renders the JSON of a request, in its language.
func (s *Server) views(r *http.Request) views {
	return views{roster: s.cfg.Roster, locale: s.localeOf(r), describe: s.cfg.Describe}
}

type incidentList struct {
	clockInfo
	// Page, Pages and More are there when a page was asked for.
	Page      int            `json:"page,omitempty"`
	Pages     int            `json:"pages,omitempty"`
	Total     int            `json:"total"`
	More      *int           `json:"more,omitempty"`
	Incidents []incidentView `json:"incidents"`
}

// apiPageSize is how many incidents one page of GET /api/v1/incidents
// holds.
const apiPageSize = 50

// listIncidents serves GET /api/v1/incidents[?page=N]: the open incidents,
// all of them (the board), or page N of apiPageSize, most urgent first,
// with how many pages and how many more after it.
func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	page, bad := pageParam(r)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "invalid", bad.In(s.localeOf(r)))
		return
	}
	q := workflow.ListQuery{Filter: workflow.ListOpen}
	if page > 0 {
		q.Urgent, q.Offset, q.Limit = true, (page-1)*apiPageSize, apiPageSize
	}
	p, err := s.cfg.Incidents.ListPage(r.Context(), q)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	out := incidentList{clockInfo: s.clock(r), Total: p.Total, Incidents: []incidentView{}}
	if page > 0 {
		more := max(0, p.Total-(page-1)*apiPageSize-len(p.Incidents))
		out.Page, out.Pages, out.More = page, max(1, (p.Total+apiPageSize-1)/apiPageSize), &more
	}
	for _, inc := range p.Incidents {
		out.Incidents = append(out.Incidents, s.views(r).incident(inc))
	}
	writeJSON(w, http.StatusOK, out)
}

// pageParam is the page a request asks for with ?page=N (from 1): 0 when
// it asks for none, and what is wrong with it when it is no page number.
func pageParam(r *http.Request) (int, *workflow.Text) {
	v := strings.TrimSpace(r.URL.Query().Get("page"))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &workflow.Text{
			EN: fmt.Sprintf("page=%q is not a page number; pages count from 1", clip(v)),
			ZH: fmt.Sprintf("page=%q 不是页码;页码从 1 开始", clip(v)),
		}
	}
	return n, nil
}

type incidentOne struct {
	clockInfo
	Incident incidentDetail `json:"incident"`
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := s.cfg.Incidents.Get(r.Context(), workflow.NormalizeID(r.PathValue("id")))
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentOne{clockInfo: s.clock(r), Incident: s.views(r).detail(inc)})
}

type timeline struct {
	Incident string      `json:"incident"`
	Events   []eventView `json:"events"`
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) {
	id := workflow.NormalizeID(r.PathValue("id"))
	_, evs, err := s.cfg.Incidents.History(r.Context(), id)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	out := timeline{Incident: id, Events: []eventView{}}
	v := s.views(r)
	for _, e := range evs {
		out.Events = append(out.Events, v.event(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// recentMax bounds how many incidents the charts read.
const recentMax = 2000

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	// Two reads, one deadline: the answer comes within StoreTimeout.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
	defer cancel()
	now := s.cfg.Clock.Now()
	recent, err := s.cfg.Incidents.Recent(ctx, now.Add(-chartWindow), recentMax)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	open, err := s.cfg.Incidents.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	st := s.views(r).stats(now, recent, open)
	st.clockInfo = s.clock(r)
	st.Now = now
	writeJSON(w, http.StatusOK, st)
}

// Event stream.

// heartbeat keeps idle event streams (and proxies) alive.
const heartbeat = 15 * time.Second

// events streams Server-Sent Events: "ready" once connected, "changed" when
// incidents changed (a notice was delivered, or a command ran), and in the
// playground "post" for every message delivered, with the post's revision as
// event ID. A browser that reconnects sends Last-Event-ID and gets the posts
// it missed; a new one gets every post the hub keeps.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// A stream lasts; whatever read or write timeout the HTTP server has
	// is for requests, not for this one (ErrNotSupported in tests).
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	sub := s.hub.Subscribe()
	defer sub.Close()
	w.WriteHeader(http.StatusOK)

	var b bytes.Buffer
	b.WriteString("retry: 2000\n\n")
	if s.cfg.Playground {
		last, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
		for _, p := range s.hub.Since(last) {
			writeEvent(&b, postEvent(&p))
		}
	}
	writeEvent(&b, Event{Name: "ready", Data: []byte(`{}`)})
	if _, err := w.Write(b.Bytes()); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		b.Reset()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			b.WriteString(": ping\n\n")
		case e, ok := <-sub.C:
			if !ok {
				return // the hub closed (shutdown) or we fell behind: the browser reconnects
			}
			if e.Name == EventPost && !s.cfg.Playground {
				continue // the board needs only "changed"; posts are the playground's
			}
			writeEvent(&b, e)
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func writeEvent(b *bytes.Buffer, e Event) {
	if e.ID > 0 {
		fmt.Fprintf(b, "id: %d\n", e.ID)
	}
	fmt.Fprintf(b, "event: %s\ndata: %s\n\n", e.Name, e.Data)
}
