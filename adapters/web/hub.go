package web

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Post is one message the bot delivered on the web platform, as the
// playground shows it: in the pane of its audience, with the answers to the
// buttons pressed on it.
type Post struct {
	// Seq numbers posts in the order they were delivered (1, 2, ...).
	Seq int64 `json:"seq"`
	// Rev is the hub event that last changed the post (its creation or an
	// answer); the event stream resumes from it.
	Rev int64 `json:"rev"`
	// ID is the notice ID: a notice delivered twice is shown once.
	ID       string      `json:"id"`
	Incident string      `json:"incident,omitempty"`
	Audience string      `json:"audience"`
	At       time.Time   `json:"at"`
	Message  bot.Message `json:"message"`
	// Answers are the replies to buttons pressed on this post, oldest first,
	// as a chat shows them under the message it edits.
	Answers []Answer `json:"answers,omitempty"`
}

// Answer is the reply to a button pressed on a Post.
type Answer struct {
	Actor     string     `json:"actor"`
	ActorName string     `json:"actor_name"`
	Button    string     `json:"button"`
	Reply     *bot.Reply `json:"reply"`
}

// Event is one item of the event stream: a post created or changed
// ("post", with its revision as ID), or the incidents changed ("changed").
type Event struct {
	Name string
	// ID is the Rev of a post event; 0 for "changed".
	ID   int64
	Data []byte
}

// Event names.
const (
	EventPost    = "post"
	EventChanged = "changed"
)

// Hub keeps the last posts in memory and fans events out to the browsers
// subscribed to the event stream. It is safe for concurrent use.
type Hub struct {
	mu     sync.Mutex
	keep   int
	rev    int64
	seq    int64
	posts  []*Post // oldest first, at most keep
	byID   map[string]*Post
	bySeq  map[int64]*Post
	subs   map[*Subscription]struct{}
	closed bool
}

// NewHub returns a hub that remembers the last keep posts (500 when keep <=
// 0).
func NewHub(keep int) *Hub {
	if keep <= 0 {
		keep = 500
	}
	return &Hub{keep: keep, byID: map[string]*Post{}, bySeq: map[int64]*Post{}, subs: map[*Subscription]struct{}{}}
}

// Subscription receives the hub's events until it is closed, the hub is
// closed, or it falls behind (then C is closed and the browser reconnects,
// resuming from the last post it saw).
type Subscription struct {
	// C delivers the events.
	C   <-chan Event
	c   chan Event
	hub *Hub
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.drop(s)
}

// Subscribe starts a subscription.
func (h *Hub) Subscribe() *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan Event, 256)
	s := &Subscription{C: c, c: c, hub: h}
	if h.closed {
		close(c)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// drop removes s and closes its channel; h.mu is held.
func (h *Hub) drop(s *Subscription) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Close ends every subscription; later ones end at once. The event streams
// return, so the HTTP server can shut down.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.drop(s)
	}
}

// Post records a delivered notice and tells the subscribers; it returns the
// post and false when a notice with the same ID was already posted.
//
// A message with Refresh posts nothing: it updates in place the cards of
// the posts of the same audience (pane) and Thread, as Slack and Telegram
// edit the messages they sent, and returns the last one updated; false when
// the pane has no post of that thread, or the refresh names none (nothing
// is shown then). A message sent Once that the pane has already updates it
// the same way.
func (h *Hub) Post(n workflow.Notice, m bot.Message, at time.Time) (Post, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.Refresh {
		return h.refresh(string(n.Audience), m)
	}
	if m.Once {
		// Shown at most once per pane: where the pane has it, update it.
		if p, ok := h.refresh(string(n.Audience), m); ok {
			return p, false
		}
	}
	if p, dup := h.byID[n.ID]; dup {
		return p.copy(), false
	}
	h.seq++
	h.rev++
	p := &Post{Seq: h.seq, Rev: h.rev, ID: n.ID, Incident: n.Incident, Audience: string(n.Audience), At: at, Message: m}
	h.posts = append(h.posts, p)
	h.byID[p.ID], h.bySeq[p.Seq] = p, p
	if len(h.posts) > h.keep {
		old := h.posts[0]
		h.posts = h.posts[1:]
		delete(h.byID, old.ID)
		delete(h.bySeq, old.Seq)
	}
	h.publish(postEvent(p))
	return p.copy(), true
}

// refresh replaces the card of the posts of audience in m's thread; h.mu
// is held. Their text stays, as on Slack (it says what happened when it was
// posted), and so do the answers: they are what people did with the card.
func (h *Hub) refresh(audience string, m bot.Message) (Post, bool) {
	if m.Thread == "" || m.Card == nil {
		return Post{}, false
	}
	var last *Post
	for _, p := range h.posts {
		if p.Audience != audience || p.Message.Thread != m.Thread || p.Message.Card == nil {
			continue
		}
		p.Message.Card = m.Card
		h.rev++
		p.Rev = h.rev
		h.publish(postEvent(p))
		last = p
	}
	if last == nil {
		return Post{}, false
	}
	return last.copy(), true
}

// Answer records the reply to a button pressed on post seq and tells the
// subscribers; false when the post is not (or no longer) kept. A reply that
// succeeded with a card replaces the post's card, as Slack and Telegram
// update the message in place (an approval request then shows its progress).
func (h *Hub) Answer(seq int64, a Answer) (Post, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.bySeq[seq]
	if !ok {
		return Post{}, false
	}
	h.rev++
	p.Rev = h.rev
	if a.Reply != nil && !a.Reply.Failed && a.Reply.Card != nil {
		p.Message.Card = a.Reply.Card
	}
	p.Answers = append(p.Answers, a)
	h.publish(postEvent(p))
	return p.copy(), true
}

// Changed tells the subscribers that incidents changed, so the board and
// incident pages fetch them again.
func (h *Hub) Changed(incident string) {
	data, _ := json.Marshal(struct {
		Incident string `json:"incident,omitempty"`
	}{incident})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publish(Event{Name: EventChanged, Data: data})
}

// Since returns the kept posts changed after revision rev, in the order of
// their last change.
func (h *Hub) Since(rev int64) []Post {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Post
	for _, p := range h.posts {
		if p.Rev > rev {
			out = append(out, p.copy())
		}
	}
	// Posts are kept in creation order; an answer moves a post's Rev later.
	slices.SortFunc(out, func(a, b Post) int { return cmp.Compare(a.Rev, b.Rev) })
	return out
}

// publish sends e to every subscriber; one that is full has fallen behind
// and is dropped (its browser reconnects and catches up). h.mu is held.
func (h *Hub) publish(e Event) {
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			h.drop(s)
		}
	}
}

func postEvent(p *Post) Event {
	data, err := json.Marshal(p)
	if err != nil {
		// A Post holds strings, numbers and times only.
		panic("web: encode post: " + err.Error())
	}
	return Event{Name: EventPost, ID: p.Rev, Data: data}
}

func (p *Post) copy() Post {
	c := *p
	c.Answers = append([]Answer(nil), p.Answers...)
	return c
}
