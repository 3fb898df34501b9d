package smoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const intakeToken = "smoke-intake-token-0123456789"

// intakeRoster is the standard roster with a monitoring intake: a token for
// the source yuqing, a rule that opens casualties at once as critical, and
// a triage time of 10 minutes (10 s at 60×).
func intakeRoster() string {
	return standardRoster("") + `intake:
  triage: 10m
  tokens:
    yuqing: ` + intakeToken + `
  rules:
    - name: casualties
      any: [injured, 受伤]
      level: critical
      open: auto
`
}

// deliver POSTs body to /intake/yuqing with token and returns the status
// and the answer.
func (p *proc) deliver(t *testing.T, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/intake/yuqing", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST /intake/yuqing: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// outcomes reads the items of a 202 answer.
func outcomes(t *testing.T, answer string) []map[string]string {
	t.Helper()
	var a struct {
		Items []map[string]string `json:"items"`
	}
	if err := json.NewDecoder(bytes.NewReader([]byte(answer))).Decode(&a); err != nil {
		t.Fatalf("answer %q: %v", answer, err)
	}
	return a.Items
}

// TestIntakeThroughTheBinary: a monitoring platform posts to the shipped
// binary on the real clock. A post no rule opens arrives as a triage card
// on both platforms; found again under another form of its URL, it merges
// (no second card); nobody judges it, so the office and then the leaders
// are reminded; a leader opens it as major from Telegram, and its deadlines
// count from the platform's discovery time. A casualties post is opened at
// once as critical and reported to the leaders. A third is dismissed from
// Slack's buttons with a reason, and its card says so.
func TestIntakeThroughTheBinary(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 60, roster: intakeRoster()})
	a := w.start("a")

	if code, body := a.deliver(t, "", `{"title":"x"}`); code != http.StatusUnauthorized {
		t.Fatalf("no token: got %d %s, want 401", code, body)
	}
	if code, body := a.deliver(t, "wrong-token-wrong-token", `{"title":"x"}`); code != http.StatusUnauthorized || strings.Contains(body, intakeToken) {
		t.Fatalf("wrong token: got %d %s, want 401 without the token", code, body)
	}

	found := time.Now().Add(-20 * time.Minute).Truncate(time.Minute).Add(17*time.Second + 345*time.Millisecond)
	foundText := found.In(shanghai(t)).Format("15:04")
	code, body := a.deliver(t, intakeToken, fmt.Sprintf(
		`{"id":"tb-9","url":"https://tieba.baidu.com/p/9?utm_source=wx","title":"Library closes too early during exams","found_at":%q,"figures":{"posts":5}}`,
		found.Format(time.RFC3339Nano)))
	if code != http.StatusAccepted {
		t.Fatalf("deliver: got %d %s, want 202", code, body)
	}
	items := outcomes(t, body)
	if len(items) != 1 || items[0]["outcome"] != "new" || !strings.HasPrefix(items[0]["id"], "IT-") {
		t.Fatalf("deliver: got %s, want one new candidate", body)
	}
	id := items[0]["id"]
	var cards []message
	for _, chat := range incidentsChats {
		cards = append(cards, w.await(t, chat, "the triage card of "+id, func(m message) bool {
			return strings.Contains(m.Raw+m.Text, id) && hasButton(m, "Open") && hasButton(m, "Open as…") && hasButton(m, "Dismiss")
		}))
	}

	// The same post under another form of its URL merges into it.
	code, body = a.deliver(t, intakeToken, `[{"url":"https://TIEBA.baidu.com/p/9/","title":"Library closes too early during exams","figures":{"posts":9}}]`)
	if items := outcomes(t, body); code != http.StatusAccepted || len(items) != 1 || items[0]["id"] != id || items[0]["outcome"] != "merged" {
		t.Fatalf("the same post again: got %d %s, want %s merged", code, body, id)
	}

	// Nobody judges it: the office, then the leaders are reminded, 10 and
	// 20 demo minutes (10 s and 20 s) after it arrived; the waits allow
	// for a slow machine (the race detector).
	w.awaitWithin(t, 30*time.Second, tgIncidents, "the reminder to the office", func(m message) bool {
		return strings.Contains(m.Text, id+" has waited") && hasButton(m, "Open")
	})
	reminder := w.awaitWithin(t, 30*time.Second, tgLeaders, "the reminder to the leaders", func(m message) bool {
		return strings.Contains(m.Text, id+" has waited") && hasButton(m, "Open as…")
	})
	for _, chat := range incidentsChats {
		if n := countIn(w.in(chat), "The monitoring found "+id); n != 1 {
			t.Errorf("%s: %d triage cards of %s, want 1 (the merge posts none)", chat, n, id)
		}
	}

	// Zhao opens it as major, a rumor, from the leaders' chat. Telegram
	// edits the pressed message: the card stays, asking for a level, then
	// a category, with Back.
	a.press(zhao, reminder, "Open as…")
	choice := w.awaitEdit(t, reminder, "the choice of levels", func(m message) bool {
		return hasButton(m, "major") && hasButton(m, "Back") && strings.Contains(m.Text, "Library closes too early")
	})
	a.press(zhao, choice, "major")
	choice = w.awaitEdit(t, reminder, "the choice of categories", func(m message) bool {
		return hasButton(m, "rumor") && hasButton(m, "Back") && strings.Contains(m.Text, "pick its category")
	})
	a.press(zhao, choice, "rumor")
	report := w.await(t, tgLeaders, "the report of the incident opened", func(m message) bool {
		return strings.Contains(m.Text, "REPORT: major incident") && strings.Contains(m.Text, "Library closes too early")
	})
	if !strings.Contains(report.Text, "rumor") {
		t.Errorf("the report: got\n%s\nwant the category chosen, rumor", report.Text)
	}
	// A card shows the date too when the discovery is not on the day the
	// (demo) clock is at: the run may cross midnight in Shanghai.
	if !regexp.MustCompile(`Found: (\d\d-\d\d )?` + foundText).MatchString(report.Text) {
		t.Errorf("the report: got\n%s\nwant its discovery at %s (the platform's found_at), not when it was opened", report.Text, foundText)
	}
	incID := incidentID.FindString(report.Text)
	// The triage cards lose their buttons and say who opened it.
	for _, card := range append(cards, reminder) {
		w.awaitEdit(t, card, "after Zhao Lei opened it", func(m message) bool {
			return len(m.Buttons) == 0 && strings.Contains(m.Raw+m.Text, "opened as "+incID+" by Zhao Lei") &&
				!strings.Contains(m.Raw+m.Text, "judge it") // the Slack card kept its "judge it" line
		})
	}

	// A casualties post is opened at once, as critical, from its discovery.
	code, body = a.deliver(t, intakeToken, fmt.Sprintf(`{"id":"wb-1","title":"Student injured on the school bus","found_at":%q}`,
		found.Format(time.RFC3339Nano)))
	if items := outcomes(t, body); code != http.StatusAccepted || len(items) != 1 || items[0]["outcome"] != "opened" || items[0]["incident"] == "" {
		t.Fatalf("casualties: got %d %s, want it opened at once", code, body)
	}
	for _, chat := range leadersChats {
		m := w.await(t, chat, "the report of the critical incident", func(m message) bool {
			return strings.Contains(m.Raw+m.Text, "critical incident") && strings.Contains(m.Raw+m.Text, "Student injured")
		})
		if !strings.Contains(m.Raw+m.Text, foundText) {
			t.Errorf("%s: the report does not show the discovery %s:\n%s", chat, foundText, m.Text)
		}
	}

	// A third is dismissed from Telegram, with a reason.
	code, body = a.deliver(t, intakeToken, `{"id":"ad-3","title":"Tutoring advert posted in a parents' group chat"}`)
	third := outcomes(t, body)
	if code != http.StatusAccepted || len(third) != 1 || third[0]["outcome"] != "new" {
		t.Fatalf("third: got %d %s, want new", code, body)
	}
	var thirdCards []message
	for _, chat := range incidentsChats {
		thirdCards = append(thirdCards, w.await(t, chat, "the triage card of "+third[0]["id"], func(m message) bool {
			return strings.Contains(m.Raw+m.Text, third[0]["id"]) && hasButton(m, "Dismiss")
		}))
	}
	a.press(chen, thirdCards[1], "Dismiss")
	why := w.awaitEdit(t, thirdCards[1], "the choice of reasons", func(m message) bool { return hasButton(m, "not about us") })
	a.press(chen, why, "not about us")
	// The pressed message says what was done; the card on Slack is brought
	// up to date, without its buttons.
	w.awaitEdit(t, thirdCards[1], "after Chen Jing dismissed it", func(m message) bool {
		return strings.Contains(m.Text, third[0]["id"]+" dismissed: not about us")
	})
	w.awaitEdit(t, thirdCards[0], "after Chen Jing dismissed it", func(m message) bool {
		return len(m.Buttons) == 0 && strings.Contains(m.Raw, "dismissed by Chen Jing: not about us")
	})
}

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
