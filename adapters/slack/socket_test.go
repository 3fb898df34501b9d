package slack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// TestSocketMode drives the adapter over Socket Mode against slacktest's
// WebSocket: a slash command is answered in its acknowledgement, a button
// press updates the card through the response_url, a mention is answered
// with chat.postMessage.
func TestSocketMode(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.adapterWithSecret("") // Socket Mode only: an app token, no signing secret
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunSocketMode did not return after its context ended")
		}
	})

	send := func(kind, envelopeID string, payload any) {
		b, _ := json.Marshal(map[string]any{"type": kind, "envelope_id": envelopeID, "payload": payload,
			"accepts_response_payload": kind == "slash_commands"})
		e.slack.server.SendToWebsocket(string(b))
	}

	send("slash_commands", "env-1", map[string]any{"user_id": "U0CHEN", "user_name": "chen", "command": "/incident",
		"text": "open Socket mode complaint", "channel_id": "C0INCIDENTS", "response_url": e.hooks.url()})
	ack := e.ack(t, "env-1")
	var res response
	if err := json.Unmarshal(ack.Payload, &res); err != nil {
		t.Fatalf("ack payload: %v\n%s", err, ack.Payload)
	}
	if res.ResponseType != "in_channel" || !strings.HasPrefix(res.Text, "Opened YQ-") ||
		!strings.Contains(shown(res.blocks(t)), "[ack:YQ-") {
		t.Errorf("slash command acknowledgement %+v, want the incident card in the channel", res)
	}
	incs, _ := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	if len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1", len(incs))
	}
	id := incs[0].ID

	send("interactive", "env-2", map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0CHEN"}, "response_url": e.hooks.url(),
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000001", "channel_id": "C0INCIDENTS"},
		"actions": []any{map[string]any{"type": "button", "block_id": "b1", "action_id": "ack:" + id, "value": "ack:" + id,
			"text": map[string]any{"type": "plain_text", "text": "Acknowledge"}}},
	})
	e.ack(t, "env-2")
	if upd := e.hooks.next(); !upd.ReplaceOriginal || !strings.Contains(shown(upd.blocks(t)), "acknowledged") {
		t.Errorf("button press over Socket Mode: got %+v, want the card updated in place", upd)
	}

	send("events_api", "env-3", json.RawMessage(mentionEvent("Ev0SOCKET", "U0LI", "<@U0FIREBREAK> list", "")))
	e.ack(t, "env-3")
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls := e.slack.Calls()
		if len(calls) > 0 {
			if c := calls[len(calls)-1]; c.Method != "chat.postMessage" || !strings.Contains(c.Text, id) {
				t.Errorf("mention over Socket Mode: got %+v, want the list posted", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mention was not answered within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// socketAck is what the client sends back over the WebSocket.
type socketAck struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

// ack waits for the acknowledgement of envelope id.
func (e *env) ack(t *testing.T, id string) socketAck {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-e.slack.server.SeenFeed:
			var a socketAck
			if json.Unmarshal([]byte(m), &a) == nil && a.EnvelopeID == id {
				return a
			}
		case <-timeout:
			t.Fatalf("envelope %s was not acknowledged within 10s\n%s", id, e.logs.String())
		}
	}
}
