package web

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The attacks of issue 11 on the web server, as they were made: the exact
// requests, and the refusal or the single effect each must now get.

const hardToken = "correct-horse-battery-staple"

// newFixtureConfig is newFixture with a server built from a changed Config
// (the fixture's store and router unless mod replaces them).
func newFixtureConfig(tb testing.TB, playground bool, token string, mod func(*Config)) *fixture {
	tb.Helper()
	f := newFixture(tb, playground, token)
	cfg := Config{Router: f.router, Incidents: f.incidents, Roster: f.srv.cfg.Roster, Clock: f.clock, Scale: 60,
		Playground: playground, Token: token}
	mod(&cfg)
	f.srv = New(cfg)
	f.mux = http.NewServeMux()
	f.srv.Register(f.mux)
	tb.Cleanup(f.srv.Close)
	return f
}

// loginRequest is the login form posted with tok and next, from the client
// at remote.
func loginRequest(tok, next, remote string) *http.Request {
	form := url.Values{"token": {tok}, "next": {next}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if remote != "" {
		req.RemoteAddr = remote
	}
	return req
}

var hiddenNext = regexp.MustCompile(`name="next" value="([^"]*)"`)

// TestLoginRedirectStaysOnThisSite: GET /login?next=/%09/evil.example and
// then a correct login answered 303 Location: /\t/evil.example, which
// browsers read as //evil.example. Now it goes to /board, as every path a
// browser may read as another host does.
func TestLoginRedirectStaysOnThisSite(t *testing.T) {
	f := newFixture(t, false, hardToken)

	t.Run("the attack", func(t *testing.T) {
		rec := f.get("/login?next=/%09/evil.example")
		m := hiddenNext.FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusOK || m == nil {
			t.Fatalf("GET /login: got %d %.300q, want 200 and the form with next", rec.Code, rec.Body)
		}
		next := html.UnescapeString(m[1])
		if next != "/board" {
			t.Errorf("the form returns to %q, want /board", next)
		}
		// The form as the attacker's link filled it, and as the page now does.
		for _, n := range []string{"/\t/evil.example", next} {
			rec := f.do(loginRequest(hardToken, n, ""))
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/board" {
				t.Errorf("login with next %q: got %d Location %q, want 303 /board", n, rec.Code, loc)
			}
		}
	})

	tests := []struct {
		name string
		next string
		want string
	}{
		{"an incident page", "/incidents/YQ-7", "/incidents/YQ-7"},
		{"with a query", "/board?lang=zh-CN", "/board?lang=zh-CN"},
		{"escaped Chinese in the query", "/incidents/YQ-7?q=%E4%B8%AD", "/incidents/YQ-7?q=%E4%B8%AD"},
		{"an escaped space", "/incidents/YQ-7?q=a%20b", "/incidents/YQ-7?q=a%20b"},
		{"a colon in the path", "/a:b", "/a:b"},
		{"a fragment", "/board#YQ-7", "/board#YQ-7"},
		{"root", "/", "/"},

		{"empty", "", "/board"},
		{"relative", "board", "/board"},
		{"tab then slash", "/\t/evil.example", "/board"},
		{"tab escaped", "/%09/evil.example", "/board"},
		{"tab escaped twice", "/%2509/evil.example", "/board"},
		{"tab escaped three times", "/%252509/evil.example", "/board"},
		{"newline", "/\n/evil.example", "/board"},
		{"carriage return", "/\r/evil.example", "/board"},
		{"CRLF escaped (header splitting)", "/%0d%0aSet-Cookie:%20x=y", "/board"},
		{"NUL", "/\x00/evil.example", "/board"},
		{"NUL escaped", "/%00/evil.example", "/board"},
		{"DEL", "/\x7f/evil.example", "/board"},
		{"DEL escaped", "/%7F/evil.example", "/board"},
		{"other C0", "/\x1b/evil.example", "/board"},
		{"leading tab", "\t//evil.example", "/board"},
		{"leading space", " //evil.example", "/board"},
		{"space inside", "/ /evil.example", "/board"},
		{"protocol-relative", "//evil.example", "/board"},
		{"three slashes", "///evil.example", "/board"},
		{"slash backslash", `/\evil.example`, "/board"},
		{"backslash slash", `\/evil.example`, "/board"},
		{"backslashes", `\\evil.example`, "/board"},
		{"backslash later", `/x\..\..\evil.example`, "/board"},
		{"backslash escaped", "/%5Cevil.example", "/board"},
		{"slash escaped", "/%2F/evil.example", "/board"},
		{"slashes escaped", "/%2f%2fevil.example", "/board"},
		{"https URL", "https://evil.example/", "/board"},
		{"scheme without slashes", "http:evil.example", "/board"},
		{"javascript", "javascript:alert(1)", "/board"},
		{"data", "data:text/html,<script>alert(1)</script>", "/board"},
		{"a host", "evil.example", "/board"},
		{"user info", "//user@evil.example", "/board"},
		{"dot then slash", "/.//evil.example", "/board"},
		{"dot dot", "/../evil.example", "/board"},
		{"dot dot escaped", "/%2e%2e//evil.example", "/board"},
		{"no-break space", "/\u00a0/evil.example", "/board"},
		{"C1 control", "/\u0085/evil.example", "/board"},
		{"C1 control escaped", "/%C2%85/evil.example", "/board"},
		{"bidi override", "/\u202e/elpmaxe.live", "/board"},
		{"bidi override escaped", "/%E2%80%AE/elpmaxe.live", "/board"},
		{"zero-width space escaped", "/%E2%80%8B/evil.example", "/board"},
		{"fullwidth solidus", "/\uff0fevil.example", "/board"},
		{"bad escape", "/%zz", "/board"},
		{"too long", "/" + strings.Repeat("a", maxNext), "/board"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localPath(tt.next); got != tt.want {
				t.Errorf("localPath(%q): got %q, want %q", tt.next, got, tt.want)
			}
			rec := f.do(loginRequest(hardToken, tt.next, ""))
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != tt.want {
				t.Errorf("login with next %q: got %d Location %q, want 303 %q", tt.next, rec.Code, loc, tt.want)
			}
			// The form a page without access shows returns there too.
			q := url.Values{"next": {tt.next}}.Encode()
			if m := hiddenNext.FindStringSubmatch(f.get("/login?" + q).Body.String()); m == nil || html.UnescapeString(m[1]) != tt.want {
				t.Errorf("GET /login?%s: got form next %q, want %q", q, m, tt.want)
			}
		})
	}
}

