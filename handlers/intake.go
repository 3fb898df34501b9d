package handlers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The monitoring intake's commands, buttons and cards: a candidate (a post
// the monitoring platform or a feed found) waits for a person's judgement
// (人工判读) — open it as an incident, as suggested or otherwise, or dismiss
// it with a reason.

func (h *Handlers) intakeCommands() []bot.Command {
	return []bot.Command{
		{Name: "intake", Aliases: []string{"监测", "研判"}, Roles: anyone,
			Usage: "list [page:N] | open <item> [level:…] [category:…] | dismiss <item> <reason>",
			Summary: tx{EN: "judge what the monitoring found: list the items waiting, open one as an incident (deadlines count from when it was found), or dismiss it saying why",
				ZH: "人工研判监测发现的条目:列出待研判条目、立为事件(时限从发现时起算)或说明理由后排除"},
			Examples: []string{"intake list", "intake open IT-3", "intake open IT-3 level:major category:rumor", "intake dismiss IT-4 not about our school",
				"监测 列表", "监测 立案 IT-3 级别:重大", "监测 排除 IT-4 与本单位无关"},
			Run: h.intake},
	}
}

func (h *Handlers) intakeActions() []bot.ActionDef {
	return []bot.ActionDef{
		{Name: "iopen", Roles: anyone, Run: h.intakeOpenAction},
		{Name: "ias", Roles: anyone, Run: h.intakeAsAction},
		{Name: "idismiss", Roles: anyone, Run: h.intakeDismissAction},
		{Name: "iback", Roles: anyone, Run: h.intakeBackAction},
	}
}

// intakeVerbs are intake's sub-commands, in both languages.
var intakeVerbs = map[string]string{
	"list": "list", "列表": "list", "待研判": "list",
	"open": "open", "立案": "open", "打开": "open", "立为事件": "open",
	"dismiss": "dismiss", "排除": "dismiss", "忽略": "dismiss",
}

var intakeOpenOptions = map[string]string{"level": "level", "级别": "level", "category": "category", "类别": "category"}

func (h *Handlers) intake(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	usage := workflow.Errorf(workflow.CodeInvalid, "intake takes list, open <item> or dismiss <item> <reason>",
		"intake 的用法:list、open <条目> 或 dismiss <条目> <理由>")
	if args.Len() == 0 {
		return nil, usage
	}
	verb, ok := intakeVerbs[strings.ToLower(args.Arg(0))]
	if !ok {
		return nil, usage
	}
	switch verb {
	case "list":
		opts, words := args.Options(listOptions)
		if len(words) > 1 {
			return nil, workflow.Errorf(workflow.CodeInvalid, "intake list takes only page:N", "intake list 只接受 page:N")
		}
		n := 1
		if v, ok := opts["page"]; ok {
			var err error
			if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1 {
				return nil, workflow.Errorf(workflow.CodeInvalid, "page:%s is not a page number; write page:2", "page:%s 不是页码;请写 page:2", v)
			}
		}
		return h.intakeList(ctx, req, n)
	case "open":
		if args.Len() < 2 {
			return nil, workflow.Errorf(workflow.CodeInvalid, "intake open needs an item, as in: intake open IT-3", "intake open 需要条目编号,例如:intake open IT-3")
		}
		opts, words := args.Options(intakeOpenOptions)
		if len(words) != 2 {
			return nil, workflow.Errorf(workflow.CodeInvalid, "intake open takes an item and level:… or category:…, as in: intake open IT-3 level:major",
				"intake open 只接受条目编号以及 级别:… 或 类别:…,例如:intake open IT-3 级别:重大")
		}
		level, category := workflow.Level(""), workflow.Category("")
		if v, ok := opts["level"]; ok {
			if level = parseLevel(v); level == "" {
				level = workflow.Level(v)
			}
		}
		if v, ok := opts["category"]; ok {
			if category = workflow.ParseCategory(v); category == "" {
				category = workflow.Category(v)
			}
		}
		return h.intakeOpen(ctx, req, words[1].Value, level, category)
	default:
		if args.Len() < 2 {
			return nil, workflow.Errorf(workflow.CodeInvalid, "intake dismiss needs an item and a reason, as in: intake dismiss IT-4 not about us",
				"intake dismiss 需要条目编号和理由,例如:intake dismiss IT-4 与本单位无关")
		}
		return h.intakeDismiss(ctx, req, args.Arg(1), args.Rest(2))
	}
}

