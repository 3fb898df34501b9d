package bot_test

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/bot"
)

func TestParseAction(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		wantName string
		wantArgs []string
		wantErr  bool
	}{
		{name: "name and args", id: "approve:YQ-7:2", wantName: "approve", wantArgs: []string{"YQ-7", "2"}},
		{name: "name only", id: "take", wantName: "take", wantArgs: []string{}},
		{name: "white space around", id: " ack:YQ-7 \n", wantName: "ack", wantArgs: []string{"YQ-7"}},
		{name: "exactly 64 bytes", id: "approve:" + strings.Repeat("x", bot.MaxActionID-len("approve:")),
			wantName: "approve", wantArgs: []string{strings.Repeat("x", bot.MaxActionID-len("approve:"))}},
		{name: "65 bytes", id: "approve:" + strings.Repeat("x", bot.MaxActionID-len("approve:")+1), wantErr: true},
		{name: "64 bytes counted in bytes, not characters", id: "a:" + strings.Repeat("批", 21), wantErr: true},
		{name: "empty", id: "", wantErr: true},
		{name: "blank", id: "  ", wantErr: true},
		{name: "empty part", id: "approve::2", wantErr: true},
		{name: "trailing colon", id: "approve:", wantErr: true},
		{name: "leading colon", id: ":YQ-7", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := bot.ParseAction(tt.id)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseAction(%q): got %+v, want an error", tt.id, a)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAction(%q): %v", tt.id, err)
			}
			if a.Name != tt.wantName || !slices.Equal(a.Args, tt.wantArgs) {
				t.Errorf("ParseAction(%q): got %q %q, want %q %q", tt.id, a.Name, a.Args, tt.wantName, tt.wantArgs)
			}
		})
	}
}

func TestActionIDRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		a    bot.Action
		want string
	}{
		{"no args", bot.Action{Name: "take"}, "take"},
		{"args", bot.Action{Name: "approve", Args: []string{"YQ-1042", "3"}}, "approve:YQ-1042:3"},
		{"unicode arg", bot.Action{Name: "assign", Args: []string{"YQ-7", "后勤"}}, "assign:YQ-7:后勤"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.a.ID()
			if id != tt.want {
				t.Fatalf("ID: got %q, want %q", id, tt.want)
			}
			back, err := bot.ParseAction(id)
			if err != nil {
				t.Fatalf("ParseAction(%q): %v", id, err)
			}
			if back.Name != tt.a.Name || !slices.Equal(back.Args, tt.a.Args) {
				t.Errorf("round trip: got %+v, want %+v", back, tt.a)
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    bot.Message
	}{
		{"empty", bot.Message{}},
		{"text", bot.Message{Kind: "reminder", Text: "YQ-7: respond due at 12:50", Thread: "YQ-7:respond"}},
		{"card", bot.Message{Kind: "approval", Thread: "YQ-7:approval:2", Card: &bot.Card{
			Incident: "YQ-7", Title: "Approve version 2 of the unified reply",
			Fields: []bot.Field{{Label: "Level", Value: "重大 major"}, {Label: "Hash", Value: "3f2a9c01d4e5"}},
			Body:   "我们已关注到“食堂”问题。\n\n  将于今日答复。",
			Buttons: []bot.Button{{ID: "approve:YQ-7:2", Label: "Approve", Style: bot.StylePrimary},
				{ID: "reject:YQ-7:2", Label: "Reject", Style: bot.StyleDanger}},
			Footer: "opened by Chen Jing",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bot.EncodeMessage(tt.m)
			got, err := bot.DecodeMessage(b)
			if err != nil {
				t.Fatalf("DecodeMessage(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.m)
			}
		})
	}
}

func TestDecodeMessageRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("not json"), []byte(`{"kind": 7}`)} {
		if m, err := bot.DecodeMessage(b); err == nil {
			t.Errorf("DecodeMessage(%q): got %+v, want an error", b, m)
		}
	}
}

func TestRequestID(t *testing.T) {
	ctx := context.Background()
	if got := bot.RequestID(ctx); got != "" {
		t.Errorf("RequestID of a bare context: got %q, want empty", got)
	}
	if got := bot.RequestID(bot.WithRequestID(ctx, "req-1")); got != "req-1" {
		t.Errorf("RequestID: got %q, want req-1", got)
	}
	a, b := bot.NewRequestID(), bot.NewRequestID()
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(a) || a == b {
		t.Errorf("NewRequestID: got %q and %q, want two different 12-hex-digit IDs", a, b)
	}
	if c := bot.CommandFrom(ctx); c != nil {
		t.Errorf("CommandFrom of a bare context: got %+v, want nil", c)
	}
}

func TestCardShortens(t *testing.T) {
	full := strings.Repeat("Parents checked the canteen. ", 80)
	excerpt := full[:300] + "…\n(more: the full text is in the first request)"
	for _, tt := range []struct {
		name string
		card bot.Card
		full string
		want bool
	}{
		{"an excerpt of the text", bot.Card{Body: excerpt, Excerpt: true}, full, true},
		{"not marked an excerpt", bot.Card{Body: excerpt}, full, false},
		{"an excerpt of another text", bot.Card{Body: excerpt, Excerpt: true}, "Another draft", false},
		{"the text itself", bot.Card{Body: full, Excerpt: true}, full, false},
	} {
		if got := tt.card.Shortens(tt.full); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
