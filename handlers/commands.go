package handlers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

var (
	anyone      []workflow.Role
	leaders     = []workflow.Role{workflow.RoleLeader}
	openOptions = map[string]string{
		"level": "level", "级别": "level", "category": "category", "类别": "category",
		"source": "source", "来源": "source", "found": "found", "发现": "found",
	}
	openOptionExamples = map[string]string{
		"level": "level:major", "category": "category:inquiry", "source": "source:https://weibo.com/123", "found": "found:09:40",
	}
)

// commands is the command set as data; help is generated from it.
func (h *Handlers) commands() []bot.Command {
	return []bot.Command{
		{Name: "open", Aliases: []string{"新建", "开启"}, Roles: anyone,
			Usage:    "<title> [level:general|major|critical] [category:inquiry|hype|rumor|other] [source:<url>] [found:<time>]",
			Summary:  tx{EN: "open an incident; deadlines count from found: (default now)", ZH: "新建舆情事件;时限从发现时间(found:,默认现在)起算"},
			Examples: []string{`open "Canteen complaint" level:major category:inquiry source:https://weibo.com/123 found:09:40`, "open 食堂投诉 级别:重大 类别:询问"},
			Run:      h.open},
		{Name: "assign", Aliases: []string{"指派", "分派"}, Roles: anyone, Usage: "<id> <person|department>",
			Summary:  tx{EN: "hand an incident to a person or a department", ZH: "把事件交给某人或某部门"},
			Examples: []string{"assign YQ-7 li", "assign YQ-7 logistics"}, Run: h.assign},
		{Name: "ack", Aliases: []string{"确认", "接办"}, Roles: anyone, Usage: "<id>",
			Summary:  tx{EN: "take on an incident assigned to you or your department", ZH: "接办指派给您或您部门的事件"},
			Examples: []string{"ack YQ-7"}, Run: h.ack},
		{Name: "level", Aliases: []string{"定级", "级别"}, Roles: anyone, Usage: "<id> <general|major|critical> [spreading:no] [reason]",
			Summary: tx{EN: "change the level; every deadline is planned again (lowering needs a leader and a reason; spreading:no also clears the spreading mark)",
				ZH: "调整级别,重新计算所有时限(降级需领导并说明理由;写 扩散:否 同时清除扩散标记)"},
			Examples: []string{"level YQ-7 major", "level YQ-7 general spreading:no the posts were deleted and nobody reposts"}, Run: h.level},
		{Name: "update", Aliases: []string{"续报"}, Roles: anyone, Usage: "<id> [posts:N] [views:N] [heat:N] <text>",
			Summary: tx{EN: "file a follow-up report (续报), with the attention figures when you have them",
				ZH: "续报处置进展,可附关注度指标(跟帖、浏览、热度)"},
			Examples: []string{"update YQ-7 Met the parents; inspection report due 16:00", "update YQ-7 posts:35 views:12000 heat:68 reposted by a local account",
				"update YQ-7 跟帖:35 浏览:12000 热度:68 已约谈家长"}, Run: h.update},
		{Name: "draft", Aliases: []string{"口径", "起草"}, Roles: anyone, Usage: "<id> <text>",
			Summary:  tx{EN: "propose the unified reply; a new version voids earlier approvals", ZH: "起草统一口径;新版本使之前的批准作废"},
			Examples: []string{"draft YQ-7 We have inspected the canteen and will publish the results today."}, Run: h.draft},
		{Name: "approve", Aliases: []string{"批准", "同意"}, Roles: leaders, Usage: "<id> [v<version>] [note]",
			Summary: tx{EN: "approve the current draft (not your own); with v2, only if version 2 is still current",
				ZH: "批准当前口径草稿(不能批准自己起草的);写 v2 则仅当第 2 版仍为当前版本时批准"},
			Examples: []string{"approve YQ-7", "approve YQ-7 v2 fine, publish now"}, Run: h.approve},
		{Name: "reject", Aliases: []string{"驳回"}, Roles: leaders, Usage: "<id> [v<version>] <reason>",
			Summary: tx{EN: "reject the current draft, saying why; with v2, only if version 2 is still current",
				ZH: "驳回当前口径草稿并说明理由;写 v2 则仅当第 2 版仍为当前版本时驳回"},
			Examples: []string{"reject YQ-7 do not name the supplier", "reject YQ-7 v2 do not name the supplier"}, Run: h.reject},
		{Name: "publish", Aliases: []string{"发布"}, Roles: anyone, Usage: "<id>",
			Summary:  tx{EN: "publish the approved draft, exactly as approved", ZH: "按批准原文发布统一口径"},
			Examples: []string{"publish YQ-7"}, Run: h.publish},
		{Name: "refer", Aliases: []string{"移交"}, Roles: leaders, Usage: "<id> <reason>",
			Summary:  tx{EN: "refer hype or rumor to law enforcement", ZH: "将恶意传播、炒作或捏造、歪曲、谣言类移交执纪执法部门"},
			Examples: []string{"refer YQ-9 the account keeps spreading the fabricated video"}, Run: h.refer},
		{Name: "resolve", Aliases: []string{"办结"}, Roles: anyone, Usage: "<id> [override] <summary>",
			Summary: tx{EN: "close an incident with the substantive answer; a major one needs its reply published, or a leader's override saying why",
				ZH: "办结事件并填写实质答复;重大及以上须已发布口径,或由领导写 override(特批)并说明理由"},
			Examples: []string{"resolve YQ-7 Supplier replaced; parents informed at the meeting", "resolve YQ-8 override answered each family in person; no public reply needed"}, Run: h.resolve},
		{Name: "reopen", Aliases: []string{"重开"}, Roles: anyone, Usage: "<id> <reason>",
			Summary:  tx{EN: "open a resolved incident again, saying why", ZH: "重新打开已办结事件并说明理由"},
			Examples: []string{"reopen YQ-7 new posts say the canteen is closed again"}, Run: h.reopen},
		{Name: "receive", Aliases: []string{"收到", "签收"}, Roles: leaders, Usage: "<id>",
			Summary:  tx{EN: "acknowledge the report of an incident (the Received button)", ZH: "签收事件报告(即「收到」按钮)"},
			Examples: []string{"receive YQ-7"}, Run: h.receive},
		{Name: "report-up", Aliases: []string{"reportup", "上报"}, Roles: anyone, Usage: "<id> [note]",
			Summary:  tx{EN: "record that the incident was reported to the higher authority (sent to its channel when the roster has one)", ZH: "记录已向上级主管部门报告(名册设有上级频道时同时发送)"},
			Examples: []string{"report-up YQ-7 phoned the county office at 10:20"}, Run: h.reportUp},
		{Name: "status", Aliases: []string{"状态", "查看"}, Roles: anyone, Usage: "<id>",
			Summary:  tx{EN: "show an incident, its deadlines and timeline", ZH: "查看事件、时限和处置记录"},
			Examples: []string{"status YQ-7"}, Run: h.status},
		{Name: "report", Aliases: []string{"报告", "处置报告"}, Roles: anyone, Usage: "<id>",
			Summary: tx{EN: "the handling report of an incident: where it stands, and the link to the full report to print or send",
				ZH: "事件处置报告:简要情况,以及可打印、可报送的完整报告链接"},
			Examples: []string{"report YQ-7"}, Run: h.reportCommand},
		{Name: "list", Aliases: []string{"列表"}, Roles: anyone, Usage: "[open|overdue|mine|resolved [YYYY-MM]] [page:N]",
			Summary: tx{EN: fmt.Sprintf("list open, overdue or your incidents, most urgent first, or those resolved in a month "+
				"(default: this one) in the order resolved; %d a page", workflow.PageSize),
				ZH: fmt.Sprintf("列出未办结、已超时或我负责的事件(按紧急程度排序),或某月办结的事件(默认本月,按办结时间排序);每页 %d 件", workflow.PageSize)},
			Examples: []string{"list", "list overdue", "list mine", "list page:2", "list resolved", "list resolved 2026-03 page:2", "列表 已办结 2026-03"},
			Run:      h.list},
		{Name: "stats", Aliases: []string{"统计"}, Roles: anyone, Usage: "[week|month|YYYY-MM|YYYY-MM-DD..YYYY-MM-DD]",
			Summary: tx{EN: "statistics of the incidents found in a period (default: the last 7 days; month: the last 30)",
				ZH: "统计某时段内发现的事件(默认最近 7 天;month 为最近 30 天)"},
			Examples: []string{"stats", "stats month", "stats 2026-03", "stats 2026-03-01..2026-03-15", "统计 本月"}, Run: h.stats},
	}
}

