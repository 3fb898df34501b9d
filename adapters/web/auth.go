package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Access to the board in production (a chat platform configured): a person
// types FIREBREAK_BOARD_TOKEN into the login form once and gets a cookie;
// scripts send "Authorization: Bearer <token>". The cookie holds an HMAC of
// the token, not the token, so a copied cookie does not reveal it, and a new
// token logs everyone out. In the playground (this machine only) nothing is
// asked.

// CookieName is the name of the board's session cookie.
const CookieName = "firebreak_board"

// sessionTTL is how long a login lasts.
const sessionTTL = 7 * 24 * time.Hour

// access says what a request may see.
type access int

const (
	accessGranted  access = iota
	accessLogin           // production, token set, not logged in: 401 and the login form
	accessBoardOff        // production without a token: nobody may see the board
)

// sessionValue is the cookie value that proves a login with token.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("firebreak board session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// equal compares two secrets in constant time, whatever their lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

func (s *Server) access(r *http.Request) access {
	if s.cfg.Playground {
		return accessGranted
	}
	if s.cfg.Token == "" {
		return accessBoardOff
	}
	if c, err := r.Cookie(CookieName); err == nil && equal(c.Value, s.session) {
		return accessGranted
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(strings.TrimSpace(bearer), s.cfg.Token) {
		return accessGranted
	}
	return accessLogin
}

// page guards an HTML page: without access it answers with the login form
// (401) or the board-off message (403).
func (s *Server) page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch s.access(r) {
		case accessGranted:
			h(w, r)
		case accessLogin:
			s.renderLogin(w, r, http.StatusUnauthorized, r.URL.RequestURI(), "")
		case accessBoardOff:
			s.renderMessage(w, r, http.StatusForbidden, "title.board_off", label(s.localeOf(r), "msg.board_off"))
		}
	}
}

// api guards a JSON endpoint the same way, answering in JSON.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch s.access(r) {
		case accessGranted:
			h(w, r)
		case accessLogin:
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak board"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "log in at /login or send Authorization: Bearer <FIREBREAK_BOARD_TOKEN>")
		case accessBoardOff:
			writeError(w, http.StatusForbidden, "board_off", label(s.localeOf(r), "msg.board_off"))
		}
	}
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.cfg.Playground:
		http.Redirect(w, r, "/board", http.StatusSeeOther)
	case s.cfg.Token == "":
		s.renderMessage(w, r, http.StatusForbidden, "title.board_off", label(s.localeOf(r), "msg.board_off"))
	default:
		s.renderLogin(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Playground {
		http.Redirect(w, r, "/board", http.StatusSeeOther)
		return
	}
	if s.cfg.Token == "" {
		s.renderMessage(w, r, http.StatusForbidden, "title.board_off", label(s.localeOf(r), "msg.board_off"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, "/board", "login.unreadable")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	if !equal(r.PostForm.Get("token"), s.cfg.Token) {
		s.cfg.Log.Warn("board login refused: wrong token", "remote", r.RemoteAddr)
		s.renderLogin(w, r, http.StatusUnauthorized, next, "login.wrong")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.session, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// secure reports whether the browser reached us over HTTPS (directly or
// through a proxy that says so), so the cookie is marked Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// localPath returns p when it is a path on this site, else "/board": the
// login form must not redirect anywhere else ("//evil.example", "/\evil").
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/board"
	}
	return p
}
