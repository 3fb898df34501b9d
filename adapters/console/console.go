// Package console is the terminal adapter: it reads commands as one person
// types them, prints the reply, and prints every notification the bot sends
// to anyone else, with its target and its buttons. Scripted, it shows a whole
// incident; it also runs the transcript tests.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// OutboxGroup is the consumer group under which the console reads the outbox.
const OutboxGroup = "console"

// Console runs the terminal adapter.
type Console struct {
	Router *bot.Router
	Outbox bot.OutboxStore
	// Render words the notices (nil: their bodies are encoded messages).
	Render bot.Renderer
	Roster *workflow.Roster
	// Clock is the clock the whole app runs on; :advance moves it.
	Clock SettableClock
	// Timers and RunDue, when set, let time pass: after each line the timers
	// due by now fire, and :advance fires everything due in its span, in order.
	Timers workflow.Timers
	RunDue func(ctx context.Context) (int, error)
	// Digest, when set, posts a digest now (the :digest directive).
	Digest func(ctx context.Context, kind string, at time.Time) error
	// Intake, when set, delivers monitoring items as a monitoring platform
	// would (the :intake directive, a JSON item or array of them) and says
	// what became of each.
	Intake func(ctx context.Context, body string) (string, error)
	// Prompt, when true, prints a prompt before each line (interactive use).
	Prompt bool
}

// Run reads lines from in as person `as` and writes the transcript to out:
// each input echoed after "> ", then the reply and the notifications it
// caused. Directives: ":as <person>" switches the speaker, ":press
// <button-id>" presses a button, ":advance <duration>" moves the clock and
// fires what fell due, ":digest daily|weekly" posts a digest now,
// ":intake <json>" delivers monitoring items.
// Lines starting with "#" are comments, echoed as they are. Run returns at
// the end of input; only a write error or a cancelled context is an error.
func (c *Console) Run(ctx context.Context, as string, in io.Reader, out io.Writer) error {
	if _, ok := c.Roster.Person(as); !ok {
		return fmt.Errorf("--as %s: not in the roster (known: %s)", as, strings.Join(c.people(), ", "))
	}
	w := &writer{w: out}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	speaker := as
	for {
		if c.Prompt {
			w.printf("%s> ", speaker)
		}
		if !sc.Scan() {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			if !c.Prompt {
				w.printf("%s\n", line)
			}
			continue
		case !c.Prompt:
			w.printf("> %s\n", trimmed)
		}
		if strings.HasPrefix(trimmed, ":") {
			next, err := c.directive(ctx, w, speaker, trimmed)
			if err != nil {
				return err
			}
			speaker = next
		} else {
			reply := c.Router.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: speaker, Conversation: "console", Text: trimmed})
			writeReply(w, reply)
		}
		if err := c.Drain(ctx, out); err != nil {
			w.printf("! %v\n", err)
		}
		if !strings.HasPrefix(trimmed, ":advance") {
			if err := c.fire(ctx, w); err != nil {
				w.printf("! %v\n", err)
			}
		}
		if w.err != nil {
			return w.err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	return w.err
}

func (c *Console) directive(ctx context.Context, w *writer, speaker, line string) (string, error) {
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, ":"), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "as":
		if _, ok := c.Roster.Person(arg); !ok {
			w.printf("! %q is not in the roster (known: %s)\n", arg, strings.Join(c.people(), ", "))
			return speaker, nil
		}
		return arg, nil
	case "press":
		a, err := bot.ParseAction(arg)
		if err != nil {
			w.printf("! :press needs a button ID as printed in [brackets]: %v\n", err)
			return speaker, nil
		}
		reply := c.Router.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: speaker, Conversation: "console", Action: &a})
		writeReply(w, reply)
	case "advance":
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			w.printf("! :advance needs a positive duration such as 30m, 2h or 1h30m, not %q\n", arg)
			return speaker, nil
		}
		if c.Clock == nil || c.RunDue == nil {
			w.printf("! :advance is not available here\n")
			return speaker, nil
		}
		if err := c.advance(ctx, w, c.Clock.Now().Add(d)); err != nil {
			w.printf("! %v\n", err)
		}
	case "digest":
		if arg != "daily" && arg != "weekly" {
			w.printf("! :digest takes daily or weekly, not %q\n", arg)
			return speaker, nil
		}
		if c.Digest == nil || c.Clock == nil {
			w.printf("! :digest is not available here\n")
			return speaker, nil
		}
		if err := c.Digest(ctx, arg, c.Clock.Now()); err != nil {
			w.printf("! %v\n", err)
		}
	case "intake":
		if c.Intake == nil {
			w.printf("! :intake is not available here\n")
			return speaker, nil
		}
		got, err := c.Intake(ctx, arg)
		if err != nil {
			w.printf("! %v\n", err)
			return speaker, nil
		}
		w.printf("%s\n", got)
	default:
		w.printf("! unknown directive :%s (known: :as <person>, :press <button-id>, :advance <duration>, :digest daily|weekly, :intake <json>)\n", name)
	}
	return speaker, nil
}