// actions are the buttons on cards and approval requests.
func (h *Handlers) actions() []bot.ActionDef {
	return []bot.ActionDef{
		{Name: "ack", Roles: anyone, Run: h.ackAction},
		{Name: "take", Roles: anyone, Run: h.takeAction},
		{Name: "approve", Roles: leaders, Run: h.approveAction},
		{Name: "reject", Roles: leaders, Run: h.rejectAction},
		{Name: "publish", Roles: anyone, Run: h.publishAction},
		{Name: "receive", Roles: leaders, Run: h.receiveAction},
		{Name: "reportup", Roles: anyone, Run: h.reportUpAction},
	}
}

func (h *Handlers) open(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	opts, words := args.Options(openOptions)
	for _, key := range []string{"level", "category", "source", "found"} {
		if v, ok := opts[key]; ok && strings.TrimSpace(v) == "" {
			return nil, workflow.Errorf(workflow.CodeInvalid, "%s: has no value; write it without a space after the colon, e.g. %s",
				"%s: 没有值;冒号后不要加空格,例如 %s", key, openOptionExamples[key])
		}
	}
	titles := make([]string, len(words))
	for i, w := range words {
		titles[i] = w.Value
	}
	in := workflow.OpenInput{
		Title:    strings.Join(titles, " "),
		Level:    parseLevel(opts["level"]),
		Category: workflow.ParseCategory(opts["category"]),
		Source:   opts["source"],
	}
	if f, ok := opts["found"]; ok {
		t, err := parseFound(f, h.now(), h.loc())
		if err != nil {
			return nil, err
		}
		in.FoundAt = t
	}
	inc, _, err := h.svc.Open(ctx, req.Actor, in)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("Opened %s.", "已新建 %s。"), inc.ID)
	sep := " " // Chinese runs sentences together after "。"
	if h.locale == workflow.LocaleZH {
		sep = ""
	}
	if inc.Assignee != "" {
		text += sep + fmt.Sprintf(h.t("Assigned to %s (%s).", "已指派给 %s(%s)。"), h.name(inc.Assignee), h.name(inc.Department))
	} else {
		text += sep + fmt.Sprintf(h.t("No department owns %s; assign it with: assign %s <person|department>", "没有部门负责%s;请用 指派 %s <人员|部门>"),
			inc.Category.Text().In(h.locale), inc.ID)
	}
	return &bot.Reply{Text: text, Card: h.card(inc), Public: true}, nil
}

