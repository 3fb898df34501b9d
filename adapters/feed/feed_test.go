package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// *workflow.Service is what cmd hands the Poller.
var _ Receiver = (*workflow.Service)(nil)

// now is the intake's clock in these tests: an odd instant, in Beijing time.
var now = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.FixedZone("CST", 8*3600))

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// wallClock is the poll schedule's clock, moved by hand.
type wallClock struct {
	mu sync.Mutex
	t  time.Time
}

func (w *wallClock) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *wallClock) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

// fakeReceiver records deliveries and checks each item as the intake would
// refuse it; answer, when set, decides the reply to a delivery.
type fakeReceiver struct {
	t      testing.TB
	mu     sync.Mutex
	calls  [][]workflow.Item
	answer func(call int, items []workflow.Item) error
}

func (r *fakeReceiver) Intake(_ context.Context, source string, items []workflow.Item) ([]workflow.Received, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(items) == 0 || len(items) > workflow.MaxIntakeBatch {
		r.t.Errorf("a delivery of %d items, want 1 to %d", len(items), workflow.MaxIntakeBatch)
	}
	for i, it := range items {
		if it.Source != source {
			r.t.Errorf("item %d: source %q, delivered as %q", i, it.Source, source)
		}
		checkIntakeItem(r.t, it)
	}
	r.calls = append(r.calls, items)
	if r.answer != nil {
		if err := r.answer(len(r.calls), items); err != nil {
			return nil, err
		}
	}
	out := make([]workflow.Received, len(items))
	for i := range out {
		out[i] = workflow.Received{Candidate: fmt.Sprintf("IT-%d", i+1), Outcome: workflow.ReceivedNew}
	}
	return out, nil
}

// checkIntakeItem fails on what workflow.Service.Intake would refuse.
func checkIntakeItem(t testing.TB, it workflow.Item) {
	t.Helper()
	switch {
	case !workflow.ValidSourceName(it.Source):
		t.Errorf("item %q: source %q is not a source name", it.ID, it.Source)
	case len(it.ID) > 200:
		t.Errorf("item %q: ID longer than 200 bytes", it.ID)
	case it.Title == "" && it.Excerpt == "":
		t.Errorf("item %q: no title and no excerpt", it.ID)
	case utf8.RuneCountInString(it.Excerpt) > workflow.MaxExcerpt, utf8.RuneCountInString(it.Title) > workflow.MaxTitle:
		t.Errorf("item %q: title or excerpt too long", it.ID)
	case it.URL != "" && workflow.NormalizeURL(it.URL) == "":
		t.Errorf("item %q: URL %q is not http(s)", it.ID, it.URL)
	case it.FoundAt.IsZero(), it.FoundAt.After(now), now.Sub(it.FoundAt) > MaxAge:
		t.Errorf("item %q: found at %s, not within 30 days before %s", it.ID, it.FoundAt, now)
	}
}

func (r *fakeReceiver) delivered() [][]workflow.Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]workflow.Item(nil), r.calls...)
}

// titles lists the titles of every item delivered since call from.
func (r *fakeReceiver) titles(from int) []string {
	var out []string
	for _, c := range r.delivered()[from:] {
		for _, it := range c {
			out = append(out, it.Title)
		}
	}
	return out
}

// fakeLocker grants each key once; denyAll plays another replica holding
// every lease.
type fakeLocker struct {
	mu      sync.Mutex
	held    map[string]time.Duration
	denyAll bool
}

func (l *fakeLocker) TryLock(_ context.Context, key string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]time.Duration{}
	}
	if l.denyAll {
		return false, nil
	}
	if _, ok := l.held[key]; ok {
		return false, nil
	}
	l.held[key] = ttl
	return true, nil
}

// feedServer serves one feed document that a test may change, with an ETag
// or a Last-Modified validator, and records the requests.
type feedServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         string
	etag         string
	lastModified string
	status       int
	requests     []*http.Request
}

