package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// The pages speak English or Chinese: the configured locale (the roster's)
// unless the person chose the other with the language switch, which links
// to ?lang=zh-CN or ?lang=en and sets the lang cookie. labels is the one
// dictionary of every page: the templates read it through pageData.T, the
// scripts through FB.t, from the same map embedded in the page as JSON. A
// label may hold {0}, {1}, ... for the values the script fills in.

// LangCookie is the cookie that keeps the language a person chose.
const LangCookie = "lang"

// langTTL is how long the choice of language lasts.
const langTTL = 365 * 24 * time.Hour

var labels = map[string]workflow.Text{
	// Header, switch and pages shared by all.
	"top.playground":  {EN: "playground", ZH: "演练场"},
	"top.board":       {EN: "incident board", ZH: "舆情看板"},
	"nav.playground":  {EN: "Playground", ZH: "演练场"},
	"nav.board":       {EN: "Board", ZH: "看板"},
	"live.title":      {EN: "live updates", ZH: "实时更新"},
	"live.connecting": {EN: "● connecting", ZH: "● 连接中"},
	"live.on":         {EN: "● live", ZH: "● 实时"},
	"live.off":        {EN: "● reconnecting", ZH: "● 重新连接中"},
	"clock.title":     {EN: "the bot's clock", ZH: "机器人的时钟"},
	"clock.still":     {EN: "time stands still (test clock)", ZH: "时间静止(测试时钟)"},
	"clock.real":      {EN: "real time", ZH: "实时时间"},
	"clock.demo":      {EN: "demo time: {0}×", ZH: "演示时间:{0}×"},
	"lang.title":      {EN: "Language", ZH: "语言"},
	"logout":          {EN: "Log out", ZH: "退出登录"},
	"loading":         {EN: "Loading…", ZH: "加载中…"},

	// Titles and messages of the server's pages.
	"title.playground":    {EN: "Firebreak playground", ZH: "Firebreak 演练场"},
	"title.board":         {EN: "Firebreak board", ZH: "Firebreak 看板"},
	"title.login":         {EN: "Log in to the board", ZH: "登录看板"},
	"title.not_found":     {EN: "Not found", ZH: "页面不存在"},
	"msg.not_found":       {EN: "There is no page at {0}.", ZH: "{0} 没有页面。"},
	"title.no_incident":   {EN: "No such incident", ZH: "没有这个事件"},
	"msg.no_incident":     {EN: "There is no incident {0}.", ZH: "没有事件 {0}。"},
	"title.incident_fail": {EN: "The incident cannot be shown", ZH: "无法显示该事件"},
	"title.board_off":     {EN: "The board is off", ZH: "看板未开启"},
	"msg.board_off": {EN: "A chat platform is configured, so the playground is off, and FIREBREAK_BOARD_TOKEN is not set, " +
		"so the board is off too. Set FIREBREAK_BOARD_TOKEN to a long random secret and restart Firebreak to turn the board on.",
		ZH: "已配置聊天平台,因此演练场关闭;又未设置 FIREBREAK_BOARD_TOKEN,因此看板也关闭。" +
			"请把 FIREBREAK_BOARD_TOKEN 设为一个足够长的随机密钥并重启 Firebreak 以开启看板。"},
	"msg.unavailable":    {EN: "storage unavailable; try again in a moment", ZH: "存储暂不可用,请稍后再试"},
	"msg.internal":       {EN: "internal error, reference {0}", ZH: "内部错误,参考编号 {0}"},
	"msg.go_board":       {EN: "Go to the board", ZH: "前往看板"},
	"msg.go_playground":  {EN: "Go to the playground", ZH: "前往演练场"},
	"login.intro":        {EN: "The board shows every open incident. Enter the board token ({0}) that the administrator set.", ZH: "看板显示所有未办结的事件。请输入管理员设置的看板令牌({0})。"},
	"login.token":        {EN: "Board token", ZH: "看板令牌"},
	"login.submit":       {EN: "Log in", ZH: "登录"},
	"login.wrong":        {EN: "That token is not right.", ZH: "令牌不正确。"},
	"login.unreadable":   {EN: "The form could not be read; try again.", ZH: "无法读取表单,请重试。"},
	"login.too_large":    {EN: "The form is too large (at most 8 KiB); nothing was checked.", ZH: "表单过大(最多 8 KiB),未做校验。"},
	"api.unauthorized":   {EN: "log in at /login or send Authorization: Bearer <FIREBREAK_BOARD_TOKEN>", ZH: "请在 /login 登录,或发送 Authorization: Bearer <FIREBREAK_BOARD_TOKEN>"},
	"api.request_failed": {EN: "The request failed: {0}", ZH: "请求失败:{0}"},

	// Durations and countdowns.
	"span.dh":          {EN: "{0}d {1}h", ZH: "{0}天{1}小时"},
	"span.hm":          {EN: "{0}h {1}m", ZH: "{0}小时{1}分"},
	"span.ms":          {EN: "{0}m {1}s", ZH: "{0}分{1}秒"},
	"span.s":           {EN: "{0}s", ZH: "{0}秒"},
	"countdown.met":    {EN: "met {0}", ZH: "已完成 {0}"},
	"countdown.late":   {EN: "met late {0}", ZH: "超时完成 {0}"},
	"countdown.unmet":  {EN: "not met", ZH: "未完成"},
	"countdown.over":   {EN: "overdue {0}", ZH: "已超时 {0}"},
	"countdown.title":  {EN: "{0}: due {1}", ZH: "{0}:时限 {1}"},
	"deadline.due":     {EN: "due {0}", ZH: "时限 {0}"},
	"deadline.next":    {EN: "next:", ZH: "下一时限:"},
	"deadline.heading": {EN: "Deadlines", ZH: "时限"},

	// The board.
	"board.open":          {EN: "Open incidents", ZH: "未办结事件"},
	"board.none":          {EN: "No open incident.", ZH: "没有未办结的事件。"},
	"board.failed":        {EN: "The board could not be loaded: {0}", ZH: "看板加载失败:{0}"},
	"board.spreading":     {EN: "spreading", ZH: "有扩散迹象"},
	"board.no_department": {EN: "no department", ZH: "未定部门"},
	"board.nobody":        {EN: "nobody assigned", ZH: "未指派"},
	"board.full":          {EN: "full board ↗", ZH: "完整看板 ↗"},
	"board.stats":         {EN: "Statistics by period →", ZH: "按时段统计 →"},
	"draft.line":          {EN: "Draft v{0} #{1}: {2}", ZH: "口径 v{0} #{1}:{2}"},
	"draft.published":     {EN: "published", ZH: "已发布"},
	"draft.rejected":      {EN: "rejected", ZH: "已驳回"},
	"draft.ready":         {EN: "approved, ready to publish", ZH: "已批准,可以发布"},
	"draft.progress":      {EN: "{0} of {1} approvals", ZH: "已批准 {0}/{1}"},
	"chart.open":          {EN: "Open incidents by level", ZH: "各级别未办结事件"},
	"chart.open_title":    {EN: "Open incidents by level over time", ZH: "各级别未办结事件随时间变化"},
	"chart.open_now":      {EN: "{0} ({1} now)", ZH: "{0}(当前 {1})"},
	"chart.deadlines":     {EN: "Deadlines met and missed, last 30 days", ZH: "近 30 天时限完成与超时"},
	"chart.dl_title":      {EN: "Deadlines met and missed per kind, last 30 days", ZH: "近 30 天各类时限完成与超时"},
	"chart.met":           {EN: "met", ZH: "按时"},
	"chart.missed":        {EN: "missed", ZH: "超时"},
	"chart.bar":           {EN: "{0}: {1} {2}", ZH: "{0}:{2} {1}"},
	"chart.pending":       {EN: "{0} pending", ZH: "{0} 个待完成"},
	"chart.failed":        {EN: "Charts unavailable: {0}", ZH: "图表不可用:{0}"},

	// The incident page.
	"incident.back":          {EN: "← all open incidents", ZH: "← 所有未办结事件"},
	"incident.facts":         {EN: "Incident", ZH: "事件"},
	"incident.drafts":        {EN: "Unified reply: drafts", ZH: "统一口径:草稿"},
	"incident.statements":    {EN: "Published statements", ZH: "已发布口径"},
	"incident.timeline":      {EN: "Timeline", ZH: "处置记录"},
	"incident.no_draft":      {EN: "No draft yet.", ZH: "尚无草稿。"},
	"incident.no_statement":  {EN: "Nothing published yet.", ZH: "尚未发布。"},
	"incident.no_event":      {EN: "Nothing recorded yet.", ZH: "尚无记录。"},
	"incident.failed":        {EN: "The incident could not be loaded: {0}", ZH: "事件加载失败:{0}"},
	"fact.status":            {EN: "Status", ZH: "状态"},
	"fact.spreading":         {EN: "{0} (spreading)", ZH: "{0}(有扩散迹象)"},
	"fact.category":          {EN: "Category", ZH: "类别"},
	"fact.department":        {EN: "Department", ZH: "部门"},
	"fact.assignee":          {EN: "Assignee", ZH: "负责人"},
	"fact.none":              {EN: "none", ZH: "无"},
	"fact.nobody":            {EN: "nobody", ZH: "无"},
	"fact.found":             {EN: "Found", ZH: "发现时间"},
	"fact.opened":            {EN: "Opened", ZH: "新建"},
	"fact.source":            {EN: "Source", ZH: "来源"},
	"fact.acked":             {EN: "Acknowledged", ZH: "接办"},
	"fact.updates":           {EN: "Follow-up reports", ZH: "续报"},
	"fact.referred":          {EN: "Referred", ZH: "已移交"},
	"fact.resolved":          {EN: "Resolved", ZH: "办结"},
	"fact.at_by":             {EN: "{0} by {1}", ZH: "{0},{1}"},
	"fact.at_what":           {EN: "{0}: {1}", ZH: "{0}:{1}"},
	"draft.version":          {EN: "Version {0}", ZH: "第 {0} 版"},
	"draft.current":          {EN: "current", ZH: "当前"},
	"draft.replaced":         {EN: "replaced", ZH: "已被替换"},
	"draft.by":               {EN: "by {0}, {1}", ZH: "{0} 起草,{1}"},
	"draft.approved_at":      {EN: "approved {0}", ZH: "批准于 {0}"},
	"draft.rejected_at":      {EN: "rejected {0}", ZH: "驳回于 {0}"},
	"draft.principal":        {EN: "principal", ZH: "主要领导"},
	"draft.undecided":        {EN: "No decision yet.", ZH: "尚无审批。"},
	"statement.by":           {EN: "published by {0}, {1}", ZH: "{0} 发布,{1}"},
	"statement.org":          {EN: "in the name of {0}", ZH: "以{0}的名义"},
	"statement.spokesperson": {EN: "as the spokesperson", ZH: "以新闻发言人的名义"},
	"fact.spread":            {EN: "Signs of spreading", ZH: "扩散迹象"},

	// The incident page: the reports to the leaders and up.
	"incident.reports":       {EN: "Reports", ZH: "报告"},
	"report.leaders":         {EN: "To the leaders", ZH: "向领导小组报告"},
	"report.sent":            {EN: "Reported {0}", ZH: "报告于 {0}"},
	"report.not_sent":        {EN: "Not reported to the leaders.", ZH: "尚未向领导小组报告。"},
	"report.received_at":     {EN: "acknowledged {0}", ZH: "签收于 {0}"},
	"report.nobody":          {EN: "Nobody has acknowledged the report yet.", ZH: "尚无领导签收报告。"},
	"report.double":          {EN: "Double report complete", ZH: "双重报告已完成"},
	"report.await_principal": {EN: "Awaiting a principal leader: {0}", ZH: "待主要领导签收:{0}"},
	"report.await_leader":    {EN: "Awaiting the leader in charge: {0}", ZH: "待分管领导签收:{0}"},
	"report.authority":       {EN: "To the higher authority", ZH: "向上级报告"},
	"report.up_at":           {EN: "Reported to higher authority at {0}", ZH: "已于 {0} 报告上级"},
	"report.up_pending":      {EN: "Not yet reported to the higher authority.", ZH: "尚未报告上级。"},
	"report.up_none":         {EN: "Not required at this level.", ZH: "该级别无需报告上级。"},

	// The incident page: the attention figures and their chart.
	"incident.figures":    {EN: "Attention figures", ZH: "关注度"},
	"incident.no_figures": {EN: "No attention figures recorded yet — add them with {0}", ZH: "尚未记录关注度指标——可用 {0} 添加"},
	"figures.command":     {EN: "/incident update {0} posts:N views:N heat:N", ZH: "/incident 续报 {0} 跟帖:N 浏览:N 热度:N"},
	"chart.figures_title": {EN: "Attention figures over time", ZH: "关注度指标随时间变化"},
	"chart.figure_legend": {EN: "{0} (max {1})", ZH: "{0}(最高 {1})"},
	"chart.figure_latest": {EN: "{0} {1}", ZH: "{0} {1}"},
	"chart.figure_point":  {EN: "{0} {1} at {2}", ZH: "{2} {0} {1}"},
	"chart.figures_scale": {EN: "Each line is scaled to its own maximum.", ZH: "每条曲线按各自的最大值缩放。"},
	"event.fallback":      {EN: "{0}: {1}", ZH: "{0}:{1}"},

	// The playground.
	"pg.you_are":         {EN: "You are", ZH: "您是"},
	"pg.press_as":        {EN: "Press as", ZH: "操作人"},
	"pg.leaders":         {EN: "Leaders chat", ZH: "领导小组群"},
	"pg.leaders_note":    {EN: "Approval requests arrive here with Approve and Reject buttons.", ZH: "审批请求会带着“批准”和“驳回”按钮发到这里。"},
	"pg.incidents":       {EN: "# incidents", ZH: "# 事件通报"},
	"pg.incidents_hint":  {EN: "cards, reminders, escalations", ZH: "事件卡片、提醒、升级"},
	"pg.statements":      {EN: "# statements", ZH: "# 口径发布"},
	"pg.statements_hint": {EN: "published unified replies", ZH: "已发布的统一口径"},
	"pg.dm_of":           {EN: "Direct messages of", ZH: "私信:"},
	"pg.open":            {EN: "Open incidents", ZH: "未办结事件"},
	"pg.send":            {EN: "Send", ZH: "发送"},
	"pg.note": {EN: "Type a command below as the person you picked, e.g. {0}, then {1}. {2} lists them all.",
		ZH: "以所选人员的身份在下方输入命令,例如 {0},然后 {1}。{2} 列出全部命令。"},
	"pg.example_open":   {EN: "/incident open Canteen complaint level:major category:inquiry", ZH: "/incident 新建 食堂投诉 级别:重大 类别:询问"},
	"pg.example_draft":  {EN: "/incident draft YQ-1 …", ZH: "/incident 口径 YQ-1 …"},
	"pg.example_help":   {EN: "/incident help", ZH: "/incident 帮助"},
	"pg.only_you":       {EN: "Only visible to you", ZH: "仅您可见"},
	"pg.no_dm":          {EN: "No direct message to {0} yet.", ZH: "{0} 尚无私信。"},
	"pg.start_failed":   {EN: "The playground could not start: {0}", ZH: "演练场无法启动:{0}"},
	"pg.person":         {EN: "{0} ({1})", ZH: "{0}({1})"},
	"pg.person_roles":   {EN: "{0} ({1}, {2})", ZH: "{0}({1},{2})"},
	"pg.dm_count":       {EN: "{0} · {1}", ZH: "{0} · {1}"},
	"pg.list_sep":       {EN: ", ", ZH: "、"},
	"pg.answer_by":      {EN: "{0}: ", ZH: "{0}:"},
	"role.staff":        {EN: "staff", ZH: "工作人员"},
	"role.leader":       {EN: "leader", ZH: "领导小组"},
	"role.principal":    {EN: "principal", ZH: "主要领导"},
	"role.spokesperson": {EN: "spokesperson", ZH: "新闻发言人"},

	// Monitoring intake: the board's triage lane and the playground's pane.
	"triage.heading":       {EN: "Waiting for judgement", ZH: "待研判"},
	"triage.note":          {EN: "Found by monitoring; open or dismiss each in the chat: {0}, {1}", ZH: "监测发现的条目;请在聊天中逐条研判:{0}、{1}"},
	"triage.more":          {EN: "and {0} more: intake list page:2", ZH: "另有 {0} 条:intake list page:2"},
	"triage.rule":          {EN: "rule {0}: {1}", ZH: "规则 {0}:{1}"},
	"triage.no_rule":       {EN: "no rule matched", ZH: "未匹配规则"},
	"triage.auto":          {EN: "opens at once", ZH: "自动立案"},
	"triage.found":         {EN: "found {0}", ZH: "发现于 {0}"},
	"triage.waiting":       {EN: "waiting since {0}", ZH: "{0} 起待研判"},
	"triage.deadline":      {EN: "judge within", ZH: "研判时限"},
	"triage.figure":        {EN: "{0} {1}", ZH: "{0} {1}"},
	"triage.deliveries":    {EN: "reported {0} times", ZH: "推送 {0} 次"},
	"triage.failed":        {EN: "The items waiting for judgement could not be loaded: {0}", ZH: "待研判条目加载失败:{0}"},
	"pg.intake":            {EN: "Monitoring intake", ZH: "舆情监测接入"},
	"pg.intake_hint":       {EN: "an alert as a monitoring platform sends it", ZH: "监测平台推送的预警"},
	"pg.intake_where":      {EN: "as POST /intake takes it, with no token", ZH: "与正式接入相同,无需令牌"},
	"pg.intake_body":       {EN: "The monitoring alert, as JSON", ZH: "监测预警(JSON)"},
	"pg.intake_send":       {EN: "Send to intake", ZH: "推送"},
	"pg.samples":           {EN: "Samples:", ZH: "示例:"},
	"pg.sample_casualties": {EN: "Injuries (opens at once)", ZH: "伤亡(立即立案)"},
	"pg.sample_canteen":    {EN: "Canteen (waits for judgement)", ZH: "食堂(待研判)"},
	"pg.sample_rumor":      {EN: "Rumour", ZH: "谣言"},
	"pg.intake_sending":    {EN: "Sending…", ZH: "推送中…"},
	"pg.intake_answer":     {EN: "HTTP {0}", ZH: "HTTP {0}"},
	"pg.intake_arrives":    {EN: "The triage card arrives in # incidents.", ZH: "研判卡片将发到 # 事件通报。"},
	"pg.intake_opened":     {EN: "A rule opened it at once: see # incidents and the leaders chat.", ZH: "已按规则立即立案:见 # 事件通报和领导小组群。"},

	// The statistics page (/stats).
	"title.stats":            {EN: "Firebreak statistics", ZH: "Firebreak 统计"},
	"title.stats_bad":        {EN: "Not a period", ZH: "统计时段有误"},
	"title.stats_fail":       {EN: "The statistics cannot be shown", ZH: "无法显示统计"},
	"stats.bad_period":       {EN: "{0}. Periods: ?period={1}", ZH: "{0}。时段写法:?period={1}"},
	"stats.heading":          {EN: "Statistics", ZH: "统计"},
	"stats.period":           {EN: "Period", ZH: "时段"},
	"stats.show":             {EN: "Show", ZH: "显示"},
	"stats.note":             {EN: "incidents found in the period, open and resolved; as of {0}", ZH: "期间发现的事件(含未办结与已办结);截至 {0}"},
	"stats.incidents":        {EN: "Incidents", ZH: "事件"},
	"stats.open":             {EN: "Still open", ZH: "未办结"},
	"stats.escalated":        {EN: "Escalated to major by rule", ZH: "按规定升级为重大"},
	"stats.referred":         {EN: "Referred to law enforcement", ZH: "移交执纪执法部门"},
	"stats.reply":            {EN: "Discovery to published reply", ZH: "发现至发布口径"},
	"stats.reply_median":     {EN: "median {0} ({1} published)", ZH: "中位数 {0}(已发布 {1} 件)"},
	"stats.reply_none":       {EN: "no reply published", ZH: "尚未发布口径"},
	"stats.sources":          {EN: "Busiest sources", ZH: "主要来源"},
	"stats.unassigned":       {EN: "not assigned", ZH: "未分派"},
	"stats.chart_level":      {EN: "Incidents by level", ZH: "按级别"},
	"stats.chart_category":   {EN: "Incidents by category", ZH: "按类别"},
	"stats.chart_department": {EN: "Incidents by department", ZH: "按部门"},
	"stats.chart_share":      {EN: "Deadlines met on time (share of those due)", ZH: "时限按时完成率(已到期者)"},
	"stats.empty":            {EN: "No incidents in this period.", ZH: "该时段没有事件。"},
	"stats.deadlines":        {EN: "Deadlines", ZH: "时限"},
	"stats.kind":             {EN: "Deadline", ZH: "时限"},
	"stats.share":            {EN: "On time", ZH: "按时率"},
	"stats.running":          {EN: "Running", ZH: "进行中"},
	"stats.late_median":      {EN: "Late by, median", ZH: "超时中位数"},
	"stats.late_p90":         {EN: "Late by, p90", ZH: "超时 P90"},
	"stats.meet_median":      {EN: "Time to meet, median", ZH: "完成用时中位数"},
	"stats.meet_p90":         {EN: "Time to meet, p90", ZH: "完成用时 P90"},
	"stats.span_m":           {EN: "{0}m", ZH: "{0}分"},
}

