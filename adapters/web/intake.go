package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak/firebreak/workflow"
)

// Monitoring intake over HTTP (docs/intake.md): a monitoring platform posts
// the posts it found to POST /intake (or /intake/<source>) with a bearer
// token; each item becomes a candidate that a person judges, or merges into
// the one it already is. The adapter only reads the request, checks the
// token and answers: what an item must hold, the rate, the dedupe and what
// becomes of each item are the Service's (workflow.Service.Intake).

// Intake is what the intake endpoints and the board's triage lane use: a
// *workflow.Service with an intake store (UseIntake).
type Intake interface {
	// Intake checks and stores a delivery of items from source ("" when
	// each item names its own): *workflow.ItemError for a bad item,
	// *workflow.LimitError past the source's rate, nothing stored then.
	Intake(ctx context.Context, source string, items []workflow.Item) ([]workflow.Received, error)
	// CandidatesOf returns page n (from 1; 0: all) of the candidates in a
	// state and how many there are.
	CandidatesOf(ctx context.Context, state workflow.CandidateState, n int) ([]*workflow.Candidate, int, error)
}

// maxIntakeBody bounds the body of a delivery: 100 items of a title and an
// excerpt of 2,000 characters each fit with room to spare.
const maxIntakeBody = 1 << 20

// PlaygroundSource is the source of the items sent from the playground's
// intake pane.
const PlaygroundSource = "playground"

// isIntakePath reports whether p is POST /intake or /intake/<source>.
func isIntakePath(p string) bool { return p == "/intake" || strings.HasPrefix(p, "/intake/") }

// bodyLimit is how large the body of a request to path may be.
func bodyLimit(path string) int64 {
	if isIntakePath(path) {
		return maxIntakeBody
	}
	return maxBody
}

// intakeError is the body of every error of the intake endpoints: the
// message in English and in Chinese, and where it applies, the item (from
// 1), its field, the byte offset in the body, or the limit passed.
type intakeError struct {
	Code    string `json:"code"`
	Error   string `json:"error"`
	ErrorZH string `json:"error_zh"`
	Item    int    `json:"item,omitempty"`
	Field   string `json:"field,omitempty"`
	Offset  *int64 `json:"offset,omitempty"`
	Limit   int64  `json:"limit,omitempty"`
}

func writeIntakeError(w http.ResponseWriter, status int, e intakeError) {
	writeJSON(w, status, e)
}

func intakeFail(status int, code string, msg workflow.Text) (int, intakeError) {
	return status, intakeError{Code: code, Error: msg.EN, ErrorZH: msg.ZH}
}

// intakeAnswer is the body of 202 Accepted: what became of each item, in
// the order sent, and the fields of the items that were not read (unknown
// names are ignored, so that a platform may send more than Firebreak reads;
// a misspelt "found_at" shows here).
type intakeAnswer struct {
	Items   []workflow.Received `json:"items"`
	Ignored []string            `json:"ignored_fields,omitempty"`
}

var (
	msgIntakeOff = workflow.Text{
		EN: "monitoring intake is not set up on this server",
		ZH: "本服务未启用舆情监测接入",
	}
	msgIntakeNoToken = workflow.Text{
		EN: "intake is not configured: set FIREBREAK_INTAKE_TOKEN (or intake.tokens in the roster) and restart Firebreak",
		ZH: "监测接入未配置:请设置 FIREBREAK_INTAKE_TOKEN(或花名册中的 intake.tokens)并重启 Firebreak",
	}
	msgIntakeUnauthorized = workflow.Text{
		EN: "send the intake token as Authorization: Bearer <token> (FIREBREAK_INTAKE_TOKEN, or the token of the source in the roster)",
		ZH: "请以 Authorization: Bearer <令牌> 发送接入令牌(FIREBREAK_INTAKE_TOKEN,或花名册中该来源的令牌)",
	}
	msgIntakeWrongToken = workflow.Text{
		EN: "the token is not right",
		ZH: "令牌不正确",
	}
	msgIntakeTooLarge = workflow.Text{
		EN: fmt.Sprintf("refused: the body is larger than %d MiB; send at most %d items a request", maxIntakeBody>>20, workflow.MaxIntakeBatch),
		ZH: fmt.Sprintf("已拒绝:请求内容超过 %d MiB;每次最多发送 %d 条", maxIntakeBody>>20, workflow.MaxIntakeBatch),
	}
	msgIntakeUnsure = workflow.Text{
		EN: "storage is unavailable or did not answer in time; send the same delivery again shortly: that is safe, an item delivered twice is stored once",
		ZH: "存储暂不可用或未及时响应;请稍后重新发送同一批次:这是安全的,重复发送的条目只保存一次",
	}
)

