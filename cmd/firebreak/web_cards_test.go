package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestBrowserCardButtons: an incident card offers Acknowledge and Take it
// only to the person who may press them, as the pane's picker says; a
// refreshed card replaces the posted one in place, its buttons gone, and a
// refresh for a pane without the card shows nothing.
func TestBrowserCardButtons(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	b := newBrowser(t)
	pg := b.root
	do(t, pg, "open the playground", chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1"`)
	typeCommand(t, pg, "chen", "/incident open Canteen complaint level:major category:inquiry")
	card := `#feed-incidents .card[data-incident="YQ-1"]`
	waitFor(t, pg, "the card in #incidents", `document.querySelector('`+card+` button[data-action="take:YQ-1"]') !== null`)

	// YQ-1 went to Li Ming of logistics: he and Zhou Min (logistics) may
	// acknowledge it; anyone may take it on.
	shown := func(as string) string {
		t.Helper()
		selectOption(t, pg, "actor", as)
		return eval[string](t, pg, `[...document.querySelectorAll('`+card+` button')].filter(b => !b.hidden && b.checkVisibility()).map(b => b.dataset.action).join(" ")`)
	}
	for _, tt := range []struct{ as, want string }{
		{"chen", "take:YQ-1"},
		{"li", "ack:YQ-1 take:YQ-1"},
		{"zhou", "ack:YQ-1 take:YQ-1"},
		{"wang", "take:YQ-1"},
	} {
		if got := shown(tt.as); got != tt.want {
			t.Errorf("buttons offered to %s: got %q, want %q", tt.as, got, tt.want)
		}
	}

	// Once li acknowledged, nobody is offered either (the board's data says so).
	typeCommand(t, pg, "li", "/incident ack YQ-1")
	waitFor(t, pg, "the buttons withdrawn", `[...document.querySelectorAll('`+card+` button')].every(b => b.hidden)`)

	seq := eval[string](t, pg, `document.querySelector('`+card+`').closest(".post").dataset.seq`)
	send := func(audience, title string) {
		t.Helper()
		n := workflow.Notice{ID: fmt.Sprintf("refresh-%s-%s", audience, title), Incident: "YQ-1", Audience: workflow.Audience(audience)}
		m := bot.Message{Kind: "incident", Thread: "YQ-1", Refresh: true, Card: &bot.Card{Incident: "YQ-1", Title: title,
			Fields: []bot.Field{{Label: "Status", Value: "acknowledged"}}}}
		if err := w.sender.Send(context.Background(), n, m); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	send("statements", "YQ-1 nowhere")
	send("incidents", "YQ-1 refreshed")
	post := fmt.Sprintf(`#feed-incidents .post[data-seq="%s"]`, seq)
	waitFor(t, pg, "the card replaced in place", `document.querySelector('`+post+` .card-title').textContent === "YQ-1 refreshed" && document.querySelectorAll('`+post+` button').length === 0`)
	if got := eval[int](t, pg, `[...document.querySelectorAll(".card-title")].filter(e => e.textContent.startsWith("YQ-1 refreshed")).length`); got != 1 {
		t.Errorf("cards refreshed: got %d, want the one posted card (a refresh posts nothing new)", got)
	}
	if got := eval[string](t, pg, `document.getElementById("feed-statements").textContent + [...document.querySelectorAll(".card-title")].map(e => e.textContent).join("|")`); strings.Contains(got, "nowhere") {
		t.Errorf("a refresh for a pane without the card showed: %q", got)
	}
}
