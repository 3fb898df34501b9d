package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// readForm reads a verified request's form body; when it cannot, it has
// already answered (401 or 400) and reports false.
func (a *Adapter) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, err := a.readVerified(w, r)
	if err != nil {
		a.refuse(w, r, err)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		a.refuse(w, r, badRequest("malformed form"))
		return nil, false
	}
	return form, true
}

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

// serveInteractions answers POST /slack/interactions: a form whose payload
// field is the JSON of the interaction. It acknowledges at once; the answer
// goes to the response_url.
func (a *Adapter) serveInteractions(w http.ResponseWriter, r *http.Request) {
	form, ok := a.readForm(w, r)
	if !ok {
		return
	}
	cb, err := parseInteraction([]byte(form.Get("payload")))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	a.runInteraction(r.Context(), cb)
	w.WriteHeader(http.StatusOK)
}

// parseInteraction decodes an interaction payload.
func parseInteraction(payload []byte) (*slackgo.InteractionCallback, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, badRequest("no payload")
	}
	var cb slackgo.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return nil, badRequest("malformed payload JSON")
	}
	if cb.Type == "" || cb.User.ID == "" {
		return nil, badRequest("not an interaction: type or user missing")
	}
	return &cb, nil
}

// serveEvents answers POST /slack/events: the url_verification challenge
// and event callbacks, acknowledged at once.
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, err := a.readVerified(w, r)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	env, err := parseEnvelope(body)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	if env.Type == "url_verification" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, env.Challenge)
		return
	}
	a.runEvent(r.Context(), env, r.Header.Get("X-Slack-Retry-Num"))
	w.WriteHeader(http.StatusOK)
}

// parseEnvelope decodes the outer JSON of an Events API request.
func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return envelope{}, badRequest("malformed event JSON")
	}
	if env.Type == "" {
		return envelope{}, badRequest("not an event: type missing")
	}
	return env, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// respond posts res to a response_url. Failures are logged (without the
// URL, which grants posting in the conversation).
func (a *Adapter) respond(ctx context.Context, responseURL string, res response, what string) {
	if err := a.postResponse(ctx, responseURL, res); err != nil {
		a.log.WarnContext(ctx, "slack response not delivered", "what", what, "request_id", bot.RequestID(ctx), "err", err)
	}
}

func (a *Adapter) postResponse(ctx context.Context, responseURL string, res response) error {
	if responseURL == "" {
		return errors.New("no response_url")
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("bad response_url")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("post to response_url: %w", redactURL(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("response_url answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// redactURL drops the URL from a client error: a response_url is a
// credential for its conversation.
func redactURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
