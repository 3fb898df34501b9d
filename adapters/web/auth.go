package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak/firebreak/workflow"
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
	accessLocked          // a client locked out for wrong tokens (login form or bearer): 429
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

// access says what r may see; for accessLocked, how long the client must
// wait. A bearer token counts against the client's login attempts like a
// token typed into the form (wrong ones lock the client out, and a locked
// out client is refused even with the right one): otherwise the API would
// let anyone guess at the speed of the network what the form does not.
func (s *Server) access(r *http.Request) (access, time.Duration) {
	if s.cfg.Playground {
		return accessGranted, 0
	}
	if s.cfg.Token == "" {
		return accessBoardOff, 0
	}
	if c, err := r.Cookie(CookieName); err == nil && equal(c.Value, s.session) {
		return accessGranted, 0
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return accessLogin, 0
	}
	client := s.clientIP(r)
	if wait, locked := s.logins.locked(client); locked {
		s.cfg.Log.Warn("board bearer token refused: too many attempts", "client", client)
		return accessLocked, wait
	}
	if equal(strings.TrimSpace(bearer), s.cfg.Token) {
		return accessGranted, 0
	}
	s.cfg.Log.Warn("board bearer token refused: wrong token", "client", client)
	s.logins.failed(client)
	return accessLogin, 0
}

// retryAfter sets Retry-After to wait in whole seconds (at least 1) and
// returns them.
func retryAfter(w http.ResponseWriter, wait time.Duration) int {
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

// page guards an HTML page: without access it answers with the login form
// (401) or the board-off message (403).
func (s *Server) page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch a, wait := s.access(r); a {
		case accessGranted:
			h(w, r)
		case accessLocked:
			secs := retryAfter(w, wait)
			s.renderLoginText(w, r, http.StatusTooManyRequests, r.URL.RequestURI(), msgTooManyLogins(secs).In(s.localeOf(r)))
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
		switch a, wait := s.access(r); a {
		case accessGranted:
			h(w, r)
		case accessLocked:
			secs := retryAfter(w, wait)
			writeError(w, http.StatusTooManyRequests, "locked_out", msgTooManyLogins(secs).In(s.localeOf(r)))
		case accessLogin:
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak board"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", label(s.localeOf(r), "api.unauthorized"))
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
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			s.renderLogin(w, r, http.StatusRequestEntityTooLarge, "/board", "login.too_large")
			return
		}
		s.renderLogin(w, r, http.StatusBadRequest, "/board", "login.unreadable")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	// The attempt is counted before the token is compared, so that many
	// attempts at once cannot all pass the check, and a locked-out client
	// is refused even with the right token: otherwise the lockout would
	// only slow the search down, not stop it.
	client := s.clientIP(r)
	if wait, ok := s.logins.attempt(client); !ok {
		secs := retryAfter(w, wait)
		s.cfg.Log.Warn("board login refused: too many attempts", "client", client, "retry_after_s", secs)
		s.renderLoginText(w, r, http.StatusTooManyRequests, next, msgTooManyLogins(secs).In(s.localeOf(r)))
		return
	}
	if !equal(r.PostForm.Get("token"), s.cfg.Token) {
		s.cfg.Log.Warn("board login refused: wrong token", "client", client)
		s.renderLogin(w, r, http.StatusUnauthorized, next, "login.wrong")
		return
	}
	s.logins.succeeded(client)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.session, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// msgTooManyLogins is what a client that is locked out is told.
func msgTooManyLogins(secs int) workflow.Text {
	return workflow.Text{
		EN: fmt.Sprintf("Too many login attempts from your address; try again in %d seconds.", secs),
		ZH: fmt.Sprintf("来自您地址的登录尝试过多,请 %d 秒后再试。", secs),
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// secure reports whether the browser reached us over HTTPS, so that
// cookies are marked Secure: the connection is TLS, or a proxy the server
// is told to trust said so (X-Forwarded-Proto, noted by the server's
// middleware; the header alone proves nothing, anyone can send it).
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	https, _ := r.Context().Value(httpsKey{}).(bool)
	return https
}

// httpsKey marks a request that a trusted proxy received over HTTPS.
type httpsKey struct{}

// clientIP is who a request counts against for login attempts: the
// address the connection came from, or, behind a trusted proxy, the
// address the proxy appended to X-Forwarded-For (the last one; earlier ones
// are whatever the client sent). IPv6 clients count by their /64, since
// one host usually holds a whole /64.
func (s *Server) clientIP(r *http.Request) string {
	addr := r.RemoteAddr
	if s.cfg.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			addr = strings.TrimSpace(hops[len(hops)-1])
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr // not an address (a test, a unix socket): count it as given
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// maxNext bounds the length of a path to return to after login.
const maxNext = 2048

// localPath returns p when it is a path on this site, else "/board": the
// login form must not send anyone elsewhere. Browsers are lenient readers of
// a Location: they drop tabs and newlines anywhere ("/\t/evil.example" is
// "//evil.example", another host), read a backslash as a slash, and treat
// "//" as the start of a host. So p must be printable ASCII without
// backslashes, start with one slash, have no dot segments and no scheme or
// host; and it must stay free of controls, backslashes and a leading "//"
// when its percent-escapes are decoded, in case a later step decodes them
// ("%09" is a tab again).
func localPath(p string) string {
	if p == "" || len(p) > maxNext || !localForm(p) {
		return "/board"
	}
	d := p
	for range 3 {
		dd, err := url.PathUnescape(d)
		if err != nil || !decodedForm(dd) {
			return "/board"
		}
		if dd == d {
			return p
		}
		d = dd
	}
	return "/board" // still escaped after three rounds: no path of ours
}

// localForm reports whether p, as it stands, is a path a browser reads as
// one of this site's.
func localForm(p string) bool {
	if !decodedForm(p) {
		return false
	}
	for _, c := range []byte(p) {
		// Space (trimmed by browsers) and every non-ASCII byte (C1
		// controls, bidi and zero-width marks; a URL of ours escapes them).
		if c == ' ' || c >= 0x80 {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// decodedForm reports whether p starts with one slash, holds no control
// character (C0, DEL, C1, bidi and other format marks) and no backslash,
// and its path has no dot segments (browsers resolve "/.//x" to "//x").
func decodedForm(p string) bool {
	if len(p) < 1 || p[0] != '/' || (len(p) > 1 && (p[1] == '/' || p[1] == '\\')) {
		return false
	}
	path, _, _ := strings.Cut(p, "?")
	path, _, _ = strings.Cut(path, "#")
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for _, c := range p {
		if c < ' ' || c == 0x7f || c == '\\' || (c >= 0x80 && c <= 0x9f) || unicode.Is(unicode.Cf, c) {
			return false
		}
	}
	return true
}