func (h *Handlers) assign(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, target, err := h.need2(args, "assign needs an incident and a person or department", "assign 需要事件编号和人员或部门")
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.Assign(ctx, req.Actor, id, target)
	if err != nil {
		return nil, err
	}
	return h.done(inc, fmt.Sprintf(h.t("%s assigned to %s (%s).", "%s 已指派给 %s(%s)。"), inc.ID, h.name(inc.Assignee), h.name(inc.Department))), nil
}

func (h *Handlers) ack(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.Ack(ctx, req.Actor, id)
	if err != nil {
		return nil, err
	}
	return h.done(inc, fmt.Sprintf(h.t("%s acknowledged by %s.", "%s 已由 %s 接办。"), inc.ID, h.name(req.Actor))), nil
}

// spreadingOff are the words of level's spreading:no, which clears the
// spreading mark when lowering.
var spreadingOff = map[string]bool{"spreading:no": true, "spreading:false": true, "扩散:否": true, "扩散:无": true, "扩散：否": true, "扩散：无": true}

func (h *Handlers) level(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	if args.Len() < 2 {
		return nil, workflow.Errorf(workflow.CodeInvalid, "level needs an incident and a level", "level 需要事件编号和级别")
	}
	ch := workflow.LevelChange{Level: parseLevel(args.Arg(1))}
	reasonFrom := 2
	if spreadingOff[strings.ToLower(args.Arg(2))] {
		ch.ClearSpreading, reasonFrom = true, 3
	}
	ch.Reason = args.Rest(reasonFrom)
	inc, evs, err := h.svc.SetLevel(ctx, req.Actor, args.Arg(0), ch)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("%s is now %s; deadlines planned again.", "%s 已调整为%s,时限已重新计算。"),
		inc.ID, inc.Level.Text().In(h.locale))
	if inc.Spreading && len(evs) > 0 && evs[0].Data.To.Rank() < evs[0].Data.From.Rank() {
		text += h.t(" It stays marked spreading; to clear that too: level "+inc.ID+" "+string(inc.Level)+" spreading:no <reason>",
			"仍标记为有扩散迹象;如需一并清除:定级 "+inc.ID+" "+inc.Level.Text().ZH+" 扩散:否 <理由>")
	}
	return h.done(inc, text), nil
}