// msgTooManyTokens is what a client locked out for wrong tokens is told.
func msgTooManyTokens(secs int) workflow.Text {
	return workflow.Text{
		EN: fmt.Sprintf("too many wrong intake tokens from your address; try again in %d s", secs),
		ZH: fmt.Sprintf("来自您地址的错误接入令牌过多,请 %d 秒后再试", secs),
	}
}

// intakeAccess is what a bearer token may deliver: any source (the
// FIREBREAK_INTAKE_TOKEN) or the sources whose roster token it is.
type intakeAccess struct {
	any     bool
	sources []string
}

func (a intakeAccess) may(source string) bool { return a.any || slices.Contains(a.sources, source) }

// intakeTokens reports whether any intake token is configured.
func (s *Server) intakeTokens() bool {
	return s.cfg.IntakeToken != "" || len(s.cfg.Roster.Intake.Tokens) > 0
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive), or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// intakeAccessOf compares token with every intake token, each in constant
// time and all of them whatever matched, so that the time taken says
// nothing of which token (or how much of one) was right.
func (s *Server) intakeAccessOf(token string) (intakeAccess, bool) {
	var a intakeAccess
	matched := false
	if s.cfg.IntakeToken != "" && equal(token, s.cfg.IntakeToken) {
		a.any, matched = true, true
	}
	for source, t := range s.cfg.Roster.Intake.Tokens {
		if equal(token, t) {
			a.sources = append(a.sources, source)
			matched = true
		}
	}
	slices.Sort(a.sources)
	return a, matched
}

// isIntakeToken reports whether v is one of the intake tokens: a source
// named so would be stored, logged and shown on the board.
func (s *Server) isIntakeToken(v string) bool {
	if v == "" {
		return false
	}
	_, ok := s.intakeAccessOf(v)
	return ok
}

var msgTokenAsSource = workflow.Text{
	EN: "the source name is an intake token: send the token only in the Authorization header, and name the source plainly",
	ZH: "来源名是接入令牌:令牌只能放在 Authorization 请求头中,来源请用普通名称",
}

// unauthorized answers 401 with the Bearer challenge (RFC 6750); the token
// sent is neither logged nor echoed.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, why string, msg workflow.Text, wrong bool) {
	s.cfg.Log.Warn("intake refused", "reason", why, "client", s.clientIP(r), "source", s.knownSource(r.PathValue("source")))
	challenge := `Bearer realm="firebreak intake"`
	if wrong {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeIntakeError(w, http.StatusUnauthorized, intakeError{Code: "unauthorized", Error: msg.EN, ErrorZH: msg.ZH})
}

// knownSource is source when the roster names it, for logs: a path the
// client chose (which might hold a secret pasted in the wrong place) is
// not written as it came.
func (s *Server) knownSource(source string) string {
	if source == "" {
		return ""
	}
	if _, ok := s.cfg.Roster.Intake.Tokens[source]; ok {
		return source
	}
	return "(other)"
}

