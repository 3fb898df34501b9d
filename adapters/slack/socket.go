package slack

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands, button presses and events over a
// Socket Mode WebSocket (FIREBREAK_SLACK_APP_TOKEN; no public URL needed)
// and handles them as the HTTP endpoints do. It returns nil when ctx ends,
// and an error when it cannot connect (a bad token, for one).
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.appToken == "" {
		return errors.New("slack: Socket Mode needs FIREBREAK_SLACK_APP_TOKEN")
	}
	client := socketmode.New(a.api, socketmode.OptionLog(socketLog{a.log}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case evt := <-client.Events:
			a.socketEvent(ctx, client, evt)
		}
	}
}

// socketEvent handles one Socket Mode event. Requests are acknowledged
// before 3 seconds pass, as over HTTP.
func (a *Adapter) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.InfoContext(ctx, "slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.log.InfoContext(ctx, "slack socket mode connected")
	case socketmode.EventTypeInvalidAuth:
		a.log.ErrorContext(ctx, "slack socket mode: the app token was refused (FIREBREAK_SLACK_APP_TOKEN)")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage,
		socketmode.EventTypeErrorWriteFailed:
		var cause any
		switch d := evt.Data.(type) {
		case *socketmode.ErrorBadMessage:
			cause = d.Cause
		case *socketmode.ErrorWriteFailed:
			cause = d.Cause
		case error:
			cause = d
		}
		a.log.WarnContext(ctx, "slack socket mode trouble", "type", evt.Type, "err", cause)
	case socketmode.EventTypeSlashCommand:
		a.socketCommand(ctx, client, evt.Request)
	case socketmode.EventTypeInteractive:
		a.ack(ctx, client, evt.Request, nil)
		cb, err := parseInteraction(evt.Request.Payload)
		if err != nil {
			a.log.WarnContext(ctx, "slack socket mode interaction refused", "reason", err)
			return
		}
		a.runInteraction(ctx, cb)
	case socketmode.EventTypeEventsAPI:
		a.ack(ctx, client, evt.Request, nil)
		env, err := parseEnvelope(evt.Request.Payload)
		if err != nil {
			a.log.WarnContext(ctx, "slack socket mode event refused", "reason", err)
			return
		}
		retry := ""
		if evt.Request.RetryAttempt > 0 {
			retry = strconv.Itoa(evt.Request.RetryAttempt)
		}
		a.runEvent(ctx, env, retry)
	}
}

// socketCommand runs a slash command; the answer is the acknowledgement's
// payload, or, when too large for one, goes to the response_url.
func (a *Adapter) socketCommand(ctx context.Context, client *socketmode.Client, req *socketmode.Request) {
	var c command
	if req == nil || json.Unmarshal(req.Payload, &c) != nil || c.UserID == "" {
		a.log.WarnContext(ctx, "slack socket mode command refused", "reason", "malformed slash command payload")
		a.ack(ctx, client, req, nil)
		return
	}
	// The answer may take up to AckTimeout: acknowledge from a goroutine so
	// that other requests are read meanwhile.
	a.bg.Go(func() {
		res := a.runCommand(ctx, c)
		if err := client.AckCtx(ctx, req.EnvelopeID, res); err != nil {
			a.ack(ctx, client, req, nil)
			a.background(ctx, func(ctx context.Context) { a.respond(ctx, c.ResponseURL, res, "slash command reply") })
		}
	})
}

func (a *Adapter) ack(ctx context.Context, client *socketmode.Client, req *socketmode.Request, payload any) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		a.log.WarnContext(ctx, "slack socket mode acknowledgement failed", "err", err)
	}
}

// socketLog sends the Socket Mode client's own log lines to slog at debug
// level.
type socketLog struct{ log *slog.Logger }

func (l socketLog) Output(_ int, s string) error {
	l.log.Debug("slack socket mode", "msg", strings.TrimSpace(s))
	return nil
}
