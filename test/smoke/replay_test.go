package smoke

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestReplayedSlashCommandRunsOnce is issue 11's replay through the built
// binary: the same signed bytes of an open, sent five times at once (one
// with Slack's retry headers) and once more afterwards, open one incident,
// and every copy is answered with the first copy's answer. The guard is
// taken with the command's first Redis round trip, so the copies race for
// it in Redis, not in the process.
func TestReplayedSlashCommandRunsOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1})
	p := w.start("a")
	form := url.Values{
		"team_id": {"T0SMOKE"}, "channel_id": {"C0INCIDENTS"}, "user_id": {chen.slack}, "user_name": {chen.id},
		"command": {"/incident"}, "text": {"open Replayed post about the school gate"},
		"response_url": {w.slack.ResponseURL()}, "trigger_id": {"9.9.replayed"},
	}
	body, at := form.Encode(), time.Now()
	send := func(retry bool) (string, error) {
		req, err := p.slashRequest(body, at) // the same bytes, the same signature
		if err != nil {
			return "", err
		}
		if retry {
			req.Header.Set("X-Slack-Retry-Num", "1")
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var reply map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &reply) != nil {
			return "", fmt.Errorf("got HTTP %d %s", resp.StatusCode, b)
		}
		return replyText(reply), nil
	}

	const copies = 5
	answers := make([]string, copies+1)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			a, err := send(i == 2)
			if err != nil {
				t.Errorf("copy %d: %v", i+1, err)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	last, err := send(false)
	if err != nil {
		t.Fatalf("the copy sent afterwards: %v", err)
	}
	answers[copies] = last

	id := incidentID.FindString(answers[0])
	if id == "" {
		t.Fatalf("copy 1 answered %q, want the incident it opened", answers[0])
	}
	for i, a := range answers {
		if a != answers[0] {
			t.Errorf("copy %d answered %q, want the first answer %q", i+1, a, answers[0])
		}
	}
	list, _ := p.slash(chen, "list")
	ids := incidentID.FindAllString(list, -1)
	slices.Sort(ids)
	if ids = slices.Compact(ids); !slices.Equal(ids, []string{id}) {
		t.Errorf("list after %d copies: incidents %v, want only %s\n%s", copies+1, ids, id, list)
	}
}