// intake serves POST /intake and POST /intake/{source}.
func (s *Server) intake(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Intake == nil {
		status, e := intakeFail(http.StatusServiceUnavailable, "intake_off", msgIntakeOff)
		writeIntakeError(w, status, e)
		return
	}
	if !s.intakeTokens() {
		status, e := intakeFail(http.StatusServiceUnavailable, "intake_off", msgIntakeNoToken)
		writeIntakeError(w, status, e)
		return
	}
	token := bearer(r)
	if token == "" {
		s.unauthorized(w, r, "no bearer token", msgIntakeUnauthorized, false)
		return
	}
	// Wrong tokens are limited per client as board logins are: five, then
	// a lockout that doubles (10 s up to 15 min), during which even the
	// right token is refused, or the lockout would only slow a search.
	client := s.clientIP(r)
	if wait, locked := s.intakeFails.locked(client); locked {
		secs := int((wait + time.Second - 1) / time.Second)
		s.cfg.Log.Warn("intake refused: too many wrong tokens", "client", client, "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		msg := msgTooManyTokens(secs)
		writeIntakeError(w, http.StatusTooManyRequests, intakeError{Code: "locked_out", Error: msg.EN, ErrorZH: msg.ZH})
		return
	}
	access, ok := s.intakeAccessOf(token)
	if !ok {
		s.intakeFails.failed(client)
		s.unauthorized(w, r, "wrong token", msgIntakeWrongToken, true)
		return
	}
	s.intakeFails.succeeded(client)
	items, ignored, status, e := readItems(r)
	if status != 0 {
		writeIntakeError(w, status, e)
		return
	}
	pathSource := r.PathValue("source")
	if !access.any {
		notFor := func(prefix workflow.Text, src string) {
			// Only a source of the roster is named: what else stands in the
			// path or the item might be a secret pasted in the wrong place.
			msg := workflow.Text{
				EN: prefix.EN + "this token is valid for its own source only; use FIREBREAK_INTAKE_TOKEN for others",
				ZH: prefix.ZH + "该令牌只能用于其所属来源;其他来源请使用 FIREBREAK_INTAKE_TOKEN",
			}
			if _, known := s.cfg.Roster.Intake.Tokens[src]; known {
				msg = workflow.Text{
					EN: fmt.Sprintf("%sthis token is not valid for source %q; use that source's token or FIREBREAK_INTAKE_TOKEN", prefix.EN, src),
					ZH: fmt.Sprintf("%s该令牌不能用于来源 %q;请使用该来源的令牌或 FIREBREAK_INTAKE_TOKEN", prefix.ZH, src),
				}
			}
			s.unauthorized(w, r, "token of another source", msg, false)
		}
		if pathSource != "" && !access.may(pathSource) {
			notFor(workflow.Text{}, pathSource)
			return
		}
		for i, it := range items {
			if src := strings.TrimSpace(it.Source); src != "" && !access.may(src) {
				notFor(workflow.Text{EN: fmt.Sprintf("item %d: ", i+1), ZH: fmt.Sprintf("第 %d 条:", i+1)}, src)
				return
			}
		}
	}
	if s.isIntakeToken(pathSource) {
		status, e := intakeFail(http.StatusBadRequest, "invalid", msgTokenAsSource)
		writeIntakeError(w, status, e)
		return
	}
	for i, it := range items {
		if s.isIntakeToken(strings.TrimSpace(it.Source)) {
			writeIntakeError(w, http.StatusBadRequest, intakeError{Code: "invalid", Item: i + 1, Field: "source",
				Error: fmt.Sprintf("item %d: source: %s", i+1, msgTokenAsSource.EN), ErrorZH: fmt.Sprintf("第 %d 条:source:%s", i+1, msgTokenAsSource.ZH)})
			return
		}
	}
	source := pathSource
	if source == "" && !access.any && len(access.sources) == 1 {
		// A source's own token delivers as that source.
		source = access.sources[0]
	}
	s.deliver(w, r, source, items, ignored)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// playgroundIntake serves POST /api/v1/playground/intake: the intake pane
// of the playground delivers as the source "playground", with no token
// (the playground runs on this machine only, and sameOrigin guards it as
// it guards the commands).
func (s *Server) playgroundIntake(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Intake == nil {
		status, e := intakeFail(http.StatusServiceUnavailable, "intake_off", msgIntakeOff)
		writeIntakeError(w, status, e)
		return
	}
	items, ignored, status, e := readItems(r)
	if status != 0 {
		writeIntakeError(w, status, e)
		return
	}
	s.deliver(w, r, PlaygroundSource, items, ignored)
}

// deliver hands items to the Service within StoreTimeout and answers.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, source string, items []workflow.Item, ignored []string) {
	got, err := bounded(r.Context(), s.cfg.StoreTimeout, "intake", func(ctx context.Context) ([]workflow.Received, error) {
		return s.cfg.Intake.Intake(ctx, source, items)
	})
	if err != nil && len(got) == len(items) {
		// Every item is stored; a step after (a rule's opening, figures
		// added to an incident) failed, and a timer repairs it.
		s.cfg.Log.Warn("intake: items stored, a follow-up failed", "source", source, "items", len(items), "err", err)
		err = nil
	}
	if err != nil {
		status, e := s.intakeFailure(r, err)
		if status == http.StatusTooManyRequests {
			var le *workflow.LimitError
			errors.As(err, &le)
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((le.RetryAfter+time.Second-1)/time.Second))))
		}
		writeIntakeError(w, status, e)
		return
	}
	outcomes := map[workflow.ReceiveOutcome]int{}
	for _, g := range got {
		outcomes[g.Outcome]++
	}
	s.cfg.Log.Info("intake delivery", "source", cmpOr(source, "(per item)"), "items", len(items),
		"new", outcomes[workflow.ReceivedNew], "merged", outcomes[workflow.ReceivedMerged],
		"duplicate", outcomes[workflow.ReceivedDuplicate], "opened", outcomes[workflow.ReceivedOpened],
		"dismissed", outcomes[workflow.ReceivedDismissed])
	if len(got) > 0 {
		s.hub.Changed("")
	}
	writeJSON(w, http.StatusAccepted, intakeAnswer{Items: got, Ignored: ignored})
}