func (h *Handlers) update(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	words := make([]string, 0, args.Len())
	for _, t := range args.Tokens[1:] {
		if t.Quoted {
			break // a quoted phrase is text, never a figure
		}
		words = append(words, t.Value)
	}
	figures, n, err := workflow.ParseFigures(words)
	if err != nil {
		return nil, err
	}
	inc, evs, err := h.svc.Update(ctx, req.Actor, id, args.Rest(1+n), figures)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("Follow-up report #%d on %s recorded.", "%[2]s 第 %[1]d 次续报已记录。"), inc.Updates, inc.ID)
	if f := h.figuresState(inc); f != "" {
		text += h.t(" Figures: ", "指标:") + f
	}
	for _, e := range evs[1:] {
		text += "\n" + h.EventLine(e)
	}
	return &bot.Reply{Text: text}, nil
}

func (h *Handlers) draft(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.SubmitDraft(ctx, req.Actor, id, args.Rest(1))
	if err != nil {
		return nil, err
	}
	d := inc.CurrentDraft()
	text := fmt.Sprintf(h.t("Draft version %d of %s recorded (#%s); the leaders are asked to approve it.",
		"%[2]s 的口径草稿第 %[1]d 版已记录(#%[3]s),已请领导审批。"), d.Version, inc.ID, d.Hash)
	if d.Version > 1 {
		text += h.t(" Earlier versions and their approvals no longer count.", "之前的版本及其批准已作废。")
	}
	if a := h.roster.DraftApprovers(inc.Level, req.Actor); !a.Reachable() {
		if h.locale != workflow.LocaleZH { // Chinese runs sentences together after "。"
			text += " "
		}
		text += h.unreachableQuorum(inc, req.Actor, a)
	}
	return &bot.Reply{Text: text}, nil
}

