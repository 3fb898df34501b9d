package bot

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Platforms a Request can come from.
const (
	PlatformConsole  = "console"
	PlatformSlack    = "slack"
	PlatformTelegram = "telegram"
	PlatformWeb      = "web"
)

// Request is one input to the router: a command typed by a person, or a
// button they pressed (Action set).
type Request struct {
	// Platform is where the request came from (PlatformSlack, ...).
	Platform string
	// Actor is the roster ID of the person acting; "" when the platform user
	// is not in the roster.
	Actor string
	// Account is the person's user ID on Platform, as the roster would
	// list it; with Actor "" the router tells them what to add to the
	// roster (Onboarding). AccountName is their user name there, which
	// suggests a roster ID ("" for none).
	Account, AccountName string
	// Conversation identifies where it was typed (channel or chat ID).
	Conversation string
	// Text is the command as typed; a leading "/incident" is optional.
	Text string
	// Action is the button pressed, when this is not a typed command.
	Action *Action
}

// Action is a pressed button. Its wire form (Button.ID, Telegram
// callback_data, Slack action value) is "name:arg1:arg2", at most 64 bytes.
type Action struct {
	Name string
	Args []string
}

// ID returns the wire form of the action.
func (a Action) ID() string { return strings.Join(append([]string{a.Name}, a.Args...), ":") }

// MaxActionID is the longest wire form an action may have (Telegram's
// callback_data limit).
const MaxActionID = 64

// ParseAction parses the wire form of an action.
func ParseAction(id string) (Action, error) {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > MaxActionID {
		return Action{}, fmt.Errorf("action %q: empty or longer than %d bytes", id, MaxActionID)
	}
	parts := strings.Split(id, ":")
	for _, p := range parts {
		if p == "" {
			return Action{}, fmt.Errorf("action %q: empty part", id)
		}
	}
	return Action{Name: parts[0], Args: parts[1:]}, nil
}

// Reply is what the person who acted sees.
type Reply struct {
	Text string `json:"text,omitempty"`
	Card *Card  `json:"card,omitempty"`
	// Public replies are shown to everyone in the conversation (an incident
	// card); others only to the person who acted.
	Public bool `json:"public,omitempty"`
	// Failed marks a reply that reports an error: nothing was changed.
	Failed bool `json:"failed,omitempty"`
}

// Card is a platform-neutral rich message: a title, labelled fields, an
// optional body (a draft text, shown verbatim) and buttons.
type Card struct {
	Incident string   `json:"incident,omitempty"`
	Title    string   `json:"title"`
	Fields   []Field  `json:"fields,omitempty"`
	Body     string   `json:"body,omitempty"`
	Buttons  []Button `json:"buttons,omitempty"`
	Footer   string   `json:"footer,omitempty"`
	// Excerpt marks a Body that quotes a longer text shortened, ending in
	// "…" and where the full text is (an edited card must fit one small
	// message); the message that shows the full text keeps it (Shortens).
	Excerpt bool `json:"excerpt,omitempty"`
}

// Shortens reports whether the card brings, as an Excerpt, the text full
// shortened: a message that shows full keeps it, instead of the excerpt
// that points to it.
func (c *Card) Shortens(full string) bool {
	cut := strings.Index(c.Body, "…")
	return c.Excerpt && full != c.Body && cut > 0 && strings.HasPrefix(full, c.Body[:cut])
}

// Field is one labelled value of a Card.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Button styles.
const (
	StylePrimary = "primary"
	StyleDanger  = "danger"
)

// Button is a button on a Card. ID is the wire form of its Action.
type Button struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Style string `json:"style,omitempty"`
}

// Message is a notification to people other than the one who acted. It is
// the Body of a workflow.Notice, encoded with EncodeMessage.
type Message struct {
	// Kind says what the message is for ("incident", "approval", "decision",
	// "statement", "reminder", ...); adapters may render kinds differently.
	Kind string `json:"kind"`
	Text string `json:"text,omitempty"`
	Card *Card  `json:"card,omitempty"`
	// Thread groups the messages of one subject (e.g. "YQ-7:approval:2"), so
	// a platform can edit the earlier message instead of posting a new one.
	Thread string `json:"thread,omitempty"`
	// Refresh asks to update the messages already posted for Thread (the
	// card, its buttons) wherever they are, and to post nothing new: a
	// platform with no message of the thread yet does nothing.
	Refresh bool `json:"refresh,omitempty"`
	// Once marks a message a conversation shows at most once (an approval
	// request of one version): sent again where it was posted, it updates
	// the message there instead.
	Once bool `json:"once,omitempty"`
}

// EncodeMessage encodes m for a workflow.Notice body.
func EncodeMessage(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// A Message holds only strings and slices of them: this cannot fail.
		panic(fmt.Sprintf("encode message: %v", err))
	}
	return b
}

// DecodeMessage decodes a workflow.Notice body.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}