// intakeFailure is the status and body of a delivery the Service refused.
func (s *Server) intakeFailure(r *http.Request, err error) (int, intakeError) {
	var ie *workflow.ItemError
	var le *workflow.LimitError
	switch {
	case errors.As(err, &le):
		msg := workflow.ErrorText(le.Unwrap())
		return http.StatusTooManyRequests, intakeError{Code: "rate_limited", Error: msg.EN, ErrorZH: msg.ZH, Limit: int64(le.Limit)}
	case errors.As(err, &ie):
		msg := workflow.ErrorText(ie.Unwrap())
		return http.StatusBadRequest, intakeError{Code: "invalid", Error: msg.EN, ErrorZH: msg.ZH, Item: ie.Index + 1, Field: ie.Field}
	}
	switch workflow.ErrorCode(err) {
	case workflow.CodeInvalid:
		msg := workflow.ErrorText(err)
		return http.StatusBadRequest, intakeError{Code: "invalid", Error: msg.EN, ErrorZH: msg.ZH}
	case workflow.CodeUnavailable:
		s.cfg.Log.Warn("intake: storage unavailable", "err", err)
		return http.StatusServiceUnavailable, intakeError{Code: "unavailable", Error: msgIntakeUnsure.EN, ErrorZH: msgIntakeUnsure.ZH}
	}
	status, text := s.failure(r, err)
	// failure's message is in the request's language and names a reference.
	return status, intakeError{Code: "internal", Error: text, ErrorZH: text}
}

// intakeItem is an item as a monitoring platform sends it. found_at is read
// here (RFC 3339), so that a bad one is answered naming the field; figures
// must be whole numbers.
type intakeItem struct {
	Source  string          `json:"source"`
	ID      json.RawMessage `json:"id"`
	URL     string          `json:"url"`
	Title   string          `json:"title"`
	Excerpt string          `json:"excerpt"`
	Author  string          `json:"author"`
	FoundAt *string         `json:"found_at"`
	Figures *intakeFigures  `json:"figures"`
}

type intakeFigures struct {
	Posts *int64 `json:"posts"`
	Views *int64 `json:"views"`
	Heat  *int64 `json:"heat"`
}

// intakeFields are the names read, at the top of an item and in figures.
var (
	intakeFields  = []string{"source", "id", "url", "title", "excerpt", "author", "found_at", "figures"}
	figuresFields = []string{"posts", "views", "heat"}
)