// FuzzLocalPath: whatever localPath accepts starts with one slash and holds
// no control character, backslash or space, also after decoding.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/board", "/%09/evil.example", "//x", `/\x`, "/a?b=%2F", "/%2525", "/.//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := localPath(p)
		if got == "/board" {
			return
		}
		if got != p {
			t.Fatalf("localPath(%q) = %q, want p itself or /board", p, got)
		}
		d, err := url.PathUnescape(p)
		for _, s := range []string{p, d} {
			if err != nil || len(s) == 0 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\t\r\n\x00\x7f") {
				t.Fatalf("localPath accepted %q (decoded %q, %v)", p, d, err)
			}
		}
		if strings.ContainsAny(p, " ") || strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r >= 0x7f }) {
			t.Fatalf("localPath accepted %q with a space, control or non-ASCII character", p)
		}
		if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("localPath accepted %q, which names a scheme or host", p)
		}
	})
}

// TestBearerTokensLimited: after 5 wrong logins, 60 wrong bearer tokens
// on the API were all compared (401 in 0.65 s) and the right one was
// accepted while the login form refused it. A bearer token now counts
// against the same limit as the form.
func TestBearerTokensLimited(t *testing.T) {
	f := newFixture(t, false, hardToken)
	wall := time.Date(2026, 3, 2, 9, 13, 27, 401_000_000, time.UTC)
	f.srv.logins.now = func() time.Time { return wall }
	const attacker, neighbour = "203.0.113.9:40000", "198.51.100.7:52000"
	api := func(token, remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/incidents", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+token)
		return f.do(req)
	}
	for i := range loginFree {
		if rec := api(fmt.Sprintf("guess-%d", i), attacker); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong bearer %d: got %d, want 401", i+1, rec.Code)
		}
	}
	rec := api("guess-again", attacker)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "10" ||
		!strings.Contains(rec.Body.String(), "Too many login attempts") {
		t.Errorf("wrong bearer past the limit: got %d Retry-After %q %s, want 429, 10 and why", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := api(hardToken, attacker); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the right bearer while locked out: got %d, want 429", rec.Code)
	}
	if rec := f.do(loginRequest(hardToken, "/board", attacker)); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the login form after wrong bearer tokens: got %d, want 429 (one limit)", rec.Code)
	}
	if rec := api(hardToken, neighbour); rec.Code != http.StatusOK {
		t.Errorf("another client's right bearer: got %d, want 200", rec.Code)
	}
	wall = wall.Add(10 * time.Second)
	if rec := api(hardToken, attacker); rec.Code != http.StatusOK {
		t.Errorf("the right bearer after the lockout: got %d, want 200", rec.Code)
	}
}

