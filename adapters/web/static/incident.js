// Firebreak web: one incident — its facts, deadlines, the reports to the
// leaders and up, the chart of its attention figures, every draft with its
// version, hash and approvals, the published statements and the full
// timeline. Live: it refetches when the event stream says "changed".
"use strict";

(function () {
  var el = FB.el, svg = FB.svg, t = FB.t;
  var id = document.body.dataset.incident;

  function fact(dl, label, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", { text: label }));
    dl.appendChild(el("dd", { text: String(value) }));
  }

  function when(t) { return t ? FB.fmtTime(t, true) : ""; }

  function renderFacts(inc) {
    document.title = inc.id + " " + inc.title + " · Firebreak";
    var h1 = document.getElementById("incident-title");
    FB.clear(h1);
    h1.appendChild(el("span", { class: "id", text: inc.id }));
    h1.appendChild(document.createTextNode(" "));
    h1.appendChild(FB.levelBadge(inc.level, inc.level_name));
    h1.appendChild(document.createTextNode(" "));
    h1.appendChild(el("span", { class: "title", text: inc.title }));

    var dl = document.getElementById("facts");
    FB.clear(dl);
    fact(dl, t("fact.status"), inc.spreading ? t("fact.spreading", inc.status_name) : inc.status_name);
    fact(dl, t("fact.category"), inc.category_name);
    fact(dl, t("fact.department"), inc.department_name || t("fact.none"));
    fact(dl, t("fact.assignee"), inc.assignee_name || t("fact.nobody"));
    fact(dl, t("fact.found"), when(inc.found_at));
    fact(dl, t("fact.opened"), t("fact.at_by", when(inc.opened_at), inc.opened_by_name));
    fact(dl, t("fact.source"), inc.source);
    if (inc.acked_at) fact(dl, t("fact.acked"), t("fact.at_by", when(inc.acked_at), inc.acked_by_name || inc.acked_by));
    fact(dl, t("fact.updates"), inc.updates);
    if (inc.spread_at) fact(dl, t("fact.spread"), when(inc.spread_at));
    if (inc.referred_at) fact(dl, t("fact.referred"), t("fact.at_what", when(inc.referred_at), inc.referral));
    if (inc.resolved_at) fact(dl, t("fact.resolved"), t("fact.at_what", when(inc.resolved_at), inc.summary));

    var ul = document.getElementById("deadlines");
    FB.clear(ul);
    inc.deadlines.forEach(function (d) {
      ul.appendChild(el("li", { data: { kind: d.kind } }, FB.deadline(d, inc.open),
        el("span", { class: "due", text: t("deadline.due", when(d.due)) })));
    });
  }

  // renderReports shows the report to the leaders — who acknowledged it
  // and when, the principal marked, and whether the double report is
  // complete or whose acknowledgement it awaits — and the report to the
  // higher authority.
  function renderReports(inc) {
    var box = document.getElementById("reports");
    FB.clear(box);
    var leaders = el("div", { class: "report report-leaders" }, el("h3", { text: t("report.leaders") }));
    if (!inc.reported_at) {
      leaders.appendChild(el("p", { class: "empty", text: t("report.not_sent") }));
    } else {
      leaders.appendChild(el("p", { class: "sent", text: t("report.sent", when(inc.reported_at)) }));
      var ul = el("ul", { class: "receipts" });
      inc.receipts.forEach(function (r) {
        ul.appendChild(el("li", { class: "receipt", data: { by: r.by, principal: r.principal ? "1" : "" } },
          el("strong", { text: r.by_name }), r.principal ? el("span", { class: "principal", text: t("draft.principal") }) : null,
          " " + t("report.received_at", when(r.at))));
      });
      if (!inc.receipts.length) ul.appendChild(el("li", { class: "empty", text: t("report.nobody") }));
      leaders.appendChild(ul);
      if (inc.double_reported) {
        leaders.appendChild(el("p", { class: "double done", text: t("report.double") }));
      }
      inc.awaiting.forEach(function (a) {
        var names = a.names.length ? a.names.join(t("pg.list_sep")) : t("fact.nobody");
        var text = a.role === "leader" ? t("report.await_leader", names) : t("report.await_principal", names);
        leaders.appendChild(el("p", { class: "double awaiting", data: { role: a.role }, text: text }));
      });
    }
    box.appendChild(leaders);

    var up = el("div", { class: "report report-authority" }, el("h3", { text: t("report.authority") }));
    var due = inc.deadlines.some(function (d) { return d.kind === "authority"; });
    if (inc.reported_up_at) up.appendChild(el("p", { class: "up done", text: t("report.up_at", when(inc.reported_up_at)) }));
    else up.appendChild(el("p", { class: due ? "up pending" : "up empty", text: due ? t("report.up_pending") : t("report.up_none") }));
    box.appendChild(up);
  }

  // The attention figures, drawn in the style of the board's charts: one
  // line per figure given, each scaled to its own maximum (views run to
  // thousands where heat stays under a hundred), its latest value at the
  // right, the time along the bottom in the roster's timezone.
  var FW = 560, FH = 230, FM = { l: 14, r: 110, t: 14, b: 50 };

  function num(v) { return Number(v).toLocaleString(FB.locale() === "zh-CN" ? "zh-CN" : "en-GB"); }

  function renderFigures(inc) {
    var box = document.getElementById("figures");
    FB.clear(box);
    if (!inc.figures.length || !inc.figure_kinds.length) {
      var parts = t("incident.no_figures").split("{0}");
      box.appendChild(el("p", { class: "empty" }, parts[0], el("code", { text: t("figures.command", inc.id) }), parts[1] || ""));
      return;
    }
    var title = t("chart.figures_title");
    var root = svg("svg", { viewBox: "0 0 " + FW + " " + FH, class: "chart-svg figures-chart", role: "img", "aria-label": title },
      svg("title", { text: title }));
    var times = inc.figures.map(function (f) { return Date.parse(f.at); });
    var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    var x = function (at) { return t1 > t0 ? FM.l + (at - t0) / (t1 - t0) * (FW - FM.l - FM.r) : (FM.l + FW - FM.r) / 2; };
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var gy = FH - FM.b - f * (FH - FM.t - FM.b);
      root.appendChild(svg("line", { x1: FM.l, x2: FW - FM.r, y1: gy, y2: gy, class: "grid" }));
    });

    var ends = [];
    inc.figure_kinds.forEach(function (k) {
      var top = Math.max(1, k.max);
      var y = function (v) { return FH - FM.b - v / top * (FH - FM.t - FM.b); };
      var pts = inc.figures.filter(function (f) { return f[k.kind] !== undefined && f[k.kind] !== null; });
      var d = pts.map(function (f, i) { return (i ? "L" : "M") + x(Date.parse(f.at)).toFixed(1) + "," + y(f[k.kind]).toFixed(1); }).join(" ");
      var g = svg("g", { class: "figure-series", data: { kind: k.kind } },
        svg("path", { d: d, class: "series series-" + k.kind, data: { kind: k.kind, points: pts.length } }));
      pts.forEach(function (f) {
        g.appendChild(svg("circle", { cx: x(Date.parse(f.at)).toFixed(1), cy: y(f[k.kind]).toFixed(1), r: 3, class: "dot dot-" + k.kind },
          svg("title", { text: t("chart.figure_point", k.name, num(f[k.kind]), when(f.at)) })));
      });
      root.appendChild(g);
      ends.push({ kind: k.kind, y: y(k.latest), text: t("chart.figure_latest", k.name, num(k.latest)), latest: k.latest });
    });

    // The latest values in the right margin, at their lines' heights,
    // pushed apart where lines end close together.
    ends.sort(function (a, b) { return a.y - b.y; });
    var prev = -Infinity;
    ends.forEach(function (e) {
      var ly = Math.max(e.y + 4, prev + 13, FM.t + 4);
      prev = ly;
      root.appendChild(svg("text", { x: FW - FM.r + 8, y: ly, class: "value latest latest-" + e.kind, data: { kind: e.kind, latest: e.latest }, text: e.text }));
    });

    var long = t1 - t0 > 36 * 3600 * 1000, ticks = t1 > t0 ? 4 : 0;
    for (var i = 0; i <= ticks; i++) {
      var at = ticks ? t0 + (t1 - t0) * i / ticks : t0;
      root.appendChild(svg("text", { x: x(at), y: FH - FM.b + 16, class: "tick",
        "text-anchor": !ticks ? "middle" : i === 0 ? "start" : i === ticks ? "end" : "middle", text: FB.fmtTime(at, long) }));
    }
    var lx = FM.l;
    inc.figure_kinds.forEach(function (k) {
      root.appendChild(svg("g", { class: "legend", data: { kind: k.kind, latest: k.latest, max: k.max } },
        svg("rect", { x: lx, y: FH - 18, width: 10, height: 10, class: "swatch dot-" + k.kind }),
        svg("text", { x: lx + 14, y: FH - 9, class: "legend-text", text: t("chart.figure_legend", k.name, num(k.max)) })));
      lx += 170;
    });
    box.appendChild(root);
    if (inc.figure_kinds.length > 1) box.appendChild(el("p", { class: "chart-note", text: t("chart.figures_scale") }));
  }

  // approvalLine is one decision; verb is the label key of its sentence.
  function approvalLine(a, verb) {
    return el("li", { class: "approval", data: { by: a.by } },
      el("strong", { text: a.by_name }), a.principal ? el("span", { class: "principal", text: t("draft.principal") }) : null,
      " " + t(verb, when(a.at)), a.note ? el("span", { class: "note", text: " — " + a.note }) : null);
  }

  function renderDrafts(inc) {
    var box = document.getElementById("drafts");
    FB.clear(box);
    if (!inc.drafts.length) { box.appendChild(el("p", { class: "empty", text: t("incident.no_draft") })); return; }
    inc.drafts.slice().reverse().forEach(function (d) {
      var state = d.published ? "published" : d.rejection ? "rejected" : d.version === inc.drafts.length ? "current" : "replaced";
      var stateName = t("draft." + state);
      var approvals = el("ul", { class: "approvals" });
      d.approvals.forEach(function (a) { approvals.appendChild(approvalLine(a, "draft.approved_at")); });
      if (d.rejection) approvals.appendChild(approvalLine(d.rejection, "draft.rejected_at"));
      if (!d.approvals.length && !d.rejection) approvals.appendChild(el("li", { class: "empty", text: t("draft.undecided") }));
      box.appendChild(el("article", { class: "draft draft-" + state, data: { version: d.version } },
        el("header", null,
          el("strong", { text: t("draft.version", d.version) }), " ",
          el("code", { class: "hash", text: "#" + d.hash }), " ",
          el("span", { class: "state", text: stateName }), " ",
          el("span", { class: "by", text: t("draft.by", d.author_name, when(d.at)) })),
        el("blockquote", { class: "draft-text", text: d.text }),
        approvals));
    });
  }

  function renderStatements(inc) {
    var box = document.getElementById("statements");
    FB.clear(box);
    if (!inc.statements.length) { box.appendChild(el("p", { class: "empty", text: t("incident.no_statement") })); return; }
    inc.statements.forEach(function (s) {
      var voice = [s.organisation ? t("statement.org", s.organisation) : "", s.spokesperson ? t("statement.spokesperson") : ""]
        .filter(Boolean).join(t("pg.list_sep"));
      box.appendChild(el("article", { class: "statement" },
        el("header", null, el("strong", { text: t("draft.version", s.draft_version) }), " ", el("code", { class: "hash", text: "#" + s.hash }),
          " ", el("span", { class: "by", text: t("statement.by", s.by_name, when(s.at)) }),
          voice ? el("span", { class: "voice", text: voice }) : null),
        el("blockquote", { text: s.text })));
    });
  }

  function renderTimeline(tl) {
    var ol = document.getElementById("timeline");
    FB.clear(ol);
    if (!tl.events.length) ol.appendChild(el("li", { class: "empty", text: t("incident.no_event") }));
    // Each event is the sentence the server wrote (the chat's own words),
    // as text: what people typed is data.
    tl.events.forEach(function (e) {
      ol.appendChild(el("li", { class: "event event-" + e.kind, data: { kind: e.kind, actor: e.actor || "" } },
        el("span", { class: "at", text: when(e.at) }),
        el("span", { class: "line", text: e.line })));
    });
  }

  function refresh() {
    var base = "/api/v1/incidents/" + encodeURIComponent(id);
    return Promise.all([FB.api(base), FB.api(base + "/timeline")]).then(function (r) {
      FB.syncClock(r[0]);
      renderFacts(r[0].incident);
      renderReports(r[0].incident);
      renderFigures(r[0].incident);
      renderDrafts(r[0].incident);
      renderStatements(r[0].incident);
      renderTimeline(r[1]);
      FB.tick();
    }).catch(function (err) {
      var box = document.getElementById("facts");
      FB.clear(box);
      box.appendChild(el("p", { class: "error", text: t("incident.failed", err.message) }));
    });
  }

  var refreshSoon = FB.debounce(refresh, 150);
  refresh();
  FB.startTicking();
  setInterval(refreshSoon, 30000);
  FB.events({
    changed: function (d) { if (!d.incident || d.incident === id) refreshSoon(); }
  });
})();
