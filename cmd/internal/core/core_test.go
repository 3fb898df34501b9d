package core_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/adapters/rosterfile"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/cmd/internal/core"
)

// TestNewWiresTheRouter checks what both cmd/firebreak and cmd/fbload rely
// on: the commands are registered, and the router counts what it handles.
// help touches no Store, so none is needed.
func TestNewWiresTheRouter(t *testing.T) {
	roster := rosterfile.Demo()
	parts := core.New(core.Options{Roster: roster})
	if parts.Service.Roster() != roster {
		t.Fatalf("Service roster: got %p, want the roster given (%p)", parts.Service.Roster(), roster)
	}
	reply := parts.Router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: "help"})
	if reply == nil || reply.Failed || !strings.Contains(reply.Text, "open") {
		t.Fatalf("help: got %+v, want the generated help naming open", reply)
	}
	var b bytes.Buffer
	if err := parts.Metrics.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "help") {
		t.Errorf("metrics after help: got %q, want the command counted", b.String())
	}
}