// readItems reads a delivery: one JSON object, or an array of at most
// workflow.MaxIntakeBatch of them. It returns the items, the names of the
// fields it ignored, and, when the body cannot be read, a status and the
// error to answer (status 0: read).
func readItems(r *http.Request) ([]workflow.Item, []string, int, intakeError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, http.StatusRequestEntityTooLarge, tooLarge(mbe.Limit)
		}
		status, e := intakeFail(http.StatusBadRequest, "invalid", workflow.Text{EN: "the body could not be read", ZH: "无法读取请求内容"})
		return nil, nil, status, e
	}
	bad := func(en, zh string, args ...any) ([]workflow.Item, []string, int, intakeError) {
		return nil, nil, http.StatusBadRequest, intakeError{Code: "invalid", Error: fmt.Sprintf(en, args...), ErrorZH: fmt.Sprintf(zh, args...)}
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return bad("the body is empty: send one item as a JSON object, or an array of up to %d",
			"请求内容为空:请以 JSON 对象发送一条,或以数组发送至多 %d 条", workflow.MaxIntakeBatch)
	}
	if !utf8.Valid(body) {
		return bad("the body is not UTF-8 text", "请求内容不是 UTF-8 文本")
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		err = json.Unmarshal(body, &raws)
	case '{':
		var one json.RawMessage
		err = json.Unmarshal(body, &one)
		raws = []json.RawMessage{one}
	default:
		err = json.Unmarshal(body, new(json.RawMessage))
		if err == nil {
			kind := jsonKind(trimmed[0])
			return nil, nil, http.StatusBadRequest, intakeError{Code: "invalid",
				Error:   "the body must be a JSON object (one item) or an array of objects, not " + kind.EN,
				ErrorZH: "请求内容必须是 JSON 对象(一条)或对象数组,而不是" + kind.ZH}
		}
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off := se.Offset
			_, _, status, e := bad("the body is not valid JSON at byte %d: %s", "请求内容不是有效的 JSON(第 %d 字节):%s", off, se.Error())
			e.Offset = &off
			return nil, nil, status, e
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// An array whose elements are not values of one kind is read
			// as raw messages: only a top-level type can be wrong here.
			return bad("the body must be a JSON object or an array of objects", "请求内容必须是 JSON 对象或对象数组")
		}
		return bad("the body is not valid JSON: %s", "请求内容不是有效的 JSON:%s", err.Error())
	}
	switch {
	case len(raws) == 0:
		return bad("the array holds no item", "数组中没有任何条目")
	case len(raws) > workflow.MaxIntakeBatch:
		m := workflow.Text{
			EN: fmt.Sprintf("a delivery holds at most %d items, not %d: send them in several requests", workflow.MaxIntakeBatch, len(raws)),
			ZH: fmt.Sprintf("每次最多 %d 条,而不是 %d 条:请分多次发送", workflow.MaxIntakeBatch, len(raws)),
		}
		return nil, nil, http.StatusRequestEntityTooLarge, intakeError{Code: "too_many", Error: m.EN, ErrorZH: m.ZH, Limit: workflow.MaxIntakeBatch}
	}
	items := make([]workflow.Item, len(raws))
	ignored := map[string]bool{}
	for i, raw := range raws {
		it, e := readItem(i, raw, ignored)
		if e != nil {
			return nil, nil, http.StatusBadRequest, *e
		}
		items[i] = it
	}
	names := make([]string, 0, len(ignored))
	for k := range ignored {
		names = append(names, k)
	}
	slices.Sort(names)
	return items, names, 0, intakeError{}
}