// unreachableQuorum tells the author of a draft that nobody else can give
// the approvals it needs (they cannot approve their own), who can approve,
// and who could submit it instead.
func (h *Handlers) unreachableQuorum(inc *workflow.Incident, author string, a workflow.DraftApprovers) string {
	names := make([]string, len(a.Leaders))
	for i, p := range a.Leaders {
		names[i] = p.Name
	}
	who := h.t("nobody", "无")
	if len(names) > 0 {
		who = strings.Join(names, h.t(", ", "、"))
	}
	other := h.t("a member of staff", "一位工作人员")
	if inc.Assignee != "" && inc.Assignee != author {
		other = fmt.Sprintf(h.t("the assignee %s or another member of staff", "负责人 %s 或其他工作人员"), h.name(inc.Assignee))
	}
	level := inc.Level.Text().In(h.locale)
	if a.NeedPrincipal && len(a.Principals) == 0 {
		return fmt.Sprintf(h.t(
			"⚠ You are the only principal leader and a %s reply needs a principal's approval, which you cannot give to your own draft: it cannot be approved. Other leaders: %s. Ask %s to submit the draft instead; then you can approve it.",
			"⚠ 您是唯一的主要领导,%s舆情的口径须经主要领导批准,而您不能批准自己起草的口径:此草稿无法获批。其他领导:%s。请改由%s提交草稿,再由您批准。"),
			level, who, other)
	}
	return fmt.Sprintf(h.t(
		"⚠ A %s reply needs %d approvals and you cannot approve your own draft: only %d other leader(s) can (%s), so it cannot be approved. Ask %s to submit the draft instead.",
		"⚠ %s舆情的口径须经 %d 位领导批准,而您不能批准自己起草的口径:其他领导只有 %d 位(%s),此草稿无法获批。请改由%s提交草稿。"),
		level, a.Need, len(a.Leaders), who, other)
}

func (h *Handlers) approve(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	version, rest := versionArg(args)
	return h.doApprove(ctx, req, id, version, rest)
}

// versionArg reads an optional "v<N>" after the incident ID, so a decision
// typed (or sent by a platform) for one version never lands on a newer one.
// It returns 0 (the current version) when there is none, and the text after.
func versionArg(args bot.Args) (int, string) {
	if v, ok := strings.CutPrefix(strings.ToLower(args.Arg(1)), "v"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n, args.Rest(2)
		}
	}
	return 0, args.Rest(1)
}

func (h *Handlers) doApprove(ctx context.Context, req *bot.Request, id string, version int, note string) (*bot.Reply, error) {
	inc, _, err := h.svc.Approve(ctx, req.Actor, id, version, note)
	if err != nil {
		return nil, err
	}
	d := inc.CurrentDraft()
	return &bot.Reply{Text: fmt.Sprintf(h.t("You approved version %d of %s: %s.", "您已批准 %[2]s 第 %[1]d 版:%[3]s。"),
		d.Version, inc.ID, h.approvalProgress(inc, d))}, nil
}

func (h *Handlers) reject(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	version, rest := versionArg(args)
	return h.doReject(ctx, req, id, version, rest)
}

func (h *Handlers) doReject(ctx context.Context, req *bot.Request, id string, version int, reason string) (*bot.Reply, error) {
	inc, _, err := h.svc.Reject(ctx, req.Actor, id, version, reason)
	if err != nil {
		return nil, err
	}
	d := inc.CurrentDraft()
	return &bot.Reply{Text: fmt.Sprintf(h.t("You rejected version %d of %s; its author is asked for a new draft.",
		"您已驳回 %[2]s 第 %[1]d 版,已通知起草人重新起草。"), d.Version, inc.ID)}, nil
}

func (h *Handlers) publish(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	return h.doPublish(ctx, req, id, 0)
}

func (h *Handlers) doPublish(ctx context.Context, req *bot.Request, id string, version int) (*bot.Reply, error) {
	inc, _, err := h.svc.PublishVersion(ctx, req.Actor, id, version)
	if err != nil {
		return nil, err
	}
	st := inc.Statements[len(inc.Statements)-1]
	return &bot.Reply{Text: fmt.Sprintf(h.t("Published version %d of %s (#%s) to the statements channel.",
		"已发布 %[2]s 第 %[1]d 版(#%[3]s)至口径发布频道。"), st.DraftVersion, inc.ID, st.Hash)}, nil
}

