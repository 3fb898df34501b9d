package web

import (
	"context"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Sender is the web platform's outbox sender: a bot.Dispatcher with consumer
// group "web" hands it every notice, and it posts the notice to the hub,
// which streams it to the browsers (the playground's panes) and tells the
// board that incidents changed. Every audience exists on the web: the three
// channels and every person's direct messages.
type Sender struct {
	hub   *Hub
	clock workflow.Clock
}

var _ bot.Sender = (*Sender)(nil)

// NewSender returns a sender posting to hub, stamping posts with clock's time
// (the system clock when nil).
func NewSender(hub *Hub, clock workflow.Clock) *Sender {
	if clock == nil {
		clock = workflow.SystemClock{}
	}
	return &Sender{hub: hub, clock: clock}
}

// Platform returns bot.PlatformWeb, the outbox consumer group.
func (s *Sender) Platform() string { return bot.PlatformWeb }

// Target is the audience itself ("incidents", "person:wang"): each is one
// pane, delivered in order.
func (s *Sender) Target(n workflow.Notice) string { return string(n.Audience) }

// Send posts m to the hub; it never fails (a browser that is not connected
// catches up from the hub's memory).
func (s *Sender) Send(_ context.Context, n workflow.Notice, m bot.Message) error {
	s.hub.Post(n, m, s.clock.Now())
	s.hub.Changed(n.Incident)
	return nil
}

// RateLimit is none: a pane is this process's memory and a browser's
// stream, with no platform limit to respect.
func (s *Sender) RateLimit(string) bot.RateLimit { return bot.RateLimit{} }