func tooLarge(limit int64) intakeError {
	if limit == maxIntakeBody {
		return intakeError{Code: "too_large", Error: msgIntakeTooLarge.EN, ErrorZH: msgIntakeTooLarge.ZH, Limit: limit}
	}
	return intakeError{Code: "too_large", Limit: limit,
		Error:   fmt.Sprintf("refused: the body is larger than %d KiB", limit>>10),
		ErrorZH: fmt.Sprintf("已拒绝:请求内容超过 %d KiB", limit>>10)}
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) workflow.Text {
	switch {
	case c == '"':
		return jsonValue("string")
	case c == 't' || c == 'f':
		return jsonValue("bool")
	case c == 'n':
		return workflow.Text{EN: "null", ZH: "null"}
	}
	return jsonValue("number")
}

// readItem reads item i (from 0) of a delivery, noting the fields it does
// not read in ignored.
func readItem(i int, raw json.RawMessage, ignored map[string]bool) (workflow.Item, *intakeError) {
	bad := func(field, en, zh string) *intakeError {
		return &intakeError{Code: "invalid", Item: i + 1, Field: field,
			Error:   fmt.Sprintf("item %d: %s: %s", i+1, field, en),
			ErrorZH: fmt.Sprintf("第 %d 条:%s:%s", i+1, field, zh)}
	}
	var in intakeItem
	if err := json.Unmarshal(raw, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			found := jsonValue(te.Value)
			if te.Field == "" {
				e := &intakeError{Code: "invalid", Item: i + 1,
					Error:   fmt.Sprintf("item %d: must be a JSON object, not %s", i+1, found.EN),
					ErrorZH: fmt.Sprintf("第 %d 条:必须是 JSON 对象,而不是%s", i+1, found.ZH)}
				return workflow.Item{}, e
			}
			want, wantZH := "a string", "字符串"
			switch {
			case strings.HasPrefix(te.Field, "figures."):
				want, wantZH = "a whole number", "整数"
			case te.Field == "figures":
				want, wantZH = `an object such as {"posts": 35, "views": 12000, "heat": 68}`, `对象,例如 {"posts": 35, "views": 12000, "heat": 68}`
			case te.Field == "found_at":
				want, wantZH = `an RFC 3339 time as a string, such as "2026-03-02T10:00:00+08:00"`, `字符串形式的 RFC 3339 时间,例如 "2026-03-02T10:00:00+08:00"`
			}
			return workflow.Item{}, bad(te.Field, fmt.Sprintf("%s where %s is expected", found.EN, want),
				fmt.Sprintf("应为%s,而不是%s", wantZH, found.ZH))
		}
		return workflow.Item{}, &intakeError{Code: "invalid", Item: i + 1,
			Error: fmt.Sprintf("item %d: %s", i+1, err), ErrorZH: fmt.Sprintf("第 %d 条:%s", i+1, err)}
	}
	noteIgnored(raw, ignored)
	it := workflow.Item{Source: in.Source, URL: in.URL, Title: in.Title, Excerpt: in.Excerpt, Author: in.Author}
	if len(in.ID) > 0 && string(in.ID) != "null" {
		// A platform's own ID may be a number or a string.
		var s string
		var n json.Number
		switch {
		case json.Unmarshal(in.ID, &s) == nil:
			it.ID = s
		case json.Unmarshal(in.ID, &n) == nil:
			it.ID = n.String()
		default:
			return workflow.Item{}, bad("id", "must be a string or a number", "应为字符串或数字")
		}
	}
	if in.FoundAt != nil && strings.TrimSpace(*in.FoundAt) != "" {
		v := strings.TrimSpace(*in.FoundAt)
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return workflow.Item{}, bad("found_at",
				fmt.Sprintf("%q is not an RFC 3339 time; write it as \"2026-03-02T10:00:00+08:00\" or \"2026-03-02T02:00:00Z\"", clip(v)),
				fmt.Sprintf("%q 不是 RFC 3339 时间;请写作 \"2026-03-02T10:00:00+08:00\" 或 \"2026-03-02T02:00:00Z\"", clip(v)))
		}
		it.FoundAt = t
	}
	if f := in.Figures; f != nil {
		it.Figures = workflow.Figures{Posts: f.Posts, Views: f.Views, Heat: f.Heat}
	}
	return it, nil
}