func (h *Handlers) refer(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.Refer(ctx, req.Actor, id, args.Rest(1))
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Text: fmt.Sprintf(h.t("%s referred to law enforcement.", "%s 已移交执纪执法部门。"), inc.ID)}, nil
}

func (h *Handlers) resolve(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	override, from := false, 1
	switch strings.ToLower(args.Arg(1)) {
	case "override", "特批", "override:", "特批:":
		override, from = true, 2
	}
	inc, _, err := h.svc.Resolve(ctx, req.Actor, id, args.Rest(from), override)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("%s resolved.", "%s 已办结。"), inc.ID)
	if inc.Level == workflow.LevelGeneral {
		text += h.t(" The result was fed back to the leaders.", "办结结果已反馈领导。")
	}
	return h.done(inc, text), nil
}

func (h *Handlers) receive(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	return h.doReceive(ctx, req, id)
}

func (h *Handlers) receiveAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 {
		return nil, errBadButton(a)
	}
	return h.doReceive(ctx, req, a.Args[0])
}

func (h *Handlers) doReceive(ctx context.Context, req *bot.Request, id string) (*bot.Reply, error) {
	inc, _, err := h.svc.Receive(ctx, req.Actor, id)
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Text: fmt.Sprintf(h.t("%s acknowledged the report of %s: %s.", "%[1]s 已签收 %[2]s 的报告:%[3]s。"),
		h.name(req.Actor), inc.ID, h.receiptsState(inc)), Card: h.reportCard(inc)}, nil
}

func (h *Handlers) reportUp(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	return h.doReportUp(ctx, req, id, args.Rest(1))
}

func (h *Handlers) reportUpAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 {
		return nil, errBadButton(a)
	}
	return h.doReportUp(ctx, req, a.Args[0], "")
}

func (h *Handlers) doReportUp(ctx context.Context, req *bot.Request, id, note string) (*bot.Reply, error) {
	inc, _, err := h.svc.ReportUp(ctx, req.Actor, id, note)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("%s reported to the higher authority.", "%s 已报告上级。"), inc.ID)
	if h.svc.AuthorityChat() {
		text = fmt.Sprintf(h.t("%s reported to the higher authority; the report was sent to its channel.", "%s 已报告上级,报告已发送至上级频道。"), inc.ID)
	}
	return &bot.Reply{Text: text, Card: h.reportCard(inc)}, nil
}

func (h *Handlers) reopen(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.Reopen(ctx, req.Actor, id, args.Rest(1))
	if err != nil {
		return nil, err
	}
	return h.done(inc, fmt.Sprintf(h.t("%s reopened; its deadlines count again.", "%s 已重新打开,时限重新生效。"), inc.ID)), nil
}

func (h *Handlers) status(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, events, err := h.svc.History(ctx, req.Actor, id)
	if err != nil {
		return nil, err
	}
	c := h.card(inc)
	var b strings.Builder
	for i, e := range events {
		fmt.Fprintf(&b, "%s %s\n", clockTime(e.At, h.now(), h.loc()), h.lineAt(events, i))
	}
	c.Footer = strings.TrimRight(b.String(), "\n")
	return &bot.Reply{Card: c}, nil
}

// listOptions are list's page:N, in both languages.
var listOptions = map[string]string{"page": "page", "页": "page", "页码": "page"}

