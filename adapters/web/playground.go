package web

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The playground is the third chat platform: a person picks who they are
// from the roster and types /incident commands, or presses the buttons of
// the cards the bot posted, and the request goes through the same router as
// a Slack slash command or a Telegram callback query. What the bot sends to
// others arrives through the outbox (Sender) and the event stream.

// Conversation is the playground's conversation ID for typed commands.
const Conversation = "playground"

// personView is one person of the roster, for the pickers.
type personView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Departments []string `json:"departments,omitempty"`
	Leader      bool     `json:"leader"`
}

type playgroundView struct {
	clockInfo
	Clock    string       `json:"clock"`
	People   []personView `json:"people"`
	Channels []string     `json:"channels"`
}

func (s *Server) playgroundInfo(w http.ResponseWriter, r *http.Request) {
	out := playgroundView{clockInfo: s.clock(r), Clock: s.clockLabel(s.localeOf(r)), People: []personView{}}
	for i := range s.cfg.Roster.People {
		p := &s.cfg.Roster.People[i]
		pv := personView{ID: p.ID, Name: p.Name, Departments: p.Departments, Leader: p.Has(workflow.RoleLeader), Roles: []string{}}
		for _, r := range p.Roles {
			pv.Roles = append(pv.Roles, string(r))
		}
		out.People = append(out.People, pv)
	}
	for _, c := range []string{workflow.ChannelIncidents, workflow.ChannelLeaders, workflow.ChannelStatements} {
		if _, ok := s.cfg.Roster.Channel(c); ok {
			out.Channels = append(out.Channels, c)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// sameOrigin refuses what another site could make a browser send: the
// playground has no login, so a page elsewhere must not drive it. A JSON
// body cannot be sent cross-origin without a CORS preflight, which this
// server never grants; Origin and Sec-Fetch-Site are checked as well.
func (s *Server) sameOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "invalid", "send the request as application/json")
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, "forbidden", "requests from other sites are refused")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || !strings.EqualFold(u.Host, r.Host) {
				writeError(w, http.StatusForbidden, "forbidden", "requests from other sites are refused")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		h(w, r)
	}
}

type commandRequest struct {
	Actor string `json:"actor"`
	Text  string `json:"text"`
}

type actionRequest struct {
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// Post is the Seq of the post whose button was pressed; 0 for a button
	// of a reply (which only the presser sees).
	Post int64 `json:"post,omitempty"`
	// Conversation is the pane the button is in ("leaders", "person:sun").
	Conversation string `json:"conversation,omitempty"`
}

type actionResponse struct {
	Reply *bot.Reply `json:"reply"`
	// Post is the post pressed on, with this answer added.
	Post *Post `json:"post,omitempty"`
}

// knownActor refuses an actor who is not in the roster: the playground
// picks people from it, and the web has no account of its own to name, so
// the refusal is the router's (bot.ErrNotInRoster), before anything runs
// or is shown on a post.
func (s *Server) knownActor(w http.ResponseWriter, r *http.Request, actor string) bool {
	if _, ok := s.cfg.Roster.Person(actor); ok {
		return true
	}
	writeError(w, http.StatusForbidden, "forbidden", workflow.ErrorText(bot.ErrNotInRoster).In(s.localeOf(r)))
	return false
}

// command runs a typed command as the chosen person and answers with the
// router's reply, exactly as Slack would show it (errors included: Failed).
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	var in commandRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "the body must be JSON: {\"actor\": \"chen\", \"text\": \"/incident help\"}")
		return
	}
	if !s.knownActor(w, r, in.Actor) {
		return
	}
	reply := s.cfg.Router.Handle(r.Context(), &bot.Request{
		Platform: bot.PlatformWeb, Actor: in.Actor, Conversation: Conversation, Text: in.Text,
	})
	s.hub.Changed("")
	writeJSON(w, http.StatusOK, actionResponse{Reply: reply})
}

// action presses a button as the chosen person. When the button is on a
// post, the answer is added to the post for everyone to see, as Telegram
// edits an approval request to show who decided.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	var in actionRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "the body must be JSON: {\"actor\": \"wang\", \"action\": \"approve:YQ-1:1\"}")
		return
	}
	a, err := bot.ParseAction(in.Action)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if !s.knownActor(w, r, in.Actor) {
		return
	}
	conv := in.Conversation
	if conv == "" {
		conv = Conversation
	}
	reply := s.cfg.Router.Handle(r.Context(), &bot.Request{Platform: bot.PlatformWeb, Actor: in.Actor, Conversation: conv, Action: &a})
	out := actionResponse{Reply: reply}
	if in.Post > 0 {
		if p, ok := s.hub.Answer(in.Post, Answer{Actor: in.Actor, ActorName: s.views(r).name(in.Actor), Button: a.ID(), Reply: reply}); ok {
			out.Post = &p
		}
	}
	s.hub.Changed("")
	writeJSON(w, http.StatusOK, out)
}
