package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Coalescing (issue 15): a chat whose backlog is more than its rate limit
// sends in a minute gets its oldest routine notices in one message instead
// of one by one, so a burst of 2,000 opened incidents reaches a Telegram
// group (20 messages a minute) within a minute or two instead of 100, and
// the entries behind them are not held in memory for that long.
//
//   - The threshold is the target's minute's worth: how many messages its
//     RateLimit lets out in a minute (Telegram group 20, Slack channel or
//     any direct chat 60; no limit: never).
//   - At each send to a target whose queue holds more than that, a run of
//     coalescible notices at the head of the queue, as long as the queue
//     is beyond the minute's worth (at most maxCoalesce), goes to the
//     Coalescer, which words as many of them as one message of the platform
//     holds. The newest minute's worth is left to go one by one, with their
//     cards and buttons. Order holds: the message covers the oldest entries
//     and goes where the first of them stood.
//   - Coalescible are routine notices that tell of something and ask for no
//     decision only they offer: incident cards and event lines (opened,
//     assigned, acknowledged, updated, reminders, overdue), an assignment to
//     a person, and reports to the leaders that are not urgent (overdue,
//     escalated): listed, each is still seen, and the leaders can receive a
//     report with the command. Never coalesced: urgent notices
//     (workflow.Notice.Urgent), approval requests and nudges, publish
//     requests, statements, redraft notes, digests, triage cards, refreshes
//     (edits of a posted card), and bodies of an earlier release.
//   - A refresh of a card behind which the queue holds a later refresh of
//     the same card, in a target beyond its minute's worth, is dropped: both
//     would show the card as it is at delivery, so the later one does it.
//   - At least once holds: the entries of a coalesced message are checked
//     against the sent marks first, and marked sent and acknowledged only
//     after the platform accepted it. A crash between acceptance and the
//     marks sends them again, as for one message.
//   - What waits beyond a target's minute's worth is bounded by MaxBacklog,
//     not MaxHeld, so one chat's burst does not stop the reading of new
//     entries, such as a REPORT to another chat.

// Coalescer is a Renderer that can word many routine notices to one chat
// as one message (handlers.Handlers in production). With a Render that is
// no Coalescer, the Dispatcher sends every notice on its own.
type Coalescer interface {
	Renderer
	// Coalesce words the first of ns, in their order, as one message of
	// at most budget UTF-16 code units of text (the sender's
	// MessageBudget), and returns it with
	// how many of ns it covers (a prefix). Fewer than two means it cannot:
	// the first is then sent on its own. An error is retried like a failed
	// send.
	Coalesce(ctx context.Context, ns []workflow.Notice, budget int) (Message, int, error)
}

// A BudgetSender is a Sender that states how much text one coalesced
// message to it may hold, in UTF-16 code units (what Telegram counts):
// its platform's limit on one message, or what a person reads at once.
type BudgetSender interface {
	Sender
	MessageBudget() int
}

// DefaultMessageBudget is the budget of a coalesced message to a sender
// that states none: a few of Slack's 3,000-character sections.
const DefaultMessageBudget = 12000

// messageBudget returns the sender's budget of a coalesced message.
func messageBudget(s Sender) int {
	if b, ok := s.(BudgetSender); ok && b.MessageBudget() > 0 {
		return b.MessageBudget()
	}
	return DefaultMessageBudget
}

// MessageCoalesced is the Kind of a message that covers many notices.
const MessageCoalesced = "coalesced"

// maxCoalesce is how many notices one coalesced message is offered at most;
// the Coalescer takes as many as fit.
const maxCoalesce = 400

// backlogPerHeld is MaxBacklog, when zero, per entry of MaxHeld.
const backlogPerHeld = 10

// minuteWorth is how many messages a target with limit l may receive in a
// minute; 0 means no limit.
func minuteWorth(l RateLimit) int {
	if l.Interval <= 0 {
		return 0
	}
	return int(time.Minute/l.Interval) + max(l.Burst, 1) - 1
}

// traits reads once, as an entry is admitted, what delivery needs to know
// of its notice: urgent, coalescible, and the card a refresh edits.
func traits(n workflow.Notice) (urgent, coalescible bool, refresh string) {
	nt, err := n.Notification()
	if err != nil {
		return false, false, "" // an earlier release's body: routine, alone
	}
	urgent = n.Urgent()
	switch nt.Kind {
	case workflow.NoticeCard, workflow.NoticeEvent, workflow.NoticeAssigned:
		coalescible = nt.Event != nil && n.Incident != ""
	case workflow.NoticeReport:
		coalescible = nt.Event != nil && n.Incident != "" && !urgent
	case workflow.NoticeRefresh:
		if !nt.Thread.IsZero() {
			refresh = string(n.Audience) + "|" + nt.Thread.Key(n.Incident)
		}
	case workflow.NoticeTriage:
		// A burst of monitoring items is told at once, and beyond what
		// the chat takes in a minute as one list of them: one card each
		// kept the chat (and reports behind them) waiting for minutes.
		return urgent, n.Incident != "" && nt.Triage != nil, ""
	}
	return urgent, coalescible && !urgent, refresh
}

