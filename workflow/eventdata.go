package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventData is what an event records besides its kind, actor and text. Each
// kind of event sets the fields its comment names; the rest stay zero.
//
// Timelines and outbox entries in Redis keep events as JSON. Its form is
// typed (numbers, lists, times; Every as a Go duration, "2h0m0s"); releases
// before it wrote an object of strings (numbers in decimal, lists joined
// with commas, RFC 3339 times), which UnmarshalJSON still reads.
type EventData struct {
	// Level and Category of an incident opened (EventOpened).
	Level    Level
	Category Category
	// Department and Assignee an incident was assigned to (EventAssigned);
	// Auto when the routing at opening chose them.
	Department string
	Assignee   string
	Auto       bool
	// TakenFrom is the assignee a colleague took the incident over from
	// (EventAcknowledged; empty when the assignee acknowledged it).
	TakenFrom string
	// From and To are the levels of a level change or escalation
	// (EventLevelChanged, EventEscalated); Reason is why an incident was
	// escalated (EscalatedUnresolved, EscalatedSpreading).
	From, To Level
	Reason   string
	// Version is the draft version an event is about (drafted, approved,
	// quorum, rejected, published, approval nudge); Hash its content hash;
	// Voided the approvals of the previous version a new draft voided.
	Version int
	Hash    string
	Voided  int
	// Number is the follow-up report filed (EventUpdated) or due
	// (EventUpdateDue). A request also says its cadence (Every) and how
	// many reports were filed by then (Filed; nil on requests recorded by
	// releases that did not count them).
	Number int
	Every  time.Duration
	Filed  *int
	// Deadline is the deadline a reminder is about, Phase which warning it
	// is (PhaseHalf, PhaseWarn) and Due when the deadline falls
	// (EventReminder). Due is also when a follow-up report is due
	// (EventUpdateDue).
	Deadline DeadlineKind
	Phase    string
	Due      time.Time
	// Overdue lists the deadlines an overdue notice is about, with when each
	// fell: one, or every deadline an incident was born past (opened late,
	// raised, reopened) (EventOverdue).
	Overdue []DeadlineDue
	// Since is when the draft a nudge is about was written, Waiting the
	// leaders who have not decided it (EventApprovalWait).
	Since   time.Time
	Waiting []string
	// Candidate is the monitoring item an incident was opened from
	// (EventOpened) or that reported figures again (EventMonitored); Rule
	// the intake rule that suggested its grade.
	Candidate string
	Rule      string
	// Figures are the attention figures a follow-up report recorded
	// (EventUpdated), or the monitoring platform reported (EventMonitored).
	Figures *Figures
	// Sign is the figure that met the roster's spreading rule
	// (EventSpreading, EventEscalated when figures marked the spreading).
	Sign *Sign
	// Override: a leader resolved a major incident with no published reply,
	// the text saying why (EventResolved).
	Override bool
	// Principal: the leader who acknowledged a report is a principal
	// (EventReceived).
	Principal bool
	// Cleared: lowering the level also cleared "spreading", as the person
	// said (EventLevelChanged).
	Cleared bool
}

// DeadlineDue is a deadline an event names and when it falls.
type DeadlineDue struct {
	Deadline DeadlineKind `json:"deadline"`
	Due      time.Time    `json:"due"`
}

