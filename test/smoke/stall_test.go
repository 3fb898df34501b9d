package smoke

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRedisStall is issue 11's stall through the built binary: Redis is
// stopped (SIGSTOP) for six seconds while a slash command and a Telegram
// update arrive. Slack gets "working on it" within its three seconds and
// the command's answer when its deadline ends (it ran, or nothing was
// done, as it says); Telegram gets a 503 within
// a few seconds, and its redelivery after the stall is handled within
// seconds, not refused as "in progress" until a lease runs out. Each
// command takes effect once: the guard, the claim and the change that
// go-redis sends again after a reply timed out are recognised as the same
// request's.
func TestRedisStall(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1})
	p := w.start("a")
	p.slash(chen, "list") // connections made, scripts loaded
	p.telegramCommand(chen, -100111, "list")

	const stall = 6 * time.Second
	resume := w.stallRedis()
	stalledAt := time.Now()

	var (
		wg         sync.WaitGroup
		slackReply string
		slackAt    stamp
		slackErr   error
	)
	wg.Go(func() {
		slackReply, slackAt, slackErr = p.trySlash(chen, "open Stalled post about the canteen")
	})

	update, err := json.Marshal(map[string]any{"update_id": w.updateID.Add(1), "message": map[string]any{
		"message_id": int(w.userMsg.Add(1)), "date": time.Now().Unix(), "chat": chatObject(-100111), "from": telegramUser(chen),
		"text":     "/incident open Stalled post about the library",
		"entities": []any{map[string]any{"type": "bot_command", "offset": 0, "length": len("/incident")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	status, body, at, err := p.deliverUpdate(update)
	switch {
	case err != nil:
		t.Fatalf("telegram update during the stall: %v", err)
	case status != http.StatusServiceUnavailable:
		t.Errorf("telegram update during the stall: got HTTP %d %q, want 503 (deliver it again)", status, body)
	case at.answered.Sub(at.sent) > 5*time.Second:
		t.Errorf("telegram update during the stall: answered after %s, want within 5s", at.answered.Sub(at.sent).Round(time.Millisecond))
	}

	time.Sleep(time.Until(stalledAt.Add(stall))) // the fault lasts this long; nothing waits on it for logic
	resume()
	resumed := time.Now()

	// Telegram delivers again after a failed answer; here every second.
	handled := false
	for !handled && time.Since(resumed) < 10*time.Second {
		status, body, _, err = p.deliverUpdate(update)
		switch {
		case err != nil:
			t.Fatalf("telegram redelivery: %v", err)
		case status == http.StatusOK:
			handled = true
		case status != http.StatusServiceUnavailable:
			t.Fatalf("telegram redelivery: got HTTP %d %q, want 200 (or 503 for a moment)", status, body)
		default:
			time.Sleep(time.Second)
		}
	}
	if !handled {
		t.Errorf("telegram redelivery: still %d %q 10s after Redis came back, want handled within seconds", status, body)
	}

	wg.Wait()
	if slackErr != nil {
		t.Fatalf("slash command during the stall: %v", slackErr)
	}
	if d := slackAt.answered.Sub(slackAt.sent); d > 3*time.Second {
		t.Errorf("slash command during the stall: HTTP answer after %s, want within Slack's 3s", d.Round(time.Millisecond))
	}
	// Within its deadline the command either ran once Redis answered or
	// said that nothing was done; whichever it said holds.
	// A write whose answer did not come may still run: then the reply says
	// that it may or may not have been made, and either is right.
	canteen := []int{1}
	switch {
	case strings.Contains(strings.ToLower(slackReply), "opened") && incidentID.FindString(slackReply) != "":
	case strings.Contains(slackReply, "nothing was changed"):
		canteen = []int{0}
	case strings.Contains(slackReply, "may or may not have been made"):
		canteen = []int{0, 1}
	default:
		t.Errorf("slash command during the stall: final reply %q, want the incident it opened, or that nothing was changed, or that it may have been", slackReply)
	}

	list, _ := p.slash(chen, "list")
	for title, want := range map[string][]int{"Stalled post about the canteen": canteen, "Stalled post about the library": {1}} {
		if got := incidentsTitled(list, title); !slices.Contains(want, len(got)) {
			t.Errorf("list after the stall: %q is %v, want %v incident(s)\n%s", title, got, want, list)
		}
	}
}

// incidentsTitled are the IDs of the lines of a list that name title.
func incidentsTitled(list, title string) []string {
	var ids []string
	for line := range strings.Lines(list) {
		if id := incidentID.FindString(line); id != "" && strings.Contains(line, title) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