// TestLoginAttemptsLimited: 500 wrong logins in 0.2 s were all processed.
// Now a client gets loginFree attempts, then a lockout that doubles, in
// which even the right token is refused.
func TestLoginAttemptsLimited(t *testing.T) {
	f := newFixture(t, false, hardToken)
	var mu sync.Mutex
	wall := time.Date(2026, 3, 2, 9, 13, 27, 401_000_000, time.UTC) // an odd instant
	f.srv.logins.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return wall }
	advance := func(d time.Duration) { mu.Lock(); wall = wall.Add(d); mu.Unlock() }
	const attacker, neighbour = "203.0.113.9:40000", "198.51.100.7:52000"

	// 500 wrong logins at once, from one address.
	var wrong, limited, other atomic.Int32
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			rec := f.do(loginRequest(fmt.Sprintf("guess-%d", i), "/board", attacker))
			switch rec.Code {
			case http.StatusUnauthorized:
				wrong.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
				if ra := rec.Header().Get("Retry-After"); ra != "10" {
					t.Errorf("Retry-After: got %q, want 10", ra)
				}
			default:
				other.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() != loginFree || limited.Load() != 500-loginFree || other.Load() != 0 {
		t.Fatalf("500 wrong logins: got %d compared, %d refused with 429, %d other; want %d compared and the rest 429",
			wrong.Load(), limited.Load(), other.Load(), loginFree)
	}

	// Locked out: the right token is refused too, and says why, in the
	// page's language.
	rec := f.do(loginRequest(hardToken, "/board", attacker))
	if rec.Code != http.StatusTooManyRequests || len(rec.Result().Cookies()) != 0 || rec.Header().Get("Location") != "" {
		t.Fatalf("right token while locked out: got %d cookies %v, want 429 and no cookie", rec.Code, rec.Result().Cookies())
	}
	if body := rec.Body.String(); !strings.Contains(body, "Too many login attempts from your address; try again in 10 seconds.") ||
		!strings.Contains(body, `name="token"`) {
		t.Errorf("locked out: got %.400q, want the login form saying to wait 10 seconds", body)
	}
	zh := loginRequest(hardToken, "/board", attacker)
	zh.URL.RawQuery = "lang=zh-CN"
	if body := f.do(zh).Body.String(); !strings.Contains(body, "来自您地址的登录尝试过多,请 10 秒后再试。") {
		t.Errorf("locked out in Chinese: got %.400q, want the Chinese message", body)
	}

	// Another client is not locked out by the attacker.
	if rec := f.do(loginRequest(hardToken, "/board", neighbour)); rec.Code != http.StatusSeeOther {
		t.Errorf("another client: got %d, want 303", rec.Code)
	}
	// Nor does a forged X-Forwarded-For move the attacker elsewhere: no
	// proxy is trusted.
	forged := loginRequest(hardToken, "/board", attacker)
	forged.Header.Set("X-Forwarded-For", "192.0.2.77")
	if rec := f.do(forged); rec.Code != http.StatusTooManyRequests {
		t.Errorf("forged X-Forwarded-For: got %d, want 429", rec.Code)
	}

	// Past the lockout one more attempt is compared; a wrong one locks out
	// twice as long.
	advance(9*time.Second + 999*time.Millisecond)
	if rec := f.do(loginRequest(hardToken, "/board", attacker)); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("1 ms before the end: got %d Retry-After %q, want 429 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	advance(time.Millisecond)
	if rec := f.do(loginRequest("guess", "/board", attacker)); rec.Code != http.StatusUnauthorized {
		t.Errorf("after the lockout, a wrong token: got %d, want 401", rec.Code)
	}
	if rec := f.do(loginRequest(hardToken, "/board", attacker)); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "20" {
		t.Errorf("second lockout: got %d Retry-After %q, want 429 and 20", rec.Code, rec.Header().Get("Retry-After"))
	}
	advance(20 * time.Second)
	if rec := f.do(loginRequest(hardToken, "/incidents/YQ-7", attacker)); rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("after the second lockout, the right token: got %d, want 303 and the cookie", rec.Code)
	}
	// A success forgets the failures: loginFree attempts again.
	for i := range loginFree {
		if rec := f.do(loginRequest("guess", "/board", attacker)); rec.Code != http.StatusUnauthorized {
			t.Errorf("after a success, wrong attempt %d: got %d, want 401", i+1, rec.Code)
		}
	}
	if rec := f.do(loginRequest("guess", "/board", attacker)); rec.Code != http.StatusTooManyRequests {
		t.Errorf("after a success, attempt %d: got %d, want 429", loginFree+1, rec.Code)
	}

	t.Run("lockouts stop doubling at the maximum", func(t *testing.T) {
		l := newLoginLimiter()
		at := wall
		l.now = func() time.Time { return at }
		var last time.Duration
		for range 40 {
			if wait, ok := l.attempt("c"); !ok {
				at = at.Add(wait)
				last = wait
				continue
			}
		}
		if last != loginLockoutMax {
			t.Errorf("got a last lockout of %s, want %s", last, loginLockoutMax)
		}
	})

	t.Run("failures are forgotten after an hour", func(t *testing.T) {
		l := newLoginLimiter()
		at := wall
		l.now = func() time.Time { return at }
		for range loginFree - 1 {
			l.attempt("c")
		}
		at = at.Add(loginForget)
		for i := range loginFree - 1 {
			if _, ok := l.attempt("c"); !ok {
				t.Fatalf("attempt %d an hour later: refused, want allowed", i+1)
			}
		}
	})

	t.Run("a flood of addresses shares one count", func(t *testing.T) {
		l := newLoginLimiter()
		l.now = func() time.Time { return wall }
		for i := range loginClients {
			l.attempt(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		}
		for i := range loginFree {
			if _, ok := l.attempt(fmt.Sprintf("fresh-%d", i)); !ok {
				t.Fatalf("newcomer %d: refused, want allowed", i)
			}
		}
		if _, ok := l.attempt("fresh-last"); ok {
			t.Error("newcomers past the bound: allowed, want them to share one lockout")
		}
		if len(l.clients) > loginClients+1 {
			t.Errorf("the limiter holds %d clients, want at most %d", len(l.clients), loginClients+1)
		}
	})
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		trust  bool
		remote string
		xff    []string
		want   string
	}{
		{"IPv4", false, "203.0.113.9:40000", nil, "203.0.113.9"},
		{"X-Forwarded-For ignored without a trusted proxy", false, "203.0.113.9:40000", []string{"192.0.2.1"}, "203.0.113.9"},
		{"IPv6 counts by its /64", false, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", false, "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"trusted proxy: the address it appended", true, "10.0.0.2:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"trusted proxy: the last header", true, "10.0.0.2:5000", []string{"1.2.3.4", "198.51.100.8"}, "198.51.100.8"},
		{"trusted proxy, no header", true, "10.0.0.2:5000", nil, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustProxy: tt.trust}}
			r := httptest.NewRequest(http.MethodPost, "/login", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCrossSiteRequestsRefused: POST /logout accepted cross-site requests.
// Now every request that may change state and that a browser says another
// site sent gets 403 and changes nothing.
func TestCrossSiteRequestsRefused(t *testing.T) {
	crossSite := []struct {
		name    string
		headers map[string]string
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"cross-site with a matching Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}},
		{"Origin of another host", map[string]string{"Origin": "https://evil.example"}},
		{"Origin of another port", map[string]string{"Origin": "http://example.com:8081"}},
		{"Origin of a subdomain", map[string]string{"Origin": "http://board.example.com"}},
		{"Origin null", map[string]string{"Origin": "null"}},
		{"X-Forwarded-Host without a trusted proxy", map[string]string{"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"}},
	}
	sameSite := []struct {
		name    string
		headers map[string]string
	}{
		{"no header (curl, scripts)", nil},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}},
		{"typed by the person", map[string]string{"Sec-Fetch-Site": "none"}},
		// What Chromium sends with our own login form under Referrer-Policy: no-referrer.
		{"same-origin with Origin null", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}},
		{"Origin only, this host", map[string]string{"Origin": "http://EXAMPLE.com"}},
	}
	set := func(h map[string]string) func(*http.Request) {
		return func(r *http.Request) {
			for k, v := range h {
				r.Header.Set(k, v)
			}
		}
	}

	t.Run("logout", func(t *testing.T) {
		f := newFixture(t, false, hardToken)
		for _, tt := range crossSite {
			req := httptest.NewRequest(http.MethodPost, "/logout", nil)
			set(tt.headers)(req)
			rec := f.do(req)
			if rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
				t.Errorf("%s: got %d cookies %v, want 403 and the session kept", tt.name, rec.Code, rec.Result().Cookies())
			}
			if body := rec.Body.String(); !strings.Contains(body, msgCrossSite.EN) || !strings.Contains(body, msgCrossSite.ZH) {
				t.Errorf("%s: got %q, want the refusal in both languages", tt.name, body)
			}
		}
		for _, tt := range sameSite {
			req := httptest.NewRequest(http.MethodPost, "/logout", nil)
			set(tt.headers)(req)
			if rec := f.do(req); rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 1 {
				t.Errorf("%s: got %d, want 303 and the cookie cleared", tt.name, rec.Code)
			}
		}
	})

	t.Run("login", func(t *testing.T) {
		f := newFixture(t, false, hardToken)
		for _, tt := range crossSite {
			req := loginRequest(hardToken, "/board", "")
			set(tt.headers)(req)
			if rec := f.do(req); rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
				t.Errorf("%s: got %d cookies %v, want 403 and no session (login CSRF)", tt.name, rec.Code, rec.Result().Cookies())
			}
		}
		if n := len(f.srv.logins.clients); n != 0 {
			t.Errorf("refused logins counted as attempts: %d clients, want 0", n)
		}
		for _, tt := range sameSite {
			req := loginRequest(hardToken, "/board", "")
			set(tt.headers)(req)
			if rec := f.do(req); rec.Code != http.StatusSeeOther {
				t.Errorf("%s: got %d, want 303", tt.name, rec.Code)
			}
		}
	})

	t.Run("playground", func(t *testing.T) {
		f := newFixture(t, true, "")
		for _, path := range []string{"/api/v1/playground/command", "/api/v1/playground/action"} {
			for _, tt := range crossSite {
				rec := f.postJSON(path, `{"actor":"wang","text":"/incident list","action":"approve:YQ-7:1"}`, set(tt.headers))
				if rec.Code != http.StatusForbidden || decode[apiError](t, rec).Code != "forbidden" {
					t.Errorf("POST %s, %s: got %d %s, want 403 forbidden", path, tt.name, rec.Code, rec.Body)
				}
			}
		}
		if got := f.router.requests(); len(got) != 0 {
			t.Errorf("the router ran %d requests, want none", len(got))
		}
		for _, tt := range sameSite {
			if tt.headers["Origin"] == "null" {
				continue // playground.go checks Origin itself; its fetch() sends the real one
			}
			if rec := f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"/incident list"}`, set(tt.headers)); rec.Code != http.StatusOK {
				t.Errorf("%s: got %d, want 200", tt.name, rec.Code)
			}
		}
	})

	t.Run("every other method and path", func(t *testing.T) {
		f := newFixture(t, true, "")
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			for _, path := range []string{"/logout", "/api/v1/incidents/YQ-7", "/board", "/nowhere"} {
				req := httptest.NewRequest(method, path, strings.NewReader("{}"))
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				if rec := f.do(req); rec.Code != http.StatusForbidden {
					t.Errorf("%s %s cross-site: got %d, want 403", method, path, rec.Code)
				}
			}
		}
	})

	t.Run("reading stays open to links from elsewhere", func(t *testing.T) {
		f := newFixture(t, true, "")
		for _, path := range []string{"/board", "/incidents/YQ-7", "/api/v1/incidents"} {
			if rec := f.get(path, set(map[string]string{"Sec-Fetch-Site": "cross-site"})); rec.Code != http.StatusOK {
				t.Errorf("GET %s from a link elsewhere: got %d, want 200", path, rec.Code)
			}
		}
	})

	t.Run("behind a trusted proxy the Origin may name the proxy's host", func(t *testing.T) {
		f := newFixtureConfig(t, false, hardToken, func(c *Config) { c.TrustProxy = true })
		req := httptest.NewRequest(http.MethodPost, "http://10.0.0.5:8080/logout", nil)
		req.Header.Set("Origin", "https://board.example.org")
		req.Header.Set("X-Forwarded-Host", "board.example.org")
		if rec := f.do(req); rec.Code != http.StatusSeeOther {
			t.Errorf("got %d, want 303", rec.Code)
		}
		req.Header.Set("X-Forwarded-Host", "other.example.org")
		if rec := f.do(req); rec.Code != http.StatusForbidden {
			t.Errorf("another forwarded host: got %d, want 403", rec.Code)
		}
	})
}

// TestSessionCookieSecure: the session cookie is Secure over TLS and behind a
// proxy marked trusted (issue 11: "whenever ... behind a proxy marked
// trusted") unless that proxy says http; X-Forwarded-Proto from anyone else
// is ignored.
func TestSessionCookieSecure(t *testing.T) {
	tests := []struct {
		name   string
		trust  bool
		target string
		proto  string
		want   bool
	}{
		{"plain HTTP", false, "http://example.com/login", "", false},
		{"TLS", false, "https://example.com/login", "", true},
		{"X-Forwarded-Proto from an untrusted client", false, "http://example.com/login", "https", false},
		{"trusted proxy says https", true, "http://example.com/login", "https", true},
		{"trusted proxy says HTTPS", true, "http://example.com/login", "HTTPS", true},
		{"trusted proxy says http", true, "http://example.com/login", "http", false},
		{"trusted proxy says nothing", true, "http://example.com/login", "", true},
		{"trusted proxy appended https last", true, "http://example.com/login", "http, https", true},
		{"trusted proxy appended http last", true, "http://example.com/login", "https, http", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureConfig(t, false, hardToken, func(c *Config) { c.TrustProxy = tt.trust })
			for _, path := range []string{"/login", "/logout", "/board?lang=zh-CN"} {
				method, body := http.MethodPost, url.Values{"token": {hardToken}}.Encode()
				if strings.HasPrefix(path, "/board") {
					method = http.MethodGet
				}
				req := httptest.NewRequest(method, strings.TrimSuffix(tt.target, "/login")+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: CookieName, Value: sessionValue(hardToken)})
				if tt.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tt.proto)
				}
				cs := f.do(req).Result().Cookies()
				if len(cs) != 1 {
					t.Fatalf("%s: got cookies %v, want one", path, cs)
				}
				c := cs[0]
				if c.Secure != tt.want || !c.HttpOnly || (c.Name == CookieName && c.SameSite != http.SameSiteStrictMode) {
					t.Errorf("%s: got %s Secure=%v HttpOnly=%v SameSite=%v, want Secure=%v, HttpOnly and (session) SameSite=Strict",
						path, c.Name, c.Secure, c.HttpOnly, c.SameSite, tt.want)
				}
			}
		})
	}
}

// TestBodiesBounded: every request that may change state has its body
// bounded before any work.
func TestBodiesBounded(t *testing.T) {
	f := newFixture(t, true, "")
	big := `{"actor":"chen","text":"/incident open ` + strings.Repeat("x", maxBody) + `"}`

	rec := f.postJSON("/api/v1/playground/command", big)
	if rec.Code != http.StatusRequestEntityTooLarge || decode[apiError](t, rec).Code != "too_large" {
		t.Errorf("a declared %d-byte body: got %d %s, want 413", len(big), rec.Code, rec.Body)
	}
	// The same body without a length (chunked) is cut off while read.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/playground/command", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	if rec := f.do(req); rec.Code != http.StatusBadRequest {
		t.Errorf("an undeclared %d-byte body: got %d, want 400", len(big), rec.Code)
	}
	if got := f.router.requests(); len(got) != 0 {
		t.Errorf("the router ran %d requests, want none", len(got))
	}

	p := newFixture(t, false, hardToken)
	req = loginRequest(strings.Repeat("x", maxBody), "/board", "")
	if rec := p.do(req); rec.Code != http.StatusRequestEntityTooLarge || len(rec.Result().Cookies()) != 0 {
		t.Errorf("login with a %d-byte form: got %d, want 413 and no cookie", req.ContentLength, rec.Code)
	}
	if n := len(p.srv.logins.clients); n != 0 {
		t.Errorf("a refused body counted as a login attempt: %d clients", n)
	}
}

// stalledStore is a Redis that stopped answering: a call waits until its
// context ends (honour) or until the test ends (ignore, as go-redis does
// with deadlines by default).
type stalledStore struct {
	honour  bool
	release chan struct{}
	calls   atomic.Int32
}

func (s *stalledStore) wait(ctx context.Context) error {
	s.calls.Add(1)
	if s.honour {
		<-ctx.Done()
		return ctx.Err()
	}
	<-s.release
	return workflow.Unavailable(fmt.Errorf("i/o timeout"))
}

func (s *stalledStore) Get(ctx context.Context, _ string) (*workflow.Incident, error) {
	return nil, s.wait(ctx)
}

func (s *stalledStore) History(ctx context.Context, _ string) (*workflow.Incident, []workflow.Event, error) {
	return nil, nil, s.wait(ctx)
}

func (s *stalledStore) List(ctx context.Context, _ workflow.ListQuery) ([]*workflow.Incident, error) {
	return nil, s.wait(ctx)
}

func (s *stalledStore) ListPage(ctx context.Context, _ workflow.ListQuery) (workflow.Page, error) {
	return workflow.Page{}, s.wait(ctx)
}

func (s *stalledStore) Recent(ctx context.Context, _ time.Time, _ int) ([]*workflow.Incident, error) {
	return nil, s.wait(ctx)
}

// stalledRouter runs commands against the stalled store.
type stalledRouter struct{ store *stalledStore }

func (r stalledRouter) Handle(ctx context.Context, _ *bot.Request) *bot.Reply {
	if err := r.store.wait(ctx); err != nil {
		return &bot.Reply{Text: err.Error(), Failed: true}
	}
	return &bot.Reply{Text: "ok"}
}

// TestStalledStorageAnswers503: board API requests hung for as long as Redis
// was stalled (40 s). Now every endpoint answers 503 with the message of
// its language within StoreTimeout, whether or not the store honours the
// deadline.
func TestStalledStorageAnswers503(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, honour := range []bool{true, false} {
		t.Run(fmt.Sprintf("store honours deadlines: %v", honour), func(t *testing.T) {
			store := &stalledStore{honour: honour, release: make(chan struct{})}
			t.Cleanup(func() { close(store.release) })
			f := newFixtureConfig(t, true, "", func(c *Config) {
				c.Incidents, c.Router, c.StoreTimeout = store, stalledRouter{store}, timeout
			})
			endpoints := []struct {
				path string
				json bool
			}{
				{"/api/v1/incidents", true},
				{"/api/v1/incidents/YQ-7", true},
				{"/api/v1/incidents/YQ-7/timeline", true},
				{"/api/v1/stats", true},
				{"/incidents/YQ-7", false},
			}
			for _, e := range endpoints {
				for _, lang := range []string{workflow.LocaleEN, workflow.LocaleZH} {
					start := time.Now()
					rec := f.get(e.path + "?lang=" + lang)
					took := time.Since(start)
					want := label(lang, "msg.unavailable")
					if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), want) {
						t.Errorf("GET %s?lang=%s: got %d %.300q, want 503 saying %q", e.path, lang, rec.Code, rec.Body, want)
					}
					if e.json && decode[apiError](t, rec).Code != "unavailable" {
						t.Errorf("GET %s: got code %q, want unavailable", e.path, decode[apiError](t, rec).Code)
					}
					if took > 20*timeout {
						t.Errorf("GET %s: answered after %s, want within about %s", e.path, took, timeout)
					}
				}
			}

			start := time.Now()
			rec := f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"/incident list"}`)
			res := decode[actionResponse](t, rec)
			if rec.Code != http.StatusOK || res.Reply == nil || !res.Reply.Failed || !strings.Contains(res.Reply.Text, "may still take effect") {
				t.Errorf("a command: got %d %+v, want a failed reply saying the command may still take effect", rec.Code, res.Reply)
			}
			if took := time.Since(start); took > 20*timeout {
				t.Errorf("a command: answered after %s, want within about %s", took, timeout)
			}
			// The board page itself reads nothing; its script reads the API.
			if rec := f.get("/board"); rec.Code != http.StatusOK {
				t.Errorf("GET /board: got %d, want 200", rec.Code)
			}
		})
	}
}