func (h *Handlers) list(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	opts, words := args.Options(listOptions)
	n := 1
	if v, ok := opts["page"]; ok {
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1 {
			return nil, workflow.Errorf(workflow.CodeInvalid, "page:%s is not a page number; write page:2", "page:%s 不是页码;请写 page:2", v)
		}
	}
	word := ""
	if len(words) > 0 {
		word = words[0].Value
	}
	filter := workflow.ListFilter(strings.ToLower(word))
	switch word {
	case "未办结":
		filter = workflow.ListOpen
	case "超时", "已超时":
		filter = workflow.ListOverdue
	case "我的":
		filter = workflow.ListMine
	case "已办结":
		filter = workflow.ListResolved
	}
	if filter == workflow.ListResolved {
		return h.listResolved(ctx, req, word, words[1:], n)
	}
	if len(words) > 1 {
		return nil, workflow.Errorf(workflow.CodeInvalid, "list takes one filter: open, overdue, mine or resolved [YYYY-MM], and page:N",
			"list 只接受一个参数:open、overdue、mine 或 resolved [YYYY-MM],以及 page:N")
	}
	page, err := h.svc.ListPage(ctx, req.Actor, filter, n)
	if err != nil {
		return nil, err
	}
	if page.Total == 0 {
		switch filter {
		case workflow.ListOverdue:
			return &bot.Reply{Text: h.t("No open incident is overdue.", "没有超时的未办结事件。")}, nil
		case workflow.ListMine:
			return &bot.Reply{Text: h.t("No open incident is assigned to you.", "没有指派给您的未办结事件。")}, nil
		}
		return &bot.Reply{Text: h.t("No open incidents.", "没有未办结的事件。")}, nil
	}
	lines := make([]string, 0, len(page.Incidents)+1)
	for _, inc := range page.Incidents {
		lines = append(lines, h.listLine(inc))
	}
	shown := (n-1)*workflow.PageSize + len(page.Incidents)
	if more := page.Total - shown; more > 0 {
		next := strings.TrimSpace(fmt.Sprintf("list %s page:%d", word, n+1))
		next = strings.Replace(next, "  ", " ", 1)
		lines = append(lines, fmt.Sprintf(h.t("… and %d more (most urgent first): %s, or see the board",
			"……另有 %d 件(按紧急程度排序):%s,或查看看板"), more, next))
	}
	return &bot.Reply{Text: strings.Join(lines, "\n")}, nil
}

// listResolved answers list resolved [YYYY-MM] [page:N] (已办结): page n of
// the incidents resolved in the month (default: the current one, in the
// roster's timezone), in the order they were resolved. word is the filter
// as typed, rest the words after it. The line to the next page names the
// month, so it shows the same month even once the calendar has turned.
func (h *Handlers) listResolved(ctx context.Context, req *bot.Request, word string, rest []bot.Token, n int) (*bot.Reply, error) {
	if len(rest) > 1 {
		return nil, workflow.Errorf(workflow.CodeInvalid, "list resolved takes one month, YYYY-MM, and page:N",
			"list resolved 只接受一个月份(YYYY-MM)以及 page:N")
	}
	asked := ""
	if len(rest) == 1 {
		asked = rest[0].Value
	}
	month, err := workflow.ParseMonth(asked, h.now(), h.loc())
	if err != nil {
		return nil, err
	}
	name := month.From.In(h.loc()).Format(workflow.MonthLayout)
	page, err := h.svc.ResolvedPage(ctx, req.Actor, month, n)
	if err != nil {
		return nil, err
	}
	if page.Total == 0 {
		return &bot.Reply{Text: fmt.Sprintf(h.t("No incident was resolved in %s.", "%s 没有办结的事件。"), name)}, nil
	}
	lines := make([]string, 0, len(page.Incidents)+1)
	for _, inc := range page.Incidents {
		lines = append(lines, h.resolvedLine(inc))
	}
	shown := (n-1)*workflow.PageSize + len(page.Incidents)
	if more := page.Total - shown; more > 0 {
		lines = append(lines, fmt.Sprintf(h.t("… and %d more (in the order resolved): list %s %s page:%d",
			"……另有 %d 件(按办结时间排序):list %s %s page:%d"), more, word, name, n+1))
	}
	return &bot.Reply{Text: strings.Join(lines, "\n")}, nil
}