// localeOf is the language a request is served in: its ?lang= (en or
// zh-CN), else the lang cookie, else the configured locale.
func (s *Server) localeOf(r *http.Request) string {
	if l, ok := knownLocale(r.URL.Query().Get("lang")); ok {
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil {
		if l, ok := knownLocale(c.Value); ok {
			return l
		}
	}
	return s.cfg.Locale
}

func knownLocale(l string) (string, bool) {
	switch strings.ToLower(l) {
	case "en":
		return workflow.LocaleEN, true
	case "zh-cn", "zh":
		return workflow.LocaleZH, true
	}
	return "", false
}

// keepLocale sets the lang cookie when a page was asked for with ?lang=, so
// the next pages (and their API calls) speak it too.
func keepLocale(w http.ResponseWriter, r *http.Request) {
	l, ok := knownLocale(r.URL.Query().Get("lang"))
	if !ok {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: l, Path: "/", MaxAge: int(langTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
}

// label is the dictionary's text for key in locale, with {0}, {1}, ...
// replaced by args; a missing key shows as itself, so it is seen and fixed.
func label(locale, key string, args ...any) string {
	t, ok := labels[key]
	if !ok {
		return key
	}
	s := t.In(locale)
	for i, a := range args {
		s = strings.ReplaceAll(s, fmt.Sprintf("{%d}", i), fmt.Sprint(a))
	}
	return s
}

// dictionary is every label in locale, for the page's scripts.
func dictionary(locale string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, t := range labels {
		out[k] = t.In(locale)
	}
	return out
}

// langLink is one entry of the language switch.
type langLink struct {
	Label   string
	Lang    string
	URL     string
	Current bool
}

// langLinks is the language switch of a page at u: the same page with
// ?lang= of each locale, in its own language.
func langLinks(u *url.URL, current string) []langLink {
	out := []langLink{{Label: "中文", Lang: workflow.LocaleZH}, {Label: "English", Lang: workflow.LocaleEN}}
	for i := range out {
		q := u.Query()
		q.Set("lang", out[i].Lang)
		out[i].URL = (&url.URL{Path: u.Path, RawQuery: q.Encode()}).String()
		out[i].Current = out[i].Lang == current
	}
	return out
}