// stalledPinger is a Redis that does not answer PING and ignores the
// deadline.
type stalledPinger struct{ release chan struct{} }

func (p stalledPinger) Ping(context.Context) error { <-p.release; return nil }

func TestReadyzAnswersWhileRedisStalls(t *testing.T) {
	old := readyTimeout
	readyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { readyTimeout = old })
	p := stalledPinger{release: make(chan struct{})}
	t.Cleanup(func() { close(p.release) })
	mux := http.NewServeMux()
	Health(mux, p, http.NotFoundHandler(), slog.New(slog.DiscardHandler))

	start := time.Now()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "redis unavailable") {
		t.Errorf("GET /readyz: got %d %q, want 503 redis unavailable", rec.Code, rec.Body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("GET /readyz: answered after %s, want within about %s", took, readyTimeout)
	}
}

// TestLoginTooLarge: a login form over its 8 KiB is refused as too large
// (413, saying so), not as unreadable, and checks nothing; the API's 401
// speaks the request's language.
func TestLoginTooLarge(t *testing.T) {
	f := newFixture(t, false, hardToken)
	rec := f.do(loginRequest(hardToken, "/board"+strings.Repeat("x", 10<<10), ""))
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "too large") {
		t.Errorf("10 KiB login: got %d %q, want 413 saying it is too large", rec.Code, rec.Body.String())
	}
	if c := rec.Result().Cookies(); len(c) > 0 {
		t.Errorf("10 KiB login with the right token set cookies %v, want none", c)
	}
	rec = f.do(httptest.NewRequest(http.MethodGet, "/api/v1/incidents?lang=zh-CN", nil))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "请在 /login 登录") {
		t.Errorf("API without a token, zh-CN: got %d %q, want 401 in Chinese", rec.Code, rec.Body.String())
	}
}
