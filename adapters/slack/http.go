package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/firebreak/firebreak/bot"
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