// jsonValue names what UnmarshalTypeError.Value says was found ("string",
// "number 3.5", "object"), in both languages.
func jsonValue(v string) workflow.Text {
	switch {
	case v == "string":
		return workflow.Text{EN: "a string", ZH: "字符串"}
	case v == "object":
		return workflow.Text{EN: "an object", ZH: "对象"}
	case v == "array":
		return workflow.Text{EN: "an array", ZH: "数组"}
	case v == "bool":
		return workflow.Text{EN: "a boolean", ZH: "布尔值"}
	case v == "number":
		return workflow.Text{EN: "a number", ZH: "数字"}
	case strings.HasPrefix(v, "number "):
		n := strings.TrimPrefix(v, "number ")
		return workflow.Text{EN: "the number " + n, ZH: "数字 " + n}
	}
	return workflow.Text{EN: v, ZH: v}
}

// noteIgnored adds to ignored the names of raw's fields that are not read
// (compared as encoding/json does, ignoring case).
func noteIgnored(raw json.RawMessage, ignored map[string]bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return
	}
	known := func(names []string, k string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
	}
	for k, v := range top {
		if !known(intakeFields, k) {
			ignored[clip(k)] = true
			continue
		}
		if strings.EqualFold(k, "figures") {
			var figs map[string]json.RawMessage
			if json.Unmarshal(v, &figs) == nil {
				for fk := range figs {
					if !known(figuresFields, fk) {
						ignored["figures."+clip(fk)] = true
					}
				}
			}
		}
	}
}

// The board's triage lane and GET /api/v1/candidates.

// candidateView is one candidate as the triage lane shows it.
type candidateView struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Item       string          `json:"item,omitempty"`
	URL        string          `json:"url,omitempty"`
	Title      string          `json:"title"`
	Excerpt    string          `json:"excerpt,omitempty"`
	Author     string          `json:"author,omitempty"`
	FoundAt    time.Time       `json:"found_at"`
	ReceivedAt time.Time       `json:"received_at"`
	State      string          `json:"state"`
	Suggestion suggestionView  `json:"suggestion"`
	Figures    []figureNowView `json:"figures"`
	Deliveries int             `json:"deliveries"`
	Deadline   *deadlineView   `json:"deadline,omitempty"`
	Decision   *decisionView   `json:"decision,omitempty"`
}

// suggestionView is the grade a rule suggests, with its names.
type suggestionView struct {
	Rule           string   `json:"rule,omitempty"`
	Words          []string `json:"words,omitempty"`
	Level          string   `json:"level"`
	LevelName      string   `json:"level_name"`
	Category       string   `json:"category"`
	CategoryName   string   `json:"category_name"`
	Department     string   `json:"department,omitempty"`
	DepartmentName string   `json:"department_name,omitempty"`
	Auto           bool     `json:"auto,omitempty"`
}