// eventDataJSON is the JSON form of EventData. Its flexible fields read the
// strings of the earlier form as well as the typed values of this one.
type eventDataJSON struct {
	Level      Level         `json:"level,omitempty"`
	Category   Category      `json:"category,omitempty"`
	Department string        `json:"department,omitempty"`
	Assignee   string        `json:"assignee,omitempty"`
	Auto       flexBool      `json:"auto,omitempty"`
	TakenFrom  string        `json:"taken_from,omitempty"`
	From       Level         `json:"from,omitempty"`
	To         Level         `json:"to,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Version    flexInt       `json:"version,omitempty"`
	Hash       string        `json:"hash,omitempty"`
	Voided     flexInt       `json:"voided,omitempty"`
	Number     flexInt       `json:"number,omitempty"`
	Every      flexDuration  `json:"every,omitempty"`
	Filed      *flexInt      `json:"filed,omitempty"`
	Deadline   DeadlineKind  `json:"deadline,omitempty"`
	Phase      string        `json:"phase,omitempty"`
	Due        string        `json:"due,omitempty"`
	Overdue    []DeadlineDue `json:"overdue,omitempty"`
	Since      time.Time     `json:"since,omitzero"`
	Waiting    flexList      `json:"waiting,omitempty"`
	Figures    *Figures      `json:"figures,omitempty"`
	Sign       *Sign         `json:"sign,omitempty"`
	Override   bool          `json:"override,omitempty"`
	Principal  bool          `json:"principal,omitempty"`
	Cleared    bool          `json:"cleared,omitempty"`
	Candidate  string        `json:"candidate,omitempty"`
	Rule       string        `json:"rule,omitempty"`
}

// MarshalJSON writes the typed form.
func (d EventData) MarshalJSON() ([]byte, error) {
	w := eventDataJSON{
		Level: d.Level, Category: d.Category, Department: d.Department, Assignee: d.Assignee,
		Auto: flexBool(d.Auto), TakenFrom: d.TakenFrom, From: d.From, To: d.To, Reason: d.Reason,
		Version: flexInt(d.Version), Hash: d.Hash, Voided: flexInt(d.Voided),
		Number: flexInt(d.Number), Every: flexDuration(d.Every),
		Deadline: d.Deadline, Phase: d.Phase, Overdue: d.Overdue, Since: d.Since, Waiting: d.Waiting,
		Figures: d.Figures, Sign: d.Sign, Override: d.Override, Principal: d.Principal, Cleared: d.Cleared,
		Candidate: d.Candidate, Rule: d.Rule,
	}
	if d.Filed != nil {
		filed := flexInt(*d.Filed)
		w.Filed = &filed
	}
	if !d.Due.IsZero() {
		w.Due = d.Due.Format(time.RFC3339Nano)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the typed form and the earlier object of strings.
// What the earlier form kept in a way only the event's kind explains (the
// "from" of an acknowledgement was a person) Event.UnmarshalJSON puts right.
func (d *EventData) UnmarshalJSON(b []byte) error {
	var w eventDataJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("event data: %w", err)
	}
	*d = EventData{
		Level: w.Level, Category: w.Category, Department: w.Department, Assignee: w.Assignee,
		Auto: bool(w.Auto), TakenFrom: w.TakenFrom, From: w.From, To: w.To, Reason: w.Reason,
		Version: int(w.Version), Hash: w.Hash, Voided: int(w.Voided),
		Number: int(w.Number), Every: time.Duration(w.Every),
		Deadline: w.Deadline, Phase: w.Phase, Overdue: w.Overdue, Since: w.Since, Waiting: w.Waiting,
		Figures: w.Figures, Sign: w.Sign, Override: w.Override, Principal: w.Principal, Cleared: w.Cleared,
		Candidate: w.Candidate, Rule: w.Rule,
	}
	if w.Filed != nil {
		filed := int(*w.Filed)
		d.Filed = &filed
	}
	if w.Deadline != "" && w.Phase == "" && w.Overdue == nil {
		// The earlier overdue notice: "deadline" and "due" were lists
		// joined with commas (a reminder has a phase).
		kinds, dues := strings.Split(string(w.Deadline), ","), strings.Split(w.Due, ",")
		if len(kinds) != len(dues) {
			return fmt.Errorf("event data: %d deadlines with %d due times", len(kinds), len(dues))
		}
		for i, k := range kinds {
			due, err := time.Parse(time.RFC3339, dues[i])
			if err != nil {
				return fmt.Errorf("event data: due: %w", err)
			}
			d.Overdue = append(d.Overdue, DeadlineDue{Deadline: DeadlineKind(k), Due: due})
		}
		d.Deadline = ""
		return nil
	}
	if w.Due != "" {
		due, err := time.Parse(time.RFC3339, w.Due)
		if err != nil {
			return fmt.Errorf("event data: due: %w", err)
		}
		d.Due = due
	}
	return nil
}

// UnmarshalJSON reads an event as stored, its data in either form of
// EventData.
func (e *Event) UnmarshalJSON(b []byte) error {
	type event Event // without this method
	if err := json.Unmarshal(b, (*event)(e)); err != nil {
		return err
	}
	if e.Kind == EventAcknowledged && e.Data.From != "" && e.Data.TakenFrom == "" {
		// The earlier form named the previous assignee "from".
		e.Data.TakenFrom, e.Data.From = string(e.Data.From), ""
	}
	return nil
}

// unquote returns the string of a JSON string, and false for another value.
func unquote(b []byte) (string, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false
	}
	return s, true
}

// flexInt is a number, or the decimal string of one (the earlier form).
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	if s, ok := unquote(b); ok {
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		*n = flexInt(v)
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = flexInt(v)
	return nil
}

// flexBool is a boolean, or "true"/"false" (the earlier form).
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	if s, ok := unquote(b); ok {
		x, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		*v = flexBool(x)
		return nil
	}
	var x bool
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*v = flexBool(x)
	return nil
}

// flexDuration is a Go duration string ("2h0m0s"), or a number of
// nanoseconds.
type flexDuration time.Duration

func (d flexDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *flexDuration) UnmarshalJSON(b []byte) error {
	if s, ok := unquote(b); ok {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = flexDuration(v)
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = flexDuration(v)
	return nil
}

// flexList is a list of strings, or one string joined with commas (the
// earlier form; "" is none).
type flexList []string

func (l *flexList) UnmarshalJSON(b []byte) error {
	if s, ok := unquote(b); ok {
		*l = strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*l = nil
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = v
	return nil
}