// SettableClock is a clock the console can move.
type SettableClock interface {
	workflow.Clock
	Set(t time.Time)
}

// advance moves the clock to target one due timer at a time, firing each
// and printing what it caused under the time it happened, so a transcript
// shows reminders and escalations in order.
func (c *Console) advance(ctx context.Context, w *writer, target time.Time) error {
	for {
		next, ok, err := c.Timers.NextDue(ctx)
		if err != nil {
			return fmt.Errorf("read timers: %w", err)
		}
		if !ok || next.After(target) {
			break
		}
		if next.After(c.Clock.Now()) {
			c.Clock.Set(next)
		}
		if err := c.fire(ctx, w); err != nil {
			return err
		}
	}
	c.Clock.Set(target)
	return c.fire(ctx, w)
}

// fire runs the timers due now and prints what they caused.
func (c *Console) fire(ctx context.Context, w *writer) error {
	if c.RunDue == nil {
		return nil
	}
	var buf strings.Builder
	n, err := c.RunDue(ctx)
	if err != nil {
		return fmt.Errorf("fire timers: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := c.Drain(ctx, &buf); err != nil {
		return err
	}
	if buf.Len() > 0 {
		w.printf("⏱ %s\n%s", c.Clock.Now().In(c.Roster.Location()).Format("01-02 15:04"), buf.String())
	}
	return nil
}

// Drain prints every notice waiting in the outbox and acknowledges it.
func (c *Console) Drain(ctx context.Context, out io.Writer) error {
	w := &writer{w: out}
	for {
		ds, err := c.Outbox.ReadOutbox(ctx, OutboxGroup, "console", 100)
		if err != nil {
			return fmt.Errorf("read notifications: %w", err)
		}
		if len(ds) == 0 {
			return w.err
		}
		for _, d := range ds {
			c.writeNotice(ctx, w, d.Notice)
		}
		if err := c.Outbox.AckOutbox(ctx, OutboxGroup, ds...); err != nil {
			return fmt.Errorf("acknowledge notifications: %w", err)
		}
	}
}

// writeNotice prints a notice as its audience would see it. A refresh
// (a card updated in place) prints nothing: a terminal has no earlier
// message to edit, and the next card printed shows the present state.
func (c *Console) writeNotice(ctx context.Context, w *writer, n workflow.Notice) {
	m, err := c.render(ctx, n)
	if err != nil {
		w.printf("! notice %s: %v\n", n.ID, err)
		return
	}
	if m.Refresh {
		return
	}
	to := "#" + string(n.Audience)
	if id, ok := n.Audience.Person(); ok {
		to = "@" + id
	}
	if m.Text == "" {
		w.printf("  → %s:\n", to)
	} else {
		w.printf("  → %s: %s\n", to, indent(m.Text, "    "))
	}
	if m.Card != nil {
		writeCard(w, m.Card, "    ")
	}
}

func (c *Console) render(ctx context.Context, n workflow.Notice) (bot.Message, error) {
	if c.Render != nil {
		return c.Render.Render(ctx, n, bot.PlatformConsole)
	}
	return bot.DecodeMessage(n.Body)
}

func (c *Console) people() []string {
	ids := make([]string, len(c.Roster.People))
	for i, p := range c.Roster.People {
		ids[i] = p.ID
	}
	return ids
}

func writeReply(w *writer, r *bot.Reply) {
	if r.Text != "" {
		w.printf("%s\n", r.Text)
	}
	if r.Card != nil {
		writeCard(w, r.Card, "")
	}
}

func writeCard(w *writer, c *bot.Card, pad string) {
	w.printf("%s┌ %s\n", pad, c.Title)
	for _, f := range c.Fields {
		w.printf("%s│ %s: %s\n", pad, f.Label, indent(f.Value, pad+"│   "))
	}
	if c.Body != "" {
		w.printf("%s│ » %s\n", pad, indent(c.Body, pad+"│   "))
	}
	if c.Footer != "" {
		w.printf("%s│ %s\n", pad, indent(c.Footer, pad+"│ "))
	}
	if len(c.Buttons) > 0 {
		bs := make([]string, len(c.Buttons))
		for i, b := range c.Buttons {
			bs[i] = fmt.Sprintf("[%s] %s", b.ID, b.Label)
		}
		w.printf("%s│ %s\n", pad, strings.Join(bs, "   "))
	}
	w.printf("%s└\n", pad)
}

func indent(s, pad string) string { return strings.ReplaceAll(s, "\n", "\n"+pad) }

// writer remembers the first write error so the loop can stop on it.
type writer struct {
	w   io.Writer
	err error
}

func (w *writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}