// figureNowView is the latest value of one figure.
type figureNowView struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// decisionView says who opened or dismissed a candidate, when and why.
type decisionView struct {
	By       string    `json:"by,omitempty"`
	ByName   string    `json:"by_name,omitempty"`
	At       time.Time `json:"at"`
	Incident string    `json:"incident,omitempty"`
	// Level and Category: what it was opened as (the suggestion stays the
	// rule's).
	Level    string `json:"level,omitempty"`
	Category string `json:"category,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (v views) candidate(c *workflow.Candidate) candidateView {
	sg := c.Suggestion
	out := candidateView{
		ID: c.ID, Source: c.Source, Item: c.Item, URL: c.URL, Title: c.Title, Excerpt: c.Excerpt, Author: c.Author,
		FoundAt: c.FoundAt, ReceivedAt: c.ReceivedAt, State: string(c.State), Deliveries: c.Deliveries,
		Suggestion: suggestionView{Rule: sg.Rule, Words: sg.Words, Level: string(sg.Level), LevelName: sg.Level.Text().In(v.locale),
			Category: string(sg.Category), CategoryName: sg.Category.Text().In(v.locale),
			Department: sg.Department, DepartmentName: v.name(sg.Department), Auto: sg.Auto},
		Figures: []figureNowView{},
	}
	latest := c.LatestFigures()
	for _, k := range workflow.FigureList {
		if n, ok := latest.Get(k); ok {
			out.Figures = append(out.Figures, figureNowView{Kind: string(k), Name: k.Text().In(v.locale), Value: n})
		}
	}
	if c.State == workflow.CandidatePending {
		wait := c.Triage
		if wait <= 0 {
			wait = workflow.DefaultTriage
		}
		out.Deadline = &deadlineView{Kind: "triage", Name: label(v.locale, "triage.deadline"),
			Due: c.ReceivedAt.Add(wait), WarnAt: c.ReceivedAt.Add(wait / 2)}
	} else {
		out.Decision = &decisionView{By: c.DecidedBy, ByName: v.name(c.DecidedBy), At: c.DecidedAt, Incident: c.Incident,
			Level: string(c.OpenedLevel), Category: string(c.OpenedCategory), Reason: c.Reason}
	}
	return out
}

type candidateList struct {
	clockInfo
	State      string          `json:"state"`
	Page       int             `json:"page"`
	Pages      int             `json:"pages"`
	Total      int             `json:"total"`
	More       int             `json:"more"`
	Candidates []candidateView `json:"candidates"`
}

// getCandidates serves GET /api/v1/candidates[?state=pending|opened|dismissed][&page=N]:
// a page of 20 candidates (pending ones oldest first), the total and how
// many more there are after this page.
func (s *Server) getCandidates(w http.ResponseWriter, r *http.Request) {
	locale := s.localeOf(r)
	if s.cfg.Intake == nil {
		writeError(w, http.StatusNotFound, "not_found", msgIntakeOff.In(locale))
		return
	}
	q := r.URL.Query()
	state := workflow.CandidateState(strings.ToLower(strings.TrimSpace(q.Get("state"))))
	switch state {
	case "":
		state = workflow.CandidatePending
	case workflow.CandidatePending, workflow.CandidateOpened, workflow.CandidateDismissed:
	default:
		writeError(w, http.StatusBadRequest, "invalid", workflow.Text{
			EN: fmt.Sprintf("state=%q: use pending, opened or dismissed", clip(string(state))),
			ZH: fmt.Sprintf("state=%q:请用 pending、opened 或 dismissed", clip(string(state))),
		}.In(locale))
		return
	}
	page, bad := pageParam(r)
	if bad != nil {
		writeError(w, http.StatusBadRequest, "invalid", bad.In(locale))
		return
	}
	page = max(page, 1)
	cs, total, err := s.candidates(r.Context(), state, page)
	if err != nil {
		if workflow.ErrorCode(err) == workflow.CodeInvalid {
			writeError(w, http.StatusBadRequest, "invalid", workflow.ErrorText(err).In(locale))
			return
		}
		s.writeFailure(w, r, err)
		return
	}
	out := candidateList{clockInfo: s.clock(r), State: string(state), Page: page, Total: total,
		Pages: max(1, (total+workflow.PageSize-1)/workflow.PageSize), Candidates: []candidateView{}}
	out.More = max(0, total-(page-1)*workflow.PageSize-len(cs))
	v := s.views(r)
	for _, c := range cs {
		out.Candidates = append(out.Candidates, v.candidate(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// candidates reads a page of candidates within StoreTimeout.
func (s *Server) candidates(ctx context.Context, state workflow.CandidateState, page int) ([]*workflow.Candidate, int, error) {
	type pageOf struct {
		cs    []*workflow.Candidate
		total int
	}
	p, err := bounded(ctx, s.cfg.StoreTimeout, "list candidates", func(ctx context.Context) (pageOf, error) {
		cs, total, err := s.cfg.Intake.CandidatesOf(ctx, state, page)
		return pageOf{cs, total}, err
	})
	return p.cs, p.total, err
}

// intakeMethod answers a request to the intake with another method than
// POST.
func intakeMethod(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeIntakeError(w, http.StatusMethodNotAllowed, intakeError{Code: "method",
		Error: "deliver monitoring items with POST (see docs/intake.md)", ErrorZH: "请用 POST 推送监测条目(见 docs/intake.md)"})
}