// final reports whether the entry needs no more sending: only its state is
// to be written.
func (it *outItem) final() bool { return it.sent || it.settle || it.dead != "" }

// beyond is how many entries the target's queue holds past its minute's
// worth (0 for a target without a limit).
func (t *outTarget) beyond() int {
	if t.capacity == 0 {
		return 0
	}
	return max(len(t.queue)-t.capacity, 0)
}

// full reports whether no new entries may be read: the entries held for
// their targets' next minute reach MaxHeld, or those waiting beyond it
// reach MaxBacklog.
func (d *Dispatcher) full() bool {
	within, beyond := 0, 0
	for _, t := range d.targets {
		var n int
		if t.busy { // its worker has the queue: as it was, and what waits
			n = t.size + len(t.incoming)
		} else {
			n = len(t.queue)
		}
		b := 0
		if t.capacity > 0 {
			b = max(n-t.capacity, 0)
		}
		within += n - b
		beyond += b
	}
	return within >= d.MaxHeld || beyond >= d.MaxBacklog
}

// dropSuperseded settles the head of t's queue without sending it when it
// is a refresh and a later refresh of the same card waits behind it, in a
// target beyond its minute's worth.
func (d *Dispatcher) dropSuperseded(t *outTarget) {
	it := t.queue[0]
	if it.refresh == "" || it.tried || it.final() || t.beyond() == 0 {
		return
	}
	for _, later := range t.queue[1:] {
		if later.refresh == it.refresh {
			it.settle = true
			return
		}
	}
}

// coalesceRun is the run of entries at the head of t's queue that one
// coalesced message may cover, or nil: the queue is within its minute's
// worth, the head is not coalescible, or fewer than two would be covered.
func (d *Dispatcher) coalesceRun(t *outTarget) []*outItem {
	if d.coalescer == nil {
		return nil
	}
	// This message is one of the minute's; what stays behind fits the rest.
	k := min(t.beyond()+1, maxCoalesce)
	if k < 2 {
		return nil
	}
	var run []*outItem
	for _, it := range t.queue {
		if len(run) == k || !it.coalescible || it.tried || it.single || it.final() {
			break
		}
		run = append(run, it)
	}
	if len(run) < 2 {
		return nil
	}
	return run
}

// deliverRun sends the entries of run (the head of t's queue) in one
// coalesced message, as far as it can: it marks the entries covered sent
// (or, for those sent already, to be settled); serveTarget then writes
// their state. It reports whether anything reached a final state or the
// head must now go alone; false means the target is held (Retry-After,
// backoff) or the pass is stopping. An error is a store failure.
func (d *Dispatcher) deliverRun(ctx context.Context, t *outTarget, run []*outItem) (bool, error) {
	group := d.Sender.Platform()
	head := run[0]
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	var (
		m       Message
		covered []*outItem
	)
	for {
		// The same notice may be queued twice (appended twice): it is worded
		// once and its entries go together.
		var (
			ns    []workflow.Notice
			index = map[string]int{}
		)
		for _, it := range run {
			if _, dup := index[it.d.Notice.ID]; !dup {
				index[it.d.Notice.ID] = len(ns)
				ns = append(ns, it.d.Notice)
			}
		}
		msg, n, err := d.coalescer.Coalesce(sendCtx, ns, messageBudget(d.Sender))
		switch {
		case errors.Is(err, ErrBadNotice) || err == nil && n < 2:
			head.single = true // the first goes alone, as without coalescing
			return true, nil
		case err != nil:
			return d.runFailed(ctx, t, head, fmt.Errorf("coalesce: %w", err))
		}
		covered = covered[:0]
		for _, it := range run {
			if index[it.d.Notice.ID] < n {
				covered = append(covered, it)
			}
		}
		// A notice marked sent (by a consumer that died before acking it)
		// is not shown again.
		ds := make([]Delivery, len(covered))
		for i, it := range covered {
			ds[i] = it.d
		}
		sent, err := d.Store.WasSent(ctx, group, ds...)
		if err != nil {
			return false, fmt.Errorf("check whether %d notices were sent: %w", len(ds), err)
		}
		already := false
		for i, it := range covered {
			if sent[i] {
				it.settle, already = true, true
				d.count(DeliveryDuplicate)
			}
		}
		if !already {
			m = msg
			break
		}
		run = coalescibleHead(run)
		if len(run) < 2 {
			return true, nil // the settled ones finish; the rest as it comes
		}
	}

	// The message stands for all of them: it gets an ID of its own, so a
	// platform that keeps per-notice progress (a message in parts) does not
	// mix it up with its first notice alone.
	n := head.d.Notice
	n.ID = n.ID + "+" + strconv.Itoa(len(covered))
	n.Incident = ""
	m.Kind = MessageCoalesced
	err := d.Sender.Send(sendCtx, n, m)
	now := d.Clock.Now()
	var retry *RetryAfterError
	switch {
	case err == nil:
		t.charge(now)
		t.sent++
		for _, it := range covered {
			it.sent = true
			d.count(DeliverySent)
		}
		d.Log.InfoContext(ctx, "outbox notices coalesced into one message", "target", head.target,
			"notices", len(covered), "first", head.d.Notice.ID, "waiting", len(t.queue)-len(covered))
		return true, nil
	case errors.Is(err, ErrNoRoute):
		for _, it := range covered {
			it.settle = true
		}
		return true, nil
	case errors.Is(err, ErrRefused):
		t.charge(now)
		head.single = true
		d.Log.WarnContext(ctx, "platform refused a coalesced message; sending its first notice alone",
			"target", head.target, "notices", len(covered), "err", err)
		return true, nil
	case errors.As(err, &retry):
		t.slowDown(now, retry)
		d.count(DeliveryRateLimited)
		return false, nil
	case ctx.Err() != nil:
		return false, nil
	}
	t.charge(now)
	return d.runFailed(ctx, t, head, err)
}