func (h *Handlers) intakeList(ctx context.Context, req *bot.Request, n int) (*bot.Reply, error) {
	cs, total, err := h.svc.Candidates(ctx, req.Actor, workflow.CandidatePending, n)
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return &bot.Reply{Text: h.t("No monitoring item waits for a judgement.", "没有待研判的监测条目。")}, nil
	}
	lines := make([]string, 0, len(cs)+1)
	for _, c := range cs {
		lines = append(lines, h.candidateLine(c))
	}
	if more := total - (n-1)*workflow.PageSize - len(cs); more > 0 {
		lines = append(lines, fmt.Sprintf(h.t("… and %d more: intake list page:%d, or see the board", "……另有 %d 条:intake list page:%d,或查看看板"), more, n+1))
	}
	return &bot.Reply{Text: strings.Join(lines, "\n")}, nil
}

// candidateLine is one line of intake list: the item, what it is
// suggested as, where it was found and how long it has waited.
func (h *Handlers) candidateLine(c *workflow.Candidate) string {
	return fmt.Sprintf(h.t("%s [%s] %s — %s, waiting %s", "%s [%s] %s — %s,已等待 %s"), c.ID, h.suggestedGrade(c),
		listTitle(c.Title), c.Source, span(h.now().Sub(c.ReceivedAt), h.locale))
}

// listTitle shortens a title to what a list line shows.
func listTitle(s string) string {
	const most = 60
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}

func (h *Handlers) suggestedGrade(c *workflow.Candidate) string {
	return c.Suggestion.Level.Text().In(h.locale) + "/" + c.Suggestion.Category.Text().In(h.locale)
}

func (h *Handlers) intakeOpen(ctx context.Context, req *bot.Request, id string, level workflow.Level, category workflow.Category) (*bot.Reply, error) {
	inc, _, err := h.svc.OpenCandidate(ctx, req.Actor, id, level, category)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("Opened %s from %s; its deadlines count from when it was found (%s).", "已将 %[2]s 立为事件 %[1]s;时限从发现时间(%[3]s)起算。"),
		inc.ID, inc.Candidate, clockTime(inc.FoundAt, h.now(), h.loc()))
	if inc.Assignee != "" {
		sep := " " // Chinese runs sentences together after "。"
		if h.locale == workflow.LocaleZH {
			sep = ""
		}
		text += sep + fmt.Sprintf(h.t("Assigned to %s (%s).", "已指派给 %s(%s)。"), h.name(inc.Assignee), h.name(inc.Department))
	}
	return &bot.Reply{Text: text, Card: h.card(inc), Public: true}, nil
}

func (h *Handlers) intakeDismiss(ctx context.Context, req *bot.Request, id, reason string) (*bot.Reply, error) {
	c, err := h.svc.DismissCandidate(ctx, req.Actor, id, reason)
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Text: fmt.Sprintf(h.t("%s dismissed: %s", "%s 已排除:%s"), c.ID, c.Reason), Public: true}, nil
}

func (h *Handlers) intakeOpenAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	switch len(a.Args) {
	case 1:
		return h.intakeOpen(ctx, req, a.Args[0], "", "")
	case 2:
		return h.intakeOpen(ctx, req, a.Args[0], workflow.Level(a.Args[1]), "")
	case 3:
		return h.intakeOpen(ctx, req, a.Args[0], workflow.Level(a.Args[1]), workflow.Category(a.Args[2]))
	}
	return nil, errBadButton(a)
}

// intakeAsAction answers Open as…: the card, as it is, asking for a
// level; a level pressed, it asks for a category (the suggested one
// first). Back puts the card's own buttons back: the card the channel
// shares is never replaced by the question.
func (h *Handlers) intakeAsAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 && len(a.Args) != 2 {
		return nil, errBadButton(a)
	}
	c, judged, err := h.pendingCandidate(ctx, a.Args[0])
	if c == nil {
		return judged, err
	}
	if len(a.Args) == 1 {
		var levels []bot.Button
		for _, l := range workflow.Levels {
			levels = append(levels, bot.Button{ID: "ias:" + c.ID + ":" + string(l), Label: l.Text().In(h.locale)})
		}
		return h.askOnCard(c, fmt.Sprintf(h.t("Open %s as: pick a level, then a category.", "将 %s 立为:先选级别,再选类别。"), c.ID), levels), nil
	}
	level := workflow.Level(a.Args[1])
	if !slices.Contains(workflow.Levels, level) {
		return nil, errBadButton(a)
	}
	cats := []workflow.Category{c.Suggestion.Category}
	for _, cat := range workflow.Categories {
		if cat != c.Suggestion.Category {
			cats = append(cats, cat)
		}
	}
	var buttons []bot.Button
	for _, cat := range cats {
		buttons = append(buttons, bot.Button{ID: "iopen:" + c.ID + ":" + string(level) + ":" + string(cat), Label: cat.Text().In(h.locale)})
	}
	return h.askOnCard(c, fmt.Sprintf(h.t("Open %s as a %s incident: pick its category (suggested: %s).", "将 %s 立为%s舆情:请选类别(建议:%s)。"),
		c.ID, level.Text().In(h.locale), c.Suggestion.Category.Text().In(h.locale)), buttons), nil
}

