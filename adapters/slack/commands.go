package slack

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// serveCommands answers POST /slack/commands: a slash command, as a form.
func (a *Adapter) serveCommands(w http.ResponseWriter, r *http.Request) {
	form, ok := a.readForm(w, r)
	if !ok {
		return
	}
	c := command{
		UserID: form.Get("user_id"), UserName: form.Get("user_name"), ChannelID: form.Get("channel_id"),
		Command: form.Get("command"), Text: form.Get("text"), ResponseURL: form.Get("response_url"),
	}
	if c.UserID == "" || c.Command == "" {
		a.refuse(w, r, badRequest("not a slash command: user_id or command missing"))
		return
	}
	// A command is handled once: the same signed request again (a replay
	// within the signature's five minutes, or Slack retrying after a slow
	// answer, X-Slack-Retry-Num) gets the first answer and changes nothing.
	key := commandKey(r, form)
	base := r.Context() // without the guard: the memo is no call of the command
	ctx, once := a.guard(base, key)
	var res response
	if known, ok := once.(decided); !ok || known.first {
		// A copy that was not first stops at its first storage call.
		res = a.runCommand(ctx, c)
	}
	first, settled, err := once.Decided()
	switch {
	case !settled:
		// It stored nothing (refused as busy, a help text), or has not
		// yet (still running, its answer to follow): nothing to guard,
		// nothing to remember.
		writeJSON(w, res)
		return
	case err != nil:
		a.log.WarnContext(ctx, "slack: cannot check whether a command was handled already; refusing it", "err", err)
		writeJSON(w, note("⚠ "+workflow.Unavailable(err).Msg.In(a.locale)))
		return
	case !first:
		writeJSON(w, a.firstAnswer(base, key))
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// The answer goes out whole before its memo is written: the memo is
	// for the copies that may follow, not for this one.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	_ = http.NewResponseController(w).Flush()
	mctx, cancel := context.WithTimeout(context.WithoutCancel(base), memoTimeout)
	defer cancel()
	if err := a.sender.memo.SetMemo(mctx, key+":answer", string(b), CommandDedupeTTL); err != nil {
		a.log.WarnContext(ctx, "slack: remember a command's answer", "err", err)
	}
}

// memoTimeout bounds the write of a command's answer memo, after the
// answer went out (the client may have closed the connection).
const memoTimeout = 5 * time.Second

// CommandDedupeTTL is how long a handled slash command is remembered:
// longer than the five minutes a signature is accepted.
const CommandDedupeTTL = 10 * time.Minute

// commandKey names one invocation of a slash command: Slack's trigger_id,
// unique per invocation and kept by its retries, or else the request's
// signature and timestamp.
func commandKey(r *http.Request, form url.Values) string {
	id := form.Get("trigger_id")
	if id == "" {
		id = r.Header.Get("X-Slack-Request-Timestamp") + " " + r.Header.Get("X-Slack-Signature")
	}
	sum := sha256.Sum256([]byte(id))
	return "slack:cmd:" + hex.EncodeToString(sum[:16])
}

// guard returns the at-most-once guard of the slash command key: the
// store's, which takes the key with the command's first round trip, or,
// on a plain Locker, the lock taken now (decided).
func (a *Adapter) guard(ctx context.Context, key string) (context.Context, bot.Once) {
	if g, ok := a.locker.(OnceLocker); ok {
		return g.Once(ctx, key, CommandDedupeTTL)
	}
	first, err := a.locker.TryLock(ctx, key, CommandDedupeTTL)
	return ctx, decided{first, err}
}

// decided is a guard whose key was taken before the command ran.
type decided struct {
	first bool
	err   error
}

func (d decided) Decided() (first, ok bool, err error) { return d.first && d.err == nil, true, d.err }

// firstAnswer is the answer given to the first copy of a command: its
// memo, written just after that answer went out. While the first copy is
// still being handled it waits for the memo, as long as a command's own
// answer may take (AckTimeout), then answers with a note saying so.
func (a *Adapter) firstAnswer(ctx context.Context, key string) response {
	wait := time.NewTimer(a.ackIn)
	defer wait.Stop()
	poll := time.NewTicker(memoPoll)
	defer poll.Stop()
	for {
		if v, ok, err := a.sender.memo.GetMemo(ctx, key+":answer"); err == nil && ok {
			var res response
			if json.Unmarshal([]byte(v), &res) == nil {
				return res
			}
		}
		select {
		case <-poll.C:
			continue
		case <-wait.C:
		case <-ctx.Done():
		}
		return note(bot.ErrRepeated.Msg.In(a.locale))
	}
}

// memoPoll is how often a copy of a command looks for the first copy's
// answer.
const memoPoll = 20 * time.Millisecond

// command is a slash command as Slack sends it (form fields or Socket Mode
// payload).
type command struct {
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	ChannelID   string `json:"channel_id"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	ResponseURL string `json:"response_url"`
}

// runCommand routes a slash command and returns the answer to give Slack
// now. When the router has not answered within AckTimeout, the answer says
// the reply is on its way, and the reply goes to the response_url when
// ready.
func (a *Adapter) runCommand(ctx context.Context, c command) response {
	req := &bot.Request{Platform: bot.PlatformSlack, Actor: a.actor(c.UserID), Account: c.UserID, AccountName: c.UserName,
		Conversation: c.ChannelID, Text: a.commandText(c.Text)}
	ctx = bot.WithRequestID(ctx, bot.NewRequestID())
	done := make(chan *bot.Reply, 1)
	a.background(ctx, func(ctx context.Context) {
		done <- a.router.Handle(ctx, req)
	})
	timer := time.NewTimer(a.ackIn)
	defer timer.Stop()
	select {
	case r := <-done:
		return replyResponse(r)
	case <-timer.C:
	}
	a.background(ctx, func(ctx context.Context) {
		var r *bot.Reply
		select {
		case r = <-done:
		case <-ctx.Done():
			return
		}
		a.respond(ctx, c.ResponseURL, replyResponse(r), "slash command reply")
	})
	return note(a.t("⏳ Working on it; the answer follows in a moment.", "⏳ 正在处理,稍后回复。"))
}

// actor is the roster ID of a Slack user, "" when the roster does not know
// them (the router then tells them what to add).
func (a *Adapter) actor(userID string) string {
	if p, ok := a.roster.ByAccount(Platform.Name, userID); ok {
		return p.ID
	}
	return ""
}

var (
	leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(\|[^>]*)?>[\s:,,]*`)
	slackMarkup    = regexp.MustCompile(`<([^<>]*)>`)
	unescaper      = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// stripLeadingMention drops the "<@U…>" that addresses the bot.
func stripLeadingMention(s string) string { return leadingMention.ReplaceAllString(s, "") }

// commandText turns Slack's markup back into what the person typed: a
// mention of someone in the roster becomes their roster ID ("assign YQ-7
// <@U0LI>" → "assign YQ-7 li"), a link its URL, a channel its #name, and
// &amp; &lt; &gt; their characters.
func (a *Adapter) commandText(s string) string {
	s = slackMarkup.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, _ := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			if p, ok := a.roster.ByAccount(Platform.Name, target[1:]); ok {
				return p.ID
			}
			if label != "" {
				return "@" + label
			}
			return m
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			return "@" + strings.TrimPrefix(cmp.Or(label, target), "!")
		case strings.HasPrefix(target, "mailto:"):
			return strings.TrimPrefix(target, "mailto:")
		case strings.Contains(target, "://"):
			return target
		}
		return m
	})
	return unescaper.Replace(strings.TrimSpace(s))
}

// response is a message as Slack takes it in the answer to a slash command,
// in a Socket Mode acknowledgement and on a response_url.
type response struct {
	ResponseType    string         `json:"response_type,omitempty"`
	Text            string         `json:"text"`
	Blocks          slackgo.Blocks `json:"blocks,omitzero"`
	ReplaceOriginal bool           `json:"replace_original"`
}

// Response types.
const (
	ephemeral = "ephemeral"  // seen only by the person who acted
	inChannel = "in_channel" // seen by everyone in the conversation
)

// replyResponse renders a router reply: in the channel when it is public
// and not an error, else only for the person.
func replyResponse(r *bot.Reply) response {
	kind := ephemeral
	if r.Public && !r.Failed {
		kind = inChannel
	}
	return response{ResponseType: kind, Text: fallback(r.Text, r.Card),
		Blocks: slackgo.Blocks{BlockSet: messageBlocks(r.Text, r.Card)}}
}

// note is an adapter-level message for the person alone.
func note(text string) response {
	return response{ResponseType: ephemeral, Text: fallback(text, nil),
		Blocks: slackgo.Blocks{BlockSet: textBlocks(text)}}
}