func newFeedServer(t testing.TB, body string) *feedServer {
	s := &feedServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		if s.status != 0 {
			w.WriteHeader(s.status)
			return
		}
		if s.etag != "" {
			w.Header().Set("ETag", s.etag)
			if r.Header.Get("If-None-Match") == s.etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if s.lastModified != "" {
			w.Header().Set("Last-Modified", s.lastModified)
			if r.Header.Get("If-Modified-Since") == s.lastModified {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(body, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag = body, etag
}

func (s *feedServer) lastRequest(t testing.TB) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("the feed server got no request")
	}
	return s.requests[len(s.requests)-1]
}

func (s *feedServer) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

type rssItem struct {
	guid, link, title, description, author string
	date                                   time.Time // zero: no pubDate
}

func rss(items ...rssItem) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>某区教育局 新闻</title><link>https://edu.example.cn/</link><description>新闻</description>
`)
	for _, it := range items {
		b.WriteString("<item>")
		if it.guid != "" {
			fmt.Fprintf(&b, `<guid isPermaLink="false">%s</guid>`, it.guid)
		}
		if it.link != "" {
			fmt.Fprintf(&b, "<link>%s</link>", it.link)
		}
		fmt.Fprintf(&b, "<title>%s</title><description>%s</description>", it.title, it.description)
		if it.author != "" {
			fmt.Fprintf(&b, "<author>%s</author>", it.author)
		}
		if !it.date.IsZero() {
			fmt.Fprintf(&b, "<pubDate>%s</pubDate>", it.date.Format(time.RFC1123Z))
		}
		b.WriteString("</item>\n")
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

const atomDoc = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>某中学 校园动态</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-03-14T01:00:00Z</updated>
  <entry>
    <title type="html">家长投诉 &amp;lt;校车&amp;gt; 晚点</title>
    <link rel="alternate" href="/news/2026/0314.html"/>
    <id>tag:school.example.cn,2026:news-88</id>
    <updated>2026-03-14T00:30:00Z</updated>
    <summary type="html">&lt;div&gt;&lt;p&gt;多名家长称校车&lt;strong&gt;连续三天&lt;/strong&gt;晚点。&lt;/p&gt;&lt;p&gt;学校回应:正在核实&amp;hellip;&lt;/p&gt;&lt;/div&gt;</summary>
    <author><name>校办 李老师</name><email>office@school.example.cn</email></author>
  </entry>
  <entry>
    <title>旧闻</title>
    <link rel="alternate" href="https://school.example.cn/news/old.html"/>
    <id>tag:school.example.cn,2025:news-1</id>
    <updated>2025-12-01T00:00:00Z</updated>
    <summary>四个月前的消息</summary>
  </entry>
</feed>`

// fixture is a Poller under test with its fakes.
type fixture struct {
	p     *Poller
	recv  *fakeReceiver
	lock  *fakeLocker
	state *bot.LocalMemo
	wall  *wallClock
	reg   *prometheus.Registry
	logs  *bytes.Buffer
	seen  chan polled
}

type polled struct {
	feed    string
	outcome Outcome
}

func newFixture(t testing.TB, feeds []workflow.Feed, client *http.Client) *fixture {
	t.Helper()
	fx := &fixture{
		recv:  &fakeReceiver{t: t},
		lock:  &fakeLocker{},
		state: bot.NewLocalMemo(1_000),
		wall:  &wallClock{t: time.Date(2026, 3, 14, 1, 26, 53, 17_000_000, time.UTC)},
		reg:   prometheus.NewRegistry(),
		logs:  &bytes.Buffer{},
		seen:  make(chan polled, 100),
	}
	fx.p = New(Options{
		Feeds:      feeds,
		Receiver:   fx.recv,
		Locker:     fx.lock,
		State:      fx.state,
		Clock:      fixedClock{now},
		HTTPClient: client,
		Log:        slog.New(slog.NewTextHandler(&syncWriter{w: fx.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: fx.reg,
	})
	fx.p.wall = fx.wall.now
	fx.p.polled = func(f workflow.Feed, o Outcome) { fx.seen <- polled{sourceOf(f), o} }
	return fx
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (fx *fixture) stateOf(t testing.TB, f workflow.Feed) feedState {
	t.Helper()
	raw, ok, _ := fx.state.GetMemo(context.Background(), stateKey(f.URL))
	if !ok {
		t.Fatalf("no state stored for %s", f.URL)
	}
	var st feedState
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("state of %s: %v", f.URL, err)
	}
	return st
}

func (fx *fixture) polls(feed string, o Outcome) float64 {
	return value(fx.p.metrics.polls.WithLabelValues(feed, string(o)))
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func mustPoll(t testing.TB, fx *fixture, f workflow.Feed, want Outcome) {
	t.Helper()
	got, err := fx.p.PollOnce(context.Background(), f)
	if got != want {
		t.Fatalf("poll of %s: got %s (%v), want %s", f.URL, got, err, want)
	}
}

func TestItemsOfRSSAndAtom(t *testing.T) {
	rssSrv := newFeedServer(t, rss(
		rssItem{guid: "edu-1001", link: "https://edu.example.cn/a/1001.html?utm_source=rss", title: "某校食堂饭菜质量引发网友质疑",
			description: "<![CDATA[<p>网友称食堂<b>饭菜</b>变质,&nbsp;多名学生不适。</p><script>alert('x')</script><p>学校:已介入 &amp; 调查</p>]]>",
			author:      "office@edu.example.cn (张老师)", date: now.Add(-90 * time.Minute)},
		rssItem{link: "https://edu.example.cn/a/1002.html", title: "家长群转发 &lt;未经证实&gt; 消息",
			description: "&lt;p&gt;称&lt;a href=&quot;x&quot;&gt;某老师&lt;/a&gt;体罚学生&lt;/p&gt;"},
		rssItem{guid: "edu-1003", title: "明天的通知", description: "日期写错了", date: now.Add(48 * time.Hour)},
		rssItem{guid: "edu-0001", title: "去年的旧闻", description: "早已处理", date: now.Add(-40 * 24 * time.Hour)},
	))
	atomSrv := newFeedServer(t, atomDoc)
	rssFeed := workflow.Feed{URL: rssSrv.URL + "/news.rss", Source: "edu-news"}
	atomFeed := workflow.Feed{URL: atomSrv.URL + "/school/atom.xml"} // no source: the host's name
	fx := newFixture(t, []workflow.Feed{rssFeed, atomFeed}, nil)

	mustPoll(t, fx, rssFeed, OutcomeNew)
	mustPoll(t, fx, atomFeed, OutcomeNew)

	host := strings.Split(strings.TrimPrefix(atomSrv.URL, "http://"), ":")[0]
	want := [][]workflow.Item{
		{ // oldest first; the undated one is found now, so is the one dated tomorrow
			{Source: "edu-news", ID: "edu-1001", URL: "https://edu.example.cn/a/1001.html?utm_source=rss",
				Title: "某校食堂饭菜质量引发网友质疑", Excerpt: "网友称食堂饭菜变质, 多名学生不适。\n学校:已介入 & 调查",
				Author: "张老师", FoundAt: now.Add(-90 * time.Minute).Truncate(time.Second)}, // RFC 1123 has seconds
			{Source: "edu-news", ID: "https://edu.example.cn/a/1002.html", URL: "https://edu.example.cn/a/1002.html",
				Title: "家长群转发 <未经证实> 消息", Excerpt: "称某老师体罚学生", FoundAt: now},
			{Source: "edu-news", ID: "edu-1003", Title: "明天的通知", Excerpt: "日期写错了", FoundAt: now},
		},
		{
			{Source: host, ID: "tag:school.example.cn,2026:news-88", URL: atomSrv.URL + "/news/2026/0314.html",
				Title: "家长投诉 <校车> 晚点", Excerpt: "多名家长称校车连续三天晚点。\n学校回应:正在核实…",
				Author: "校办 李老师", FoundAt: time.Date(2026, 3, 14, 0, 30, 0, 0, time.UTC)},
		},
	}
	got := fx.recv.delivered()
	if len(got) != len(want) {
		t.Fatalf("got %d deliveries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("delivery %d: got %d items, want %d: %+v", i, len(got[i]), len(want[i]), got[i])
		}
		for j, w := range want[i] {
			g := got[i][j]
			if !g.FoundAt.Equal(w.FoundAt) {
				t.Errorf("delivery %d item %d: found at %s, want %s", i, j, g.FoundAt, w.FoundAt)
			}
			g.FoundAt, w.FoundAt = time.Time{}, time.Time{}
			if g != w {
				t.Errorf("delivery %d item %d:\n got %+v\nwant %+v", i, j, g, w)
			}
		}
	}

	req := rssSrv.lastRequest(t)
	if ua := req.Header.Get("User-Agent"); ua != UserAgent {
		t.Errorf("User-Agent %q, want %q", ua, UserAgent)
	}
	if got := value(fx.p.metrics.count.WithLabelValues("edu-news")); got != 3 {
		t.Errorf("firebreak_feed_items_total{feed=edu-news} = %v, want 3", got)
	}
	if got := fx.polls(host, OutcomeNew); got != 1 {
		t.Errorf("firebreak_feed_polls_total{feed=%s,outcome=new} = %v, want 1", host, got)
	}
}

func TestConditionalGET(t *testing.T) {
	first := []rssItem{
		{guid: "g1", link: "https://edu.example.cn/1", title: "第一条", description: "一", date: now.Add(-3 * time.Hour)},
		{guid: "g2", link: "https://edu.example.cn/2", title: "第二条", description: "二", date: now.Add(-2 * time.Hour)},
	}
	srv := newFeedServer(t, rss(first...))
	srv.etag = `"v1"`
	f := workflow.Feed{URL: srv.URL + "/feed", Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)

	mustPoll(t, fx, f, OutcomeNew)
	if got := fx.recv.titles(0); strings.Join(got, ",") != "第一条,第二条" {
		t.Fatalf("first poll delivered %q", got)
	}
	if h := srv.lastRequest(t).Header.Get("If-None-Match"); h != "" {
		t.Errorf("first poll sent If-None-Match %q", h)
	}

	mustPoll(t, fx, f, OutcomeUnchanged)
	if h := srv.lastRequest(t).Header.Get("If-None-Match"); h != `"v1"` {
		t.Errorf("second poll sent If-None-Match %q, want %q", h, `"v1"`)
	}
	if n := len(fx.recv.delivered()); n != 1 {
		t.Fatalf("a 304 delivered something: %d deliveries", n)
	}

	// A new item, newest first as feeds list them.
	srv.set(rss(append([]rssItem{{guid: "g3", link: "https://edu.example.cn/3", title: "第三条", description: "三",
		date: now.Add(-10 * time.Minute)}}, first...)...), `"v2"`)
	mustPoll(t, fx, f, OutcomeNew)
	if got := fx.recv.titles(1); strings.Join(got, ",") != "第三条" {
		t.Errorf("third poll delivered %q, want only 第三条", got)
	}
	if h := srv.lastRequest(t).Header.Get("If-None-Match"); h != `"v1"` {
		t.Errorf("third poll sent If-None-Match %q, want %q", h, `"v1"`)
	}

	// A server with no validators: the same document again brings nothing.
	srv.set(srv.body, "")
	mustPoll(t, fx, f, OutcomeEmpty)
	if n := len(fx.recv.delivered()); n != 2 {
		t.Errorf("the same document again made %d deliveries, want 2 in all", n)
	}

	for o, want := range map[Outcome]float64{OutcomeNew: 2, OutcomeUnchanged: 1, OutcomeEmpty: 1, OutcomeFetchError: 0} {
		if got := fx.polls("edu", o); got != want {
			t.Errorf("firebreak_feed_polls_total{outcome=%s} = %v, want %v", o, got, want)
		}
	}
}

func TestLastModified(t *testing.T) {
	srv := newFeedServer(t, atomDoc)
	srv.lastModified = "Sat, 14 Mar 2026 00:30:00 GMT"
	f := workflow.Feed{URL: srv.URL + "/atom", Source: "school"}
	fx := newFixture(t, []workflow.Feed{f}, nil)

	mustPoll(t, fx, f, OutcomeNew)
	mustPoll(t, fx, f, OutcomeUnchanged)
	if h := srv.lastRequest(t).Header.Get("If-Modified-Since"); h != srv.lastModified {
		t.Errorf("second poll sent If-Modified-Since %q, want %q", h, srv.lastModified)
	}
}

// slowServer answers nothing until the test ends.
func slowServer(t testing.TB) (*httptest.Server, chan struct{}) {
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv, started
}

func TestTimeoutBacksOff(t *testing.T) {
	srv, _ := slowServer(t)
	u, _ := url.Parse(srv.URL + "/feed?token=s3cr3t-token&lang=zh")
	u.User = url.UserPassword("office", "hunter2")
	f := workflow.Feed{URL: u.String(), Source: "slow", Every: 5 * time.Minute}
	fx := newFixture(t, []workflow.Feed{f}, &http.Client{Timeout: 100 * time.Millisecond})
	start := fx.wall.now()

	o, err := fx.p.PollOnce(context.Background(), f)
	if o != OutcomeFetchError || err == nil {
		t.Fatalf("got %s, %v; want %s with an error", o, err, OutcomeFetchError)
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q does not say it timed out", err)
	}
	st := fx.stateOf(t, f)
	if st.Failures != 1 || !st.NextAttempt.Equal(start.Add(10*time.Minute)) {
		t.Errorf("state: failures %d, next attempt %s; want 1 and %s", st.Failures, st.NextAttempt, start.Add(10*time.Minute))
	}
	for _, text := range []string{err.Error(), st.LastError, fx.logs.String()} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "s3cr3t") {
			t.Errorf("a credential leaked: %s", text)
		}
	}
	if logs := fx.logs.String(); !strings.Contains(logs, "feed poll failed") || !strings.Contains(logs, "REDACTED") {
		t.Errorf("the failure was not logged with the redacted URL:\n%s", logs)
	}
	if got := fx.polls("slow", OutcomeFetchError); got != 1 {
		t.Errorf("firebreak_feed_polls_total{outcome=error_fetch} = %v, want 1", got)
	}

	// Not due until the backoff has passed; then, failing again, twice as long.
	if o, next, _ := fx.p.poll(context.Background(), f, false); o != OutcomeSkipped || !next.Equal(st.NextAttempt) {
		t.Errorf("while backing off: got %s until %s, want %s until %s", o, next, OutcomeSkipped, st.NextAttempt)
	}
	fx.wall.advance(10 * time.Minute)
	if o, _, _ := fx.p.poll(context.Background(), f, false); o != OutcomeFetchError {
		t.Errorf("when due: got %s, want %s", o, OutcomeFetchError)
	}
	if st := fx.stateOf(t, f); st.Failures != 2 || !st.NextAttempt.Equal(fx.wall.now().Add(20*time.Minute)) {
		t.Errorf("after two failures: %d, next %s; want 2, %s", st.Failures, st.NextAttempt, fx.wall.now().Add(20*time.Minute))
	}
}

func TestBackoffIsCapped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		n     int
		want  time.Duration
	}{
		{"first failure doubles", 5 * time.Minute, 1, 10 * time.Minute},
		{"third", 5 * time.Minute, 3, 40 * time.Minute},
		{"capped at an hour", 5 * time.Minute, 4, time.Hour},
		{"many", 5 * time.Minute, 200, time.Hour},
		{"an interval over the cap", 2 * time.Hour, 3, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(workflow.Feed{Every: tc.every}, tc.n); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// A slow feed listed first does not hold back the one after it, and each
// ends as it should in the same round.
func TestRunSlowFeedDoesNotHoldOthers(t *testing.T) {
	slow, started := slowServer(t)
	good := newFeedServer(t, rss(rssItem{guid: "n1", title: "及时的消息", description: "正文", date: now.Add(-time.Minute)}))
	slowFeed := workflow.Feed{URL: slow.URL + "/feed", Source: "slow", Every: time.Hour}
	goodFeed := workflow.Feed{URL: good.URL + "/feed", Source: "good", Every: time.Hour}
	fx := newFixture(t, []workflow.Feed{slowFeed, goodFeed}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.p.Run(ctx) }()

	<-started // the slow feed hangs, and will until the test ends
	select {
	case got := <-fx.seen:
		if got != (polled{"good", OutcomeNew}) {
			t.Errorf("got %+v, want the good feed's new items", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the good feed was not polled while the slow one hung")
	}
	if got := fx.recv.titles(0); len(got) != 1 || got[0] != "及时的消息" {
		t.Errorf("delivered %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Shutting down mid-fetch is not the slow feed's failure.
	if got := fx.polls("slow", OutcomeFetchError); got != 0 {
		t.Errorf("a poll cut short by shutdown counted as an error: %v", got)
	}
}

func TestRunTimeoutAndGoodFeedInOneRound(t *testing.T) {
	slow, _ := slowServer(t)
	good := newFeedServer(t, rss(rssItem{guid: "n1", title: "及时的消息", description: "正文", date: now.Add(-time.Minute)}))
	slowFeed := workflow.Feed{URL: slow.URL + "/feed", Source: "slow", Every: time.Hour}
	goodFeed := workflow.Feed{URL: good.URL + "/feed", Source: "good", Every: time.Hour}
	fx := newFixture(t, []workflow.Feed{slowFeed, goodFeed}, &http.Client{Timeout: 100 * time.Millisecond})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.p.Run(ctx) }()
	got := map[string]Outcome{}
	for len(got) < 2 {
		select {
		case p := <-fx.seen:
			got[p.feed] = p.outcome
		case <-time.After(10 * time.Second):
			t.Fatalf("polls seen: %v", got)
		}
	}
	cancel()
	<-done
	if got["slow"] != OutcomeFetchError || got["good"] != OutcomeNew {
		t.Errorf("outcomes %v, want slow %s and good %s", got, OutcomeFetchError, OutcomeNew)
	}
	// An interval of an hour backs off no further than the hour.
	if st := fx.stateOf(t, slowFeed); st.Failures != 1 || !st.NextAttempt.Equal(fx.wall.now().Add(time.Hour)) {
		t.Errorf("slow feed: failures %d, next %s", st.Failures, st.NextAttempt)
	}
	if n := len(fx.recv.titles(0)); n != 1 {
		t.Errorf("the good feed delivered %d items, want 1", n)
	}
}

func TestBadFeeds(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL + "/feed"
	refused.Close() // nothing listens there now

	for _, tc := range []struct {
		name   string
		body   string
		status int
		url    string
		want   Outcome
	}{
		{name: "an HTML page", body: "<!doctype html><html><body><h1>欢迎</h1></body></html>", want: OutcomeParseError},
		{name: "plain text", body: "Service temporarily unavailable", want: OutcomeParseError},
		{name: "broken XML", body: `<?xml version="1.0"?><rss version="2.0"><channel><item><title>半截`, want: OutcomeParseError},
		{name: "empty", body: "", want: OutcomeParseError},
		{name: "server error", status: http.StatusBadGateway, want: OutcomeFetchError},
		{name: "not found", status: http.StatusNotFound, want: OutcomeFetchError},
		{name: "connection refused", url: refusedURL, want: OutcomeFetchError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t, tc.body)
			srv.status = tc.status
			f := workflow.Feed{URL: srv.URL + "/feed", Source: "bad"}
			if tc.url != "" {
				f.URL = tc.url
			}
			fx := newFixture(t, []workflow.Feed{f}, nil)
			o, err := fx.p.PollOnce(context.Background(), f)
			if o != tc.want || err == nil {
				t.Fatalf("got %s, %v; want %s with an error", o, err, tc.want)
			}
			if st := fx.stateOf(t, f); st.Failures != 1 || st.LastError == "" {
				t.Errorf("state %+v, want one failure recorded", st)
			}
			if got := fx.polls("bad", tc.want); got != 1 {
				t.Errorf("firebreak_feed_polls_total{outcome=%s} = %v, want 1", tc.want, got)
			}
			if n := len(fx.recv.delivered()); n != 0 {
				t.Errorf("%d deliveries", n)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	srv := newFeedServer(t, `<?xml version="1.0"?><rss version="2.0"><channel>`+strings.Repeat(" ", MaxBody)+`</channel></rss>`)
	f := workflow.Feed{URL: srv.URL, Source: "big"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	o, err := fx.p.PollOnce(context.Background(), f)
	if o != OutcomeFetchError || err == nil || !strings.Contains(err.Error(), "larger than 5 MiB") {
		t.Errorf("got %s, %v; want %s, larger than 5 MiB", o, err, OutcomeFetchError)
	}
}

func TestLeaseHeldElsewhere(t *testing.T) {
	srv := newFeedServer(t, rss(rssItem{guid: "x", title: "标题", description: "正文", date: now.Add(-time.Hour)}))
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	fx.lock.denyAll = true

	mustPoll(t, fx, f, OutcomeSkipped)
	if srv.hits() != 0 || len(fx.recv.delivered()) != 0 {
		t.Errorf("polled anyway: %d fetches, %d deliveries", srv.hits(), len(fx.recv.delivered()))
	}
	for _, o := range outcomes {
		if got := fx.polls("edu", o); got != 0 {
			t.Errorf("firebreak_feed_polls_total{outcome=%s} = %v, want 0", o, got)
		}
	}
}

// Two replicas share the state and the locker: one polls each attempt, and
// the second carries on from the first's validators.
func TestReplicasTakeTurns(t *testing.T) {
	srv := newFeedServer(t, rss(rssItem{guid: "x", title: "标题", description: "正文", date: now.Add(-time.Hour)}))
	srv.etag = `"e1"`
	f := workflow.Feed{URL: srv.URL, Source: "edu", Every: 5 * time.Minute}
	a := newFixture(t, []workflow.Feed{f}, nil)
	b := newFixture(t, []workflow.Feed{f}, nil)
	b.p.state, b.p.lock, b.p.wall = a.state, a.lock, a.wall.now

	if o, _, _ := a.p.poll(context.Background(), f, false); o != OutcomeNew {
		t.Fatalf("replica a: %s", o)
	}
	if o, _, _ := b.p.poll(context.Background(), f, false); o != OutcomeSkipped {
		t.Errorf("replica b polled a feed a had just polled: %s", o)
	}
	a.wall.advance(5 * time.Minute)
	if o, _, _ := b.p.poll(context.Background(), f, false); o != OutcomeUnchanged {
		t.Errorf("replica b when due: %s, want %s", o, OutcomeUnchanged)
	}
	if o, _, _ := a.p.poll(context.Background(), f, false); o != OutcomeSkipped {
		t.Errorf("replica a polled again after b: %s", o)
	}
	// A replica that read the state of attempt 0 cannot make it again.
	if ok, _ := a.lock.TryLock(context.Background(), "feed:"+stateKey(f.URL)+":0", time.Minute); ok {
		t.Error("the lease of attempt 0 was free")
	}
	for key, ttl := range a.lock.held {
		if ttl <= 4*time.Minute || ttl >= 5*time.Minute {
			t.Errorf("lease %s for %s, want slightly under the 5m interval", key, ttl)
		}
	}
	if n := len(a.recv.delivered()) + len(b.recv.delivered()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func manyItems(n int) []rssItem {
	items := make([]rssItem, n)
	for i := range items {
		// Newest first, as feeds list them.
		items[i] = rssItem{guid: fmt.Sprintf("item-%03d", n-1-i), title: fmt.Sprintf("第%d条", n-1-i),
			description: "正文", date: now.Add(-time.Duration(i+1) * time.Minute)}
	}
	return items
}

func TestBatches(t *testing.T) {
	srv := newFeedServer(t, rss(manyItems(150)...))
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	mustPoll(t, fx, f, OutcomeNew)
	got := fx.recv.delivered()
	if len(got) != 2 || len(got[0]) != 100 || len(got[1]) != 50 {
		t.Fatalf("batches of %v, want 100 and 50", func() (n []int) {
			for _, c := range got {
				n = append(n, len(c))
			}
			return
		}())
	}
	if got[0][0].ID != "item-000" || got[1][49].ID != "item-149" {
		t.Errorf("not oldest first: %s … %s", got[0][0].ID, got[1][49].ID)
	}
}

func TestRateLimitedHoldsTheRestBack(t *testing.T) {
	srv := newFeedServer(t, rss(manyItems(150)...))
	srv.etag = `"e1"`
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	fx.recv.answer = func(call int, _ []workflow.Item) error {
		if call == 2 {
			return &workflow.LimitError{Source: "edu", Limit: 60, RetryAfter: 42 * time.Second}
		}
		return nil
	}
	start := fx.wall.now()
	o, err := fx.p.PollOnce(context.Background(), f)
	var limit *workflow.LimitError
	if o != OutcomeLimited || !errors.As(err, &limit) {
		t.Fatalf("got %s, %v; want %s with the LimitError", o, err, OutcomeLimited)
	}
	st := fx.stateOf(t, f)
	if !st.NextAttempt.Equal(start.Add(42*time.Second)) || st.Failures != 0 || st.ETag != "" {
		t.Errorf("state: next %s, failures %d, etag %q; want %s, 0 and no ETag (the rest must be fetched again)",
			st.NextAttempt, st.Failures, st.ETag, start.Add(42*time.Second))
	}

	fx.recv.answer = nil
	fx.wall.advance(42 * time.Second)
	if o, _, err := fx.p.poll(context.Background(), f, false); o != OutcomeNew {
		t.Fatalf("after the wait: %s, %v", o, err)
	}
	if h := srv.lastRequest(t).Header.Get("If-None-Match"); h != "" {
		t.Errorf("sent If-None-Match %q with items still to deliver", h)
	}
	calls := fx.recv.delivered()
	last := calls[len(calls)-1]
	if len(calls) != 3 || len(last) != 50 || last[0].ID != "item-100" {
		t.Errorf("after the wait delivered %d items from %s in call %d, want the 50 held back from item-100 in call 3", len(last), last[0].ID, len(calls))
	}
	if got := fx.polls("edu", OutcomeLimited); got != 1 {
		t.Errorf("firebreak_feed_polls_total{outcome=limited} = %v, want 1", got)
	}
	if got := value(fx.p.metrics.count.WithLabelValues("edu")); got != 150 {
		t.Errorf("firebreak_feed_items_total = %v, want 150", got)
	}
	mustPoll(t, fx, f, OutcomeUnchanged)
}

func TestRefusedItemIsSkipped(t *testing.T) {
	srv := newFeedServer(t, rss(manyItems(3)...))
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	fx.recv.answer = func(call int, items []workflow.Item) error {
		for i, it := range items {
			if it.ID == "item-001" {
				return &workflow.ItemError{Index: i, Field: "title", Msg: workflow.Text{EN: "no"}}
			}
		}
		return nil
	}
	mustPoll(t, fx, f, OutcomeNew)
	calls := fx.recv.delivered()
	if len(calls) != 2 || len(calls[1]) != 2 || calls[1][0].ID != "item-000" || calls[1][1].ID != "item-002" {
		t.Errorf("deliveries %+v, want the batch again without item-001", calls)
	}
	mustPoll(t, fx, f, OutcomeEmpty) // the refused item is not tried again
}

func TestDeliveryFailureRetriesEverything(t *testing.T) {
	srv := newFeedServer(t, rss(manyItems(2)...))
	srv.etag = `"e1"`
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	fx.recv.answer = func(int, []workflow.Item) error {
		return workflow.Errorf(workflow.CodeUnavailable, "store down", "存储不可用")
	}
	mustPoll(t, fx, f, OutcomeDeliverError)
	if st := fx.stateOf(t, f); st.Failures != 1 || st.ETag != "" || len(st.Seen) != 0 {
		t.Errorf("state %+v, want a failure and nothing seen", st)
	}
	fx.recv.answer = nil
	mustPoll(t, fx, f, OutcomeNew)
	if got := fx.recv.titles(1); len(got) != 2 {
		t.Errorf("after the failure delivered %q, want both items", got)
	}
	if st := fx.stateOf(t, f); st.Failures != 0 || st.ETag != `"e1"` {
		t.Errorf("state %+v, want failures reset and the ETag kept", st)
	}
}

// A post a search feed indexed late, listed under a date older than the
// newest item seen, is still new.
func TestLateIndexedItemIsDelivered(t *testing.T) {
	srv := newFeedServer(t, rss(
		rssItem{guid: "a", title: "新", description: "一", date: now.Add(-time.Hour)},
		rssItem{guid: "b", title: "旧", description: "二", date: now.Add(-5 * 24 * time.Hour)},
	))
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	mustPoll(t, fx, f, OutcomeNew)
	if st := fx.stateOf(t, f); !st.Newest.Equal(now.Add(-time.Hour).Truncate(time.Second)) || len(st.Seen) != 2 {
		t.Errorf("state: newest %s, %d seen; want %s and 2", st.Newest, len(st.Seen), now.Add(-time.Hour))
	}
	srv.set(rss(
		rssItem{guid: "a", title: "新", description: "一", date: now.Add(-time.Hour)},
		rssItem{guid: "c", title: "晚收录", description: "三", date: now.Add(-3 * 24 * time.Hour)},
		rssItem{guid: "b", title: "旧", description: "二", date: now.Add(-5 * 24 * time.Hour)},
	), "")
	mustPoll(t, fx, f, OutcomeNew)
	if got := fx.recv.titles(1); strings.Join(got, ",") != "晚收录" {
		t.Errorf("delivered %q, want only 晚收录", got)
	}
}

func TestRunWithNoFeedsWaits(t *testing.T) {
	p := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context was done: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "  多名 学生\t不适  ", "多名 学生 不适"},
		{"tags and entities", "<p>校车&nbsp;<b>晚点</b> &amp; 家长&lt;投诉&gt;&#8230;</p>", "校车 晚点 & 家长<投诉>…"},
		{"paragraphs", "<p>第一段</p><p>第二段<br/>第三行</p>", "第一段\n第二段\n第三行"},
		{"script and style", "<style>p{color:red}</style>正文<script>alert('x')</script>", "正文"},
		{"comments", "前<!-- 隐藏 -->后", "前后"},
		{"controls and overrides", "a\x00b\u202ec\ufeffd", "abcd"},
		{"invalid UTF-8", "ok\xff", "ok\uFFFD"},
		{"entity of an override", "x&#x202e;y", "xy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainText(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExcerptIsCut(t *testing.T) {
	long := strings.Repeat("舆", workflow.MaxExcerpt+10)
	srv := newFeedServer(t, rss(rssItem{guid: strings.Repeat("g", 300), title: strings.Repeat("标", 300), description: long, date: now.Add(-time.Hour)}))
	f := workflow.Feed{URL: srv.URL, Source: "edu"}
	fx := newFixture(t, []workflow.Feed{f}, nil)
	mustPoll(t, fx, f, OutcomeNew) // the fake receiver checks the limits
	it := fx.recv.delivered()[0][0]
	if n := utf8.RuneCountInString(it.Excerpt); n != workflow.MaxExcerpt || !strings.HasSuffix(it.Excerpt, "…") {
		t.Errorf("excerpt of %d characters, want %d ending in …", n, workflow.MaxExcerpt)
	}
	if !strings.HasPrefix(it.ID, "sha256:") {
		t.Errorf("ID %q, want a long GUID hashed", it.ID)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "https://edu.example.cn/news.rss", "https://edu.example.cn/news.rss"},
		{"userinfo", "https://office:hunter2@edu.example.cn/feed", "https://REDACTED@edu.example.cn/feed"},
		{"query", "https://edu.example.cn/feed?key=abc&lang=zh", "https://edu.example.cn/feed?key=REDACTED&lang=REDACTED"},
		{"invalid", "http://[::1", "(an invalid address)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		f    workflow.Feed
		want string
	}{
		{workflow.Feed{URL: "https://x.example/f", Source: "edu-news"}, "edu-news"},
		{workflow.Feed{URL: "https://News.Example.CN:8443/f"}, "news.example.cn"},
		{workflow.Feed{URL: "https://新闻.example/f"}, "feed"},
	} {
		if got := sourceOf(tc.f); got != tc.want {
			t.Errorf("sourceOf(%s) = %q, want %q", tc.f.URL, got, tc.want)
		}
	}
}