// askOnCard is the triage card of c asking a question with buttons, and
// Back: its post, figures and suggestion stay in view for everyone.
func (h *Handlers) askOnCard(c *workflow.Candidate, question string, buttons []bot.Button) *bot.Reply {
	card := h.triageCard(c)
	card.Footer = question
	card.Buttons = append(buttons, bot.Button{ID: "iback:" + c.ID, Label: h.t("Back", "返回")})
	return &bot.Reply{Card: card}
}

// intakeBackAction answers Back: the triage card as it is now.
func (h *Handlers) intakeBackAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 {
		return nil, errBadButton(a)
	}
	c, err := h.svc.Candidate(ctx, a.Args[0])
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Card: h.triageCard(c)}, nil
}

// dismissReasons are the reasons the Dismiss button offers.
var dismissReasons = map[string]tx{
	"unrelated": {EN: "not about us", ZH: "与本单位无关"},
	"norisk":    {EN: "no risk of harm", ZH: "无负面影响"},
	"handled":   {EN: "already handled", ZH: "已处理"},
}

// intakeDismissAction answers Dismiss: it asks for the reason (a reason
// button dismisses at once).
func (h *Handlers) intakeDismissAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	switch len(a.Args) {
	case 2:
		why, ok := dismissReasons[a.Args[1]]
		if !ok {
			return nil, errBadButton(a)
		}
		return h.intakeDismiss(ctx, req, a.Args[0], why.In(h.locale))
	case 1:
	default:
		return nil, errBadButton(a)
	}
	c, judged, err := h.pendingCandidate(ctx, a.Args[0])
	if c == nil {
		return judged, err
	}
	var reasons []bot.Button
	for _, key := range []string{"unrelated", "norisk", "handled"} {
		reasons = append(reasons, bot.Button{ID: "idismiss:" + c.ID + ":" + key, Label: dismissReasons[key].In(h.locale)})
	}
	return h.askOnCard(c, fmt.Sprintf(h.t("Dismiss %s: why? Pick a reason, or type your own: intake dismiss %s <reason>",
		"排除 %s:理由?请选择理由,或自行输入:监测 排除 %s <理由>"), c.ID, c.ID), reasons), nil
}