// runFailed holds the target after a coalesced message failed, counting the
// attempt against its first notice; from the second failure on, that notice
// goes alone, so one that cannot be sent is dead-lettered by itself, as
// without coalescing.
func (d *Dispatcher) runFailed(ctx context.Context, t *outTarget, head *outItem, err error) (bool, error) {
	head.attempts++
	if head.attempts >= 2 {
		head.single = true
	}
	wait := d.Backoff(head.attempts)
	t.hold = d.Clock.Now().Add(wait)
	d.count(DeliveryRetry)
	d.Log.WarnContext(ctx, "coalesced outbox message failed; will retry",
		"notice", head.d.Notice.ID, "target", head.target, "attempt", head.attempts, "retry_in", wait, "err", err)
	return false, nil
}

// coalescibleHead is run without the entries settled meanwhile (sent by
// another consumer before).
func coalescibleHead(run []*outItem) []*outItem {
	var out []*outItem
	for _, it := range run {
		if it.settle {
			continue
		}
		out = append(out, it)
	}
	return out
}

// finishHead writes the state of the final entries at the head of t's queue
// (the marks of those sent, dead letters) and acknowledges the sent and
// settled ones in one call, removing them from the queue; it stops at the
// first entry that is not final. What it could not write stays, in the
// state reached, for the next pass.
func (d *Dispatcher) finishHead(ctx context.Context, t *outTarget) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	group := d.Sender.Platform()
	var (
		ack  []*outItem
		mark []Delivery // of the sent ones of ack
		done []*outItem // written, dead letters
		werr error
	)
	for _, it := range t.queue {
		if !it.final() {
			break
		}
		if it.dead != "" {
			if _, err := d.finish(ctx, it); err != nil {
				werr = err
				break
			}
			done = append(done, it)
			continue
		}
		if it.sent {
			mark = append(mark, it.d)
		}
		ack = append(ack, it)
	}
	if len(mark) > 0 {
		// Mark before ack, as finish does; all in one round trip.
		if _, err := d.Store.MarkSent(ctx, group, d.DedupeTTL, mark...); err != nil {
			werr = errors.Join(werr, fmt.Errorf("mark %d notices sent: %w", len(mark), err))
			ack = nil
		}
	}
	if len(ack) > 0 {
		ds := make([]Delivery, len(ack))
		for j, it := range ack {
			ds[j] = it.d
		}
		if err := d.Store.AckOutbox(ctx, group, ds...); err != nil {
			werr = errors.Join(werr, fmt.Errorf("ack %d notices: %w", len(ds), err))
		} else {
			done = append(done, ack...)
		}
	}
	// What was written leaves the queue; the rest stays in its order.
	gone := map[*outItem]bool{}
	for _, it := range done {
		gone[it] = true
	}
	t.gone = append(t.gone, done...)
	kept := t.queue[:0]
	for _, it := range t.queue {
		if !gone[it] {
			kept = append(kept, it)
		}
	}
	clear(t.queue[len(kept):])
	t.queue = kept
	return werr
}
