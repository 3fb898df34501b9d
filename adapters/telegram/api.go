package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
)

// ctxClient binds one Bot API call to a context: the library's calls take
// none, so each call runs on a shallow copy of the BotAPI with this client.
type ctxClient struct {
	ctx context.Context
	c   *http.Client
}

// Do sends req under the bound context.
func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}

// botAPI returns the library client for one call under ctx.
func (a *Adapter) botAPI(ctx context.Context) *tgbotapi.BotAPI {
	b := *a.api
	b.Client = ctxClient{ctx: ctx, c: a.http}
	return &b
}

// call runs a Bot API method with raw parameters.
func (a *Adapter) call(ctx context.Context, method string, p tgbotapi.Params) (*tgbotapi.APIResponse, error) {
	resp, err := a.botAPI(ctx).MakeRequest(method, p)
	return resp, a.apiErr(method, err)
}

// request runs a library config (sendMessage, editMessageText, ...).
func (a *Adapter) request(ctx context.Context, method string, c tgbotapi.Chattable) (*tgbotapi.APIResponse, error) {
	resp, err := a.botAPI(ctx).Request(c)
	return resp, a.apiErr(method, err)
}

func decodeResult(resp *tgbotapi.APIResponse, v any) error {
	if resp == nil {
		return errors.New("empty response")
	}
	if err := json.Unmarshal(resp.Result, v); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	return nil
}

// apiError is an error answered by the Bot API.
type apiError struct {
	method      string
	code        int
	description string
	migrateTo   int64
}

// Is reports a refusal for good (bot.ErrRefused): a bad request or a chat
// the bot may not write to (400, 403), but not a chat that moved (retried
// at its new ID), a refused token (401) or a rate limit.
func (e *apiError) Is(target error) bool {
	return target == bot.ErrRefused && e.migrateTo == 0 &&
		(e.code == http.StatusBadRequest || e.code == http.StatusForbidden)
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("telegram %s: %d %s", e.method, e.code, e.description)
	switch {
	case e.code == http.StatusUnauthorized || e.code == http.StatusNotFound && e.method == "getMe":
		s += " (check FIREBREAK_TELEGRAM_TOKEN)"
	case e.code == http.StatusForbidden:
		s += " (a person must open a chat with the bot and press Start before it can write to them; a group must have the bot as a member)"
	case e.code == http.StatusBadRequest && strings.Contains(e.description, "chat not found"):
		s += " (check the Telegram IDs in the roster: /whoami in the chat shows its ID)"
	}
	return s
}

// safeError hides the token in the text of an error it wraps.
type safeError struct {
	err   error
	token string
}

func (e *safeError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.token, "<token>")
}

func (e *safeError) Unwrap() error { return e.err }

// apiErr turns a library error into one safe to log: a 429 becomes a
// *bot.RetryAfterError; an answer of the Bot API an *apiError; a transport
// error loses its URL, which holds the token.
func (a *Adapter) apiErr(method string, err error) error {
	if err == nil {
		return nil
	}
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		if te.Code == http.StatusTooManyRequests {
			return &bot.RetryAfterError{After: max(time.Duration(te.RetryAfter)*time.Second, time.Second)}
		}
		return &apiError{method: method, code: te.Code, description: strings.ReplaceAll(te.Message, a.token, "<token>"),
			migrateTo: te.MigrateToChatID}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &safeError{err: fmt.Errorf("telegram %s: %w", method, err), token: a.token}
}

// notModified reports whether err is Telegram's "message is not modified":
// the edit asked for is already in place, which is success.
func notModified(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && strings.Contains(ae.description, "message is not modified")
}

// migratedTo returns the supergroup a group chat became, or 0.
func migratedTo(err error) int64 {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.migrateTo
	}
	return 0
}

// permanent reports whether err is a Bot API refusal that retrying will not
// change (a message gone or not editable, a bad request), as opposed to a
// network failure, a 5xx or a rate limit.
func permanent(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code >= 400 && ae.code < 500 && ae.code != http.StatusTooManyRequests
}

// retryAfter is the wait a 429 asked for, or 0.
func retryAfter(err error) time.Duration {
	var ra *bot.RetryAfterError
	if errors.As(err, &ra) {
		return ra.After
	}
	return 0
}
