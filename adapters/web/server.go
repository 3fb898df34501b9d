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
	// Timeline returns an incident's events, oldest first.
	Timeline(ctx context.Context, id string) ([]workflow.Event, error)
	// List returns the incidents a query selects (the board asks for open).
	List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error)
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
	views   views
	session string
	tmpl    *template.Template
	sender  *Sender
}

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
	s := &Server{cfg: cfg, hub: cfg.Hub, views: views{roster: cfg.Roster, locale: cfg.Locale}, tmpl: templates}
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
//	GET  /login, POST /login, POST /logout  the board token (production)
//	GET  /assets/...                      the page's scripts, styles and icon
//	GET  /favicon.ico                     the icon (an SVG)
//	GET  /api/v1/incidents[/{id}[/timeline]], /api/v1/stats, /api/v1/events (SSE)
//	GET  /api/v1/playground, POST /api/v1/playground/command, POST /api/v1/playground/action
func (s *Server) Register(mux *http.ServeMux) {
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, secureHeaders(h)) }
	handle("GET /{$}", s.home)
	handle("/", s.notFoundPage)
	handle("GET /board", s.page(s.boardPage))
	handle("GET /incidents/{id}", s.page(s.incidentPage))
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
	handle("GET /api/v1/stats", s.api(s.getStats))
	handle("GET /api/v1/events", s.api(s.events))
	if s.cfg.Playground {
		handle("GET /api/v1/playground", s.playgroundInfo)
		handle("POST /api/v1/playground/command", s.sameOrigin(s.command))
		handle("POST /api/v1/playground/action", s.sameOrigin(s.action))
	}
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
}

// clockLabel says how time runs: "demo time: 60×".
func (s *Server) clockLabel() string {
	switch {
	case s.cfg.Scale == 0:
		return "time stands still (test clock)"
	case s.cfg.Scale == 1:
		return "real time"
	}
	return "demo time: " + strconv.FormatFloat(s.cfg.Scale, 'g', -1, 64) + "×"
}

func (s *Server) data(page, title string) pageData {
	return pageData{Title: title, Page: page, Playground: s.cfg.Playground, Clock: s.clockLabel(),
		LoggedIn: !s.cfg.Playground && s.cfg.Token != ""}
}

func (s *Server) render(w http.ResponseWriter, status int, name string, d pageData) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		s.cfg.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) renderMessage(w http.ResponseWriter, status int, title, msg string) {
	d := s.data("message", title)
	d.Message = msg
	s.render(w, status, "message.html", d)
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, next, errMsg string) {
	d := s.data("login", "Log in to the board")
	d.Next, d.Error, d.LoggedIn = localPath(next), errMsg, false
	s.render(w, status, "login.html", d)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Playground {
		http.Redirect(w, r, "/board", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "playground.html", s.data("playground", "Firebreak playground"))
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
}

func (s *Server) boardPage(w http.ResponseWriter, _ *http.Request) {
	s.render(w, http.StatusOK, "board.html", s.data("board", "Firebreak board"))
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) {
	id := workflow.NormalizeID(r.PathValue("id"))
	inc, err := s.cfg.Incidents.Get(r.Context(), id)
	if err != nil {
		if workflow.ErrorCode(err) == workflow.CodeNotFound {
			s.renderMessage(w, http.StatusNotFound, "No such incident", "There is no incident "+r.PathValue("id")+".")
			return
		}
		status, msg := s.failure(r, err)
		s.renderMessage(w, status, "The incident cannot be shown", msg)
		return
	}
	d := s.data("incident", inc.ID+" "+inc.Title)
	d.ID = inc.ID
	s.render(w, http.StatusOK, "incident.html", d)
}

// failure logs err when it is a fault and returns the status and message to
// show: 503 when storage is unreachable, else 500 with a reference.
func (s *Server) failure(r *http.Request, err error) (int, string) {
	if workflow.ErrorCode(err) == workflow.CodeUnavailable {
		return http.StatusServiceUnavailable, "storage unavailable; try again in a moment"
	}
	ref := bot.NewRequestID()
	s.cfg.Log.Error("web request failed", "path", r.URL.Path, "reference", ref, "err", err)
	return http.StatusInternalServerError, "internal error, reference " + ref
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
			msg = we.Msg.In(s.cfg.Locale)
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

func (s *Server) clock() clockInfo {
	return clockInfo{Now: s.cfg.Clock.Now(), Scale: s.cfg.Scale, Timezone: s.cfg.Roster.Location().String(), Locale: s.cfg.Locale}
}

type incidentList struct {
	clockInfo
	Incidents []incidentView `json:"incidents"`
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	incs, err := s.cfg.Incidents.List(r.Context(), workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	out := incidentList{clockInfo: s.clock(), Incidents: []incidentView{}}
	for _, inc := range incs {
		out.Incidents = append(out.Incidents, s.views.incident(inc))
	}
	writeJSON(w, http.StatusOK, out)
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
	writeJSON(w, http.StatusOK, incidentOne{clockInfo: s.clock(), Incident: s.views.detail(inc)})
}

type timeline struct {
	Incident string      `json:"incident"`
	Events   []eventView `json:"events"`
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) {
	id := workflow.NormalizeID(r.PathValue("id"))
	evs, err := s.cfg.Incidents.Timeline(r.Context(), id)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	out := timeline{Incident: id, Events: []eventView{}}
	for _, e := range evs {
		out.Events = append(out.Events, s.views.event(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// recentMax bounds how many incidents the charts read.
const recentMax = 2000

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Clock.Now()
	recent, err := s.cfg.Incidents.Recent(r.Context(), now.Add(-chartWindow), recentMax)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	open, err := s.cfg.Incidents.List(r.Context(), workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	st := s.views.stats(now, recent, open)
	st.clockInfo = s.clock()
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