// pendingCandidate reads candidate id for a button that asks a second
// question (Open as…, Dismiss): the candidate while it waits, else nil and
// the reply saying how it was judged, or the error.
func (h *Handlers) pendingCandidate(ctx context.Context, id string) (*workflow.Candidate, *bot.Reply, error) {
	c, err := h.svc.Candidate(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if c.State != workflow.CandidatePending {
		return nil, &bot.Reply{Text: h.candidateState(c)}, nil
	}
	return c, nil, nil
}

// candidateState says in a sentence what became of a candidate judged.
func (h *Handlers) candidateState(c *workflow.Candidate) string {
	switch c.State {
	case workflow.CandidateOpened:
		if c.DecidedBy == "" {
			return fmt.Sprintf(h.t("%s was opened as %s by the rule %s", "%s 已按规则 %s 立为事件 %s"), c.ID, c.Incident, c.Suggestion.Rule)
		}
		return fmt.Sprintf(h.t("%s was opened as %s by %s", "%s 已由 %s 立为事件 %s"), c.ID, c.Incident, h.name(c.DecidedBy))
	case workflow.CandidateDismissed:
		return fmt.Sprintf(h.t("%s was dismissed by %s: %s", "%s 已由 %s 排除:%s"), c.ID, h.name(c.DecidedBy), c.Reason)
	}
	return fmt.Sprintf(h.t("%s waits for a judgement", "%s 待研判"), c.ID)
}

// renderCandidate words a notice about a candidate: its triage card, a
// reminder that nobody judged it, or the card brought up to date.
func (h *Handlers) renderCandidate(ctx context.Context, n workflow.Notice, nt workflow.Notification) (bot.Message, error) {
	c, err := h.svc.Candidate(ctx, n.Incident)
	if workflow.ErrorCode(err) == workflow.CodeNotFound {
		return bot.Message{}, fmt.Errorf("%w: %v", bot.ErrBadNotice, err)
	}
	if err != nil {
		return bot.Message{}, err
	}
	thread := nt.Thread.Key(c.ID)
	card := h.triageCard(c)
	switch {
	case nt.Kind == workflow.NoticeRefresh:
		m := bot.Message{Kind: "refresh", Card: card, Thread: thread, Refresh: true}
		if c.State != workflow.CandidatePending {
			m.Text = h.candidateState(c) + h.t(".", "。") // in place of "judge it"
		}
		return m, nil
	case nt.Kind != workflow.NoticeTriage || nt.Triage == nil:
		return bot.Message{}, fmt.Errorf("%w: notice %s of candidate %s has kind %q", bot.ErrBadNotice, n.ID, c.ID, nt.Kind)
	case nt.Triage.Step == workflow.TriageReminder:
		text := fmt.Sprintf(h.t("%s has waited %s for a judgement: open it or dismiss it.", "%s 已等待研判 %s,请立为事件或排除。"),
			c.ID, span(nt.Triage.Waited, h.locale))
		if c.State != workflow.CandidatePending {
			text = h.candidateState(c) + h.t(".", "。")
		}
		return bot.Message{Kind: "triage_reminder", Text: text, Card: card, Thread: thread}, nil
	}
	text := fmt.Sprintf(h.t("The monitoring found %s; judge it: open it as an incident or dismiss it.",
		"监测发现 %s,请研判:立为事件或排除。"), c.ID)
	return bot.Message{Kind: "triage", Text: text, Card: card, Thread: thread, Once: true}, nil
}

// triageCard shows a candidate as it is now: the post, its figures, the
// grade suggested and by which rule, and while it waits the buttons to
// judge it.
func (h *Handlers) triageCard(c *workflow.Candidate) *bot.Card {
	now := h.now()
	card := &bot.Card{Title: fmt.Sprintf("%s [%s] %s", c.ID, h.suggestedGrade(c), c.Title)}
	field := func(en, zh, v string) { card.Fields = append(card.Fields, bot.Field{Label: h.t(en, zh), Value: v}) }
	field("Source", "来源", c.Source)
	if c.URL != "" {
		field("Link", "链接", c.URL)
	}
	if c.Author != "" {
		field("Author", "作者", c.Author)
	}
	field("Found", "发现时间", clockTime(c.FoundAt, now, h.loc()))
	if f := c.LatestFigures(); !f.IsZero() {
		field("Attention", "关注度", h.figureList(f))
	}
	if c.Deliveries > 1 {
		field("Found again", "重复发现", fmt.Sprintf(h.t("%d times", "%d 次"), c.Deliveries-1))
	}
	s := c.Suggestion
	grade := fmt.Sprintf("%s, %s", s.Level.Text().In(h.locale), s.Category.Text().In(h.locale))
	if s.Department != "" {
		grade += h.t(", ", ",") + h.name(s.Department)
	}
	field("Suggested", "建议", grade)
	if s.Rule != "" {
		field("Rule", "规则", fmt.Sprintf(h.t("%s (words: %s)", "%s(关键词:%s)"), s.Rule, strings.Join(s.Words, h.t(", ", "、"))))
	} else {
		field("Rule", "规则", h.t("none matched", "无匹配规则"))
	}
	if c.Excerpt != "" {
		card.Body = listExcerpt(c.Excerpt)
	}
	if c.State != workflow.CandidatePending {
		field("Judged", "研判结果", h.candidateState(c))
		return card
	}
	field("Waiting", "已等待", span(now.Sub(c.ReceivedAt), h.locale))
	card.Buttons = []bot.Button{
		{ID: "iopen:" + c.ID, Label: h.t("Open", "立为事件"), Style: bot.StylePrimary},
		{ID: "ias:" + c.ID, Label: h.t("Open as…", "立为…")},
		{ID: "idismiss:" + c.ID, Label: h.t("Dismiss", "排除"), Style: bot.StyleDanger},
	}
	return card
}

// listExcerpt shortens an excerpt to what a card shows.
func listExcerpt(s string) string {
	const most = 300
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}

// monitoredLine tells of figures the monitoring reported again.
func (h *Handlers) monitoredLine(e workflow.Event) string {
	figs := ""
	if e.Data.Figures != nil {
		figs = h.figureList(*e.Data.Figures)
	}
	return fmt.Sprintf(h.t("The monitoring found the post of %s again (%s): %s", "监测再次发现 %s 的帖文(%s):%s"), e.Incident, e.Data.Candidate, figs)
}