func (h *Handlers) ackAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 {
		return nil, errBadButton(a)
	}
	inc, _, err := h.svc.Ack(ctx, req.Actor, a.Args[0])
	if err != nil {
		return nil, err
	}
	return h.done(inc, fmt.Sprintf(h.t("%s acknowledged by %s.", "%s 已由 %s 接办。"), inc.ID, h.name(req.Actor))), nil
}

func (h *Handlers) takeAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	if len(a.Args) != 1 {
		return nil, errBadButton(a)
	}
	inc, _, err := h.svc.Take(ctx, req.Actor, a.Args[0])
	if err != nil {
		return nil, err
	}
	return h.done(inc, fmt.Sprintf(h.t("%s is now handled by %s.", "%s 现由 %s 负责。"), inc.ID, h.name(req.Actor))), nil
}

// approveAction is the Approve button. The button sits on a request that
// other leaders see too, so the reply says who approved and carries the
// request card with its progress, for platforms that update it in place.
func (h *Handlers) approveAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	id, v, err := versionArgs(a)
	if err != nil {
		return nil, err
	}
	inc, _, err := h.svc.Approve(ctx, req.Actor, id, v, "")
	if err != nil {
		return nil, err
	}
	d := inc.CurrentDraft()
	return &bot.Reply{
		Text: fmt.Sprintf(h.t("%s approved version %d of %s: %s.", "%[1]s 已批准 %[3]s 第 %[2]d 版:%[4]s。"),
			h.name(req.Actor), d.Version, inc.ID, h.approvalProgress(inc, d)),
		Card: h.draftCard(inc, d.Version, false),
	}, nil
}

// rejectAction needs a reason, which a button cannot carry: it checks that
// the version on the button can still be rejected and says how to give the
// reason; nothing changes. The rejection itself (and every rule of it) is
// the reject command's.
func (h *Handlers) rejectAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	id, v, err := versionArgs(a)
	if err != nil {
		return nil, err
	}
	inc, err := h.svc.CheckDecision(ctx, req.Actor, id, v)
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Text: fmt.Sprintf(h.t("To reject version %[1]d of %[2]s, say why: /incident reject %[2]s v%[1]d <reason>",
		"驳回 %[2]s 第 %[1]d 版需说明理由:/incident 驳回 %[2]s v%[1]d <理由>"), v, inc.ID)}, nil
}

func (h *Handlers) publishAction(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
	id, v, err := versionArgs(a)
	if err != nil {
		return nil, err
	}
	return h.doPublish(ctx, req, id, v)
}

// done is the reply to a transition: a line and the incident's card.
func (h *Handlers) done(inc *workflow.Incident, text string) *bot.Reply {
	return &bot.Reply{Text: text, Card: h.card(inc)}
}

func (h *Handlers) need1(args bot.Args) (string, error) {
	if args.Len() < 1 {
		return "", workflow.Errorf(workflow.CodeInvalid, "which incident? Give its ID, e.g. YQ-7", "请给出事件编号,例如 YQ-7")
	}
	return args.Arg(0), nil
}

func (h *Handlers) need2(args bot.Args, en, zh string) (string, string, error) {
	if args.Len() < 2 {
		return "", "", &workflow.Error{Code: workflow.CodeInvalid, Msg: tx{EN: en, ZH: zh}}
	}
	if args.Len() > 2 {
		return "", "", workflow.Errorf(workflow.CodeInvalid, "too many words after %s", "%s 之后的内容过多", args.Arg(0))
	}
	return args.Arg(0), args.Arg(1), nil
}

func versionArgs(a bot.Action) (string, int, error) {
	if len(a.Args) != 2 {
		return "", 0, errBadButton(a)
	}
	v, err := strconv.Atoi(a.Args[1])
	if err != nil || v < 1 {
		return "", 0, errBadButton(a)
	}
	return a.Args[0], v, nil
}

func errBadButton(a bot.Action) error {
	return workflow.Errorf(workflow.CodeInvalid, "this button (%s) is malformed; nothing was changed", "按钮(%s)格式错误,未做任何更改", a.ID())
}
