package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// textRenderer words every notice as "text of <id>", as fakeSender expects.
type textRenderer struct{}

func (textRenderer) Render(_ context.Context, n workflow.Notice, _ string) (bot.Message, error) {
	return bot.Message{Text: "text of " + n.ID}, nil
}

// TestUrgentNoticesGoFirst: a REPORT and an approval request queued behind a
// burst of routine notices to one rate-limited chat go out before them, in
// their own order; the routine ones keep theirs, and another chat is not
// held up.
func TestUrgentNoticesGoFirst(t *testing.T) {
	f := newDeliveryFixture("chat")
	opened := &workflow.Event{ID: "YQ-9#1.1", Incident: "YQ-9", Kind: workflow.EventOpened}
	drafted := &workflow.Event{ID: "YQ-8#4.1", Incident: "YQ-8", Kind: workflow.EventDrafted, Data: workflow.EventData{Version: 1}}
	overdue := &workflow.Event{ID: "YQ-7#5.1", Incident: "YQ-7", Kind: workflow.EventOverdue}
	routine := func(id string) workflow.Notice {
		return workflow.NewNotice(id, "YQ-1", "-100222", workflow.Notification{Kind: workflow.NoticeCard, Event: opened})
	}
	report := workflow.NewNotice("report", "YQ-9", "-100222", workflow.Notification{Kind: workflow.NoticeReport, Event: opened})
	approval := workflow.NewNotice("approval", "YQ-8", "-100222", workflow.Notification{Kind: workflow.NoticeApproval, Event: drafted})
	late := workflow.NewNotice("overdue", "YQ-7", "-100222", workflow.Notification{Kind: workflow.NoticeReport, Event: overdue})
	f.store.add(routine("r1"), routine("r2"), late, routine("r3"), report, notice("other", "C1"), approval)
	d := f.dispatcher("r1")
	d.Render = textRenderer{}
	d.Sender = limitedSender{fakeSender: f.sender, limit: func(string) bot.RateLimit {
		return bot.RateLimit{Interval: 3 * time.Second, Burst: 1}
	}}
	f.runFor(t, d, time.Minute)
	wantAccepted(t, f.sender, map[string][]string{
		"-100222": {"report@0s", "approval@3s", "r1@6s", "r2@9s", "overdue@12s", "r3@15s"},
		"C1":      {"other@0s"},
	})
}

func TestNoticeUrgent(t *testing.T) {
	ev := func(k workflow.EventKind) *workflow.Event { return &workflow.Event{Kind: k} }
	tests := []struct {
		nt   workflow.Notification
		want bool
	}{
		{workflow.Notification{Kind: workflow.NoticeReport, Event: ev(workflow.EventOpened)}, true},
		{workflow.Notification{Kind: workflow.NoticeReport, Event: ev(workflow.EventLevelChanged)}, true},
		{workflow.Notification{Kind: workflow.NoticeReport, Event: ev(workflow.EventReportedUp)}, true},
		{workflow.Notification{Kind: workflow.NoticeApproval, Event: ev(workflow.EventDrafted)}, true},
		{workflow.Notification{Kind: workflow.NoticeReport, Event: ev(workflow.EventOverdue)}, false},
		{workflow.Notification{Kind: workflow.NoticeApproval, Event: ev(workflow.EventApprovalWait)}, false},
		{workflow.Notification{Kind: workflow.NoticeCard, Event: ev(workflow.EventOpened)}, false},
		{workflow.Notification{Kind: workflow.NoticeRefresh}, false},
	}
	for _, tt := range tests {
		n := workflow.NewNotice("n", "YQ-1", workflow.ChannelLeaders, tt.nt)
		if got := n.Urgent(); got != tt.want {
			t.Errorf("%+v: got urgent %v, want %v", tt.nt, got, tt.want)
		}
	}
	if (workflow.Notice{Body: []byte(`{"text":"an earlier release"}`)}).Urgent() {
		t.Errorf("a rendered message of an earlier release: got urgent, want routine")
	}
}

// TestSlowChatHoldsUpNoOther: a send to one chat hangs (a platform call
// waiting for its timeout); a REPORT appended meanwhile to another chat
// goes out at once. The pass waited for every target it served, so the
// REPORT waited for the hung send to end (10 s behind a hung post to
// #incidents, seen from outside).
func TestSlowChatHoldsUpNoOther(t *testing.T) {
	f := newDeliveryFixture("chat")
	hung, release := make(chan struct{}), make(chan struct{})
	f.sender.sent = make(chan string, 10)
	f.store.add(notice("card", "C-incidents"))
	d := f.dispatcher("r1")
	d.Sender = hangingSender{fakeSender: f.sender, target: "C-incidents", hung: hung, release: release}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { _, err := d.DeliverOnce(ctx); first <- err }()
	<-hung

	f.store.add(notice("report", "C-leaders"))
	d.Wake()
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("the pass with the hung send: %v", err)
		}
	case <-time.After(10 * time.Second): // a bound on a deadlock, not a wait
		close(release)
		t.Fatal("woken for a new notice, the pass still waits for the hung send")
	}
	if _, err := d.DeliverOnce(ctx); err != nil {
		t.Fatalf("the next pass: %v", err)
	}
	select {
	case id := <-f.sender.sent:
		if id != "report" {
			t.Fatalf("sent %s first, want the report", id)
		}
	default:
		t.Fatal("the report was not sent while the other chat's send hung")
	}

	close(release)
	if got := <-f.sender.sent; got != "card" {
		t.Errorf("after the hang: sent %s, want the card", got)
	}
	// The next pass collects the card's target and finishes its entry.
	for range 3 {
		if _, err := d.DeliverOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wantDrained(t, f.store, "chat")
}

// hangingSender's first send to target hangs until release is closed.
type hangingSender struct {
	*fakeSender
	target        string
	hung, release chan struct{}
}

func (s hangingSender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	if s.Target(n) == s.target {
		select {
		case <-s.hung:
		default:
			close(s.hung)
			<-s.release
		}
	}
	return s.fakeSender.Send(ctx, n, m)
}
