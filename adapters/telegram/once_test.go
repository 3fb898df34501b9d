package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/firebreak/firebreak/adapters/telegram"
)

// unsavedLog is an update log whose outcomes cannot be saved, as during a
// Redis stall that ends before the claim is given up.
type unsavedLog struct{ telegram.UpdateLog }

func (unsavedLog) SaveUpdate(context.Context, int64, []byte) error {
	return errors.New("i/o timeout")
}

// TestRedeliveryAfterUnsavedOutcomeRunsNothingTwice: the command of an
// update took effect, its outcome could not be saved and its reply could
// not be sent, so Telegram delivers the update again. The redelivery
// decides again, and the command is refused as repeated, not run twice:
// one incident, not two.
func TestRedeliveryAfterUnsavedOutcomeRunsNothingTwice(t *testing.T) {
	e := newEnv(t, func(o *telegram.Options) {
		o.UpdateLog = unsavedLog{o.UpdateLog}
	})
	e.api.fail("sendMessage", http.StatusBadGateway, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
	u := e.messageUpdate(chenID, chenID, `open "Canteen complaint" level:major`)
	if code := e.post(secret, mustJSON(t, u)); code == http.StatusOK {
		t.Fatalf("first delivery: got HTTP %d, want a failure so that Telegram delivers it again", code)
	}
	e.postUpdate(u) // the redelivery
	if _, err := e.svc.Incident(e.ctx, "YQ-1"); err != nil {
		t.Fatalf("YQ-1: %v", err)
	}
	if inc, err := e.svc.Incident(e.ctx, "YQ-2"); err == nil {
		t.Fatalf("the redelivery opened %s again as YQ-2", inc.Title)
	}
	replies := e.repliesTo(u.Message.MessageID)
	if len(replies) == 0 {
		t.Fatal("the redelivery got no reply")
	}
	wantContains(t, "reply to the redelivery", replies[len(replies)-1].Params.Get("text"), "not run twice")
}
