// Firebreak web: the board — every open incident with live countdowns, and
// the charts. The full board page (/board) and the playground's side panel
// both use it; it refetches whenever the event stream says "changed".
"use strict";

FB.board = (function () {
  var el = FB.el, svg = FB.svg, t = FB.t;
  var state = { incidents: {}, listeners: [], loaded: false };

  function draftLine(d) {
    if (!d) return null;
    var state;
    if (d.published) state = t("draft.published");
    else if (d.rejected) state = t("draft.rejected");
    else if (d.quorum) state = t("draft.ready");
    else state = t("draft.progress", d.approvals, d.needed);
    return el("div", { class: "draft-line", text: t("draft.line", d.version, d.hash, state) });
  }

  // card renders one open incident: the same markup on the board and in the
  // playground's panel (smaller there, by CSS).
  function card(inc) {
    var meta = el("div", { class: "meta" },
      el("span", { class: "status status-" + inc.status, text: inc.status_name }),
      inc.spreading ? el("span", { class: "spreading", text: t("board.spreading") }) : null,
      el("span", { class: "department", text: inc.department_name || t("board.no_department") }),
      el("span", { class: "assignee", text: inc.assignee_name || t("board.nobody") }));
    var deadlines = el("div", { class: "deadlines" });
    inc.deadlines.forEach(function (d) { deadlines.appendChild(FB.deadline(d, inc.open)); });
    return el("article", { class: "incident level-" + inc.level, data: { incident: inc.id } },
      el("div", { class: "incident-head" },
        el("a", { class: "id", href: inc.url, text: inc.id }), " ",
        FB.levelBadge(inc.level, inc.level_name), " ",
        el("span", { class: "category", text: inc.category_name })),
      el("a", { class: "title", href: inc.url, text: inc.title }),
      meta, deadlines, draftLine(inc.draft));
  }

  function renderList(list) {
    var container = document.getElementById("board-list");
    if (!container) return;
    FB.clear(container);
    if (list.length === 0) container.appendChild(el("p", { class: "empty", text: t("board.none") }));
    list.forEach(function (inc) { container.appendChild(card(inc)); });
    var count = document.getElementById("open-count");
    if (count) count.textContent = String(list.length);
  }

  // The triage lane: the monitoring candidates waiting for a judgement,
  // where the page has one (the server leaves it out when the intake is
  // off); hidden while none waits.

  function candidateCard(c) {
    var sg = c.suggestion, figures = c.figures.map(function (f) { return t("triage.figure", f.name, f.value.toLocaleString()); });
    var title = /^https?:\/\//i.test(c.url || "")
      ? el("a", { class: "title", href: c.url, target: "_blank", rel: "noopener noreferrer", text: c.title })
      : el("span", { class: "title", text: c.title });
    var rule = sg.rule ? t("triage.rule", sg.rule, (sg.words || []).join(t("pg.list_sep"))) : t("triage.no_rule");
    return el("article", { class: "incident candidate level-" + sg.level, data: { candidate: c.id } },
      el("div", { class: "incident-head" },
        el("span", { class: "id", text: c.id }), " ",
        FB.levelBadge(sg.level, sg.level_name), " ",
        el("span", { class: "category", text: sg.category_name }), " ",
        el("span", { class: "source", text: c.source })),
      title,
      el("div", { class: "meta" },
        el("span", { class: "rule", text: rule }),
        sg.auto ? el("span", { class: "auto", text: t("triage.auto") }) : null,
        sg.department_name ? el("span", { class: "department", text: sg.department_name }) : null),
      figures.length || c.deliveries > 1 ? el("div", { class: "meta figures" },
        figures.length ? el("span", { class: "figures-latest", text: figures.join(" · ") }) : null,
        c.deliveries > 1 ? el("span", { class: "deliveries", text: t("triage.deliveries", c.deliveries) }) : null) : null,
      el("div", { class: "meta" },
        el("span", { class: "found", text: t("triage.found", FB.fmtDue(c.found_at)) }),
        el("span", { class: "waiting", text: t("triage.waiting", FB.fmtDue(c.received_at)) })),
      c.deadline ? el("div", { class: "deadlines" }, FB.deadline(c.deadline, true)) : null);
  }

  function renderTriage(data) {
    var lane = document.getElementById("triage"), list = document.getElementById("triage-list");
    if (!lane || !list) return;
    FB.clear(list);
    data.candidates.forEach(function (c) { list.appendChild(candidateCard(c)); });
    lane.hidden = data.total === 0;
    var count = document.getElementById("triage-count");
    if (count) count.textContent = String(data.total);
    var more = document.getElementById("triage-more");
    if (more) {
      more.hidden = !(data.more > 0);
      more.textContent = data.more > 0 ? t("triage.more", data.more) : "";
    }
  }

  function refreshTriage() {
    var lane = document.getElementById("triage");
    if (!lane) return Promise.resolve();
    return FB.api("/api/v1/candidates").then(function (data) {
      renderTriage(data);
      FB.tick();
    }).catch(function (err) {
      var list = document.getElementById("triage-list");
      if (!list) return;
      FB.clear(list);
      list.appendChild(el("p", { class: "error", text: t("triage.failed", err.message) }));
      lane.hidden = false;
    }).then(function () {
      document.body.dataset.triageRefreshed = String((Number(document.body.dataset.triageRefreshed) || 0) + 1);
    });
  }

  function refresh() {
    refreshTriage();
    return FB.api("/api/v1/incidents").then(function (data) {
      FB.syncClock(data);
      state.incidents = {};
      data.incidents.forEach(function (inc) { state.incidents[inc.id] = inc; });
      state.loaded = true;
      renderList(data.incidents);
      state.listeners.forEach(function (f) { f(state.incidents); });
      FB.tick();
      document.body.dataset.boardRefreshed = String((Number(document.body.dataset.boardRefreshed) || 0) + 1);
    }).catch(function (err) { showError(err); });
  }

  function showError(err) {
    var container = document.getElementById("board-list");
    if (!container) return;
    FB.clear(container);
    container.appendChild(el("p", { class: "error", text: t("board.failed", err.message) }));
  }

  // Charts, drawn as SVG.

  var LEVEL_COLORS = { general: "#5b7fb8", major: "#e07b24", critical: "#b3261e" };
  var W = 560, H = 250, M = { l: 40, r: 14, t: 14, b: 52 };

  function niceTop(v) {
    if (v <= 4) return Math.max(1, v);
    var step = Math.ceil(v / 4);
    return step * 4;
  }

  function yTicks(top) {
    var step = top <= 4 ? 1 : top / 4, out = [];
    for (var v = 0; v <= top + 1e-9; v += step) out.push(Math.round(v));
    return out;
  }

  function frame(title) {
    return svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", role: "img", "aria-label": title },
      svg("title", { text: title }));
  }

  function yAxis(root, top, y) {
    yTicks(top).forEach(function (v) {
      root.appendChild(svg("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" }));
      root.appendChild(svg("text", { x: M.l - 6, y: y(v) + 4, class: "tick", "text-anchor": "end", text: String(v) }));
    });
  }

  function drawOpen(container, st) {
    FB.clear(container);
    var pts = st.open_by_level || [];
    var root = frame(t("chart.open_title"));
    container.appendChild(root);
    if (pts.length < 2) return;
    var t0 = Date.parse(pts[0].t), t1 = Date.parse(pts[pts.length - 1].t);
    var totals = pts.map(function (p) { return p.counts.reduce(function (a, b) { return a + b; }, 0); });
    var top = niceTop(Math.max.apply(null, totals));
    var x = function (at) { return M.l + (at - t0) / Math.max(1, t1 - t0) * (W - M.l - M.r); };
    var y = function (v) { return H - M.b - v / top * (H - M.t - M.b); };
    yAxis(root, top, y);

    st.levels.forEach(function (level, k) {
      var upper = [], lower = [];
      for (var i = 0; i < pts.length; i++) {
        var below = 0;
        for (var j = 0; j < k; j++) below += pts[i].counts[j];
        var above = below + pts[i].counts[k];
        var xi = x(Date.parse(pts[i].t)), xn = i + 1 < pts.length ? x(Date.parse(pts[i + 1].t)) : xi;
        upper.push([xi, y(above)], [xn, y(above)]);
        lower.push([xi, y(below)], [xn, y(below)]);
      }
      var poly = upper.concat(lower.reverse()).map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" ");
      root.appendChild(svg("polygon", { points: poly, fill: LEVEL_COLORS[level] || "#888", class: "area", data: { level: level } },
        svg("title", { text: st.level_names[k] })));
    });

    var long = t1 - t0 > 36 * 3600 * 1000;
    for (var i = 0; i <= 4; i++) {
      var at = t0 + (t1 - t0) * i / 4;
      root.appendChild(svg("text", { x: x(at), y: H - M.b + 16, class: "tick", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle",
        text: FB.fmtTime(at, long) }));
    }
    var last = pts[pts.length - 1].counts, lx = M.l;
    st.levels.forEach(function (level, k) {
      var g = svg("g", { class: "legend", data: { level: level, count: last[k] } },
        svg("rect", { x: lx, y: H - 18, width: 10, height: 10, fill: LEVEL_COLORS[level] || "#888" }),
        svg("text", { x: lx + 14, y: H - 9, class: "legend-text", text: t("chart.open_now", st.level_names[k], last[k]) }));
      root.appendChild(g);
      lx += 150;
    });
  }

  // twoLines splits a label at the space nearest its middle.
  function twoLines(s) {
    if (s.length <= 14 || s.indexOf(" ") < 0) return [s];
    var mid = s.length / 2, best = -1;
    for (var i = 0; i < s.length; i++) if (s[i] === " " && (best < 0 || Math.abs(i - mid) < Math.abs(best - mid))) best = i;
    return [s.slice(0, best), s.slice(best + 1)];
  }

  function drawDeadlines(container, st) {
    FB.clear(container);
    var rows = st.deadlines || [];
    var root = frame(t("chart.dl_title"));
    container.appendChild(root);
    if (rows.length === 0) return;
    var top = niceTop(Math.max.apply(null, rows.map(function (r) { return Math.max(r.met, r.missed); })));
    var y = function (v) { return H - M.b - v / top * (H - M.t - M.b); };
    yAxis(root, top, y);
    var gw = (W - M.l - M.r) / rows.length, bw = Math.min(34, gw * 0.3);
    rows.forEach(function (r, i) {
      var cx = M.l + gw * (i + 0.5);
      [["met", r.met, "bar-met", cx - bw - 2], ["missed", r.missed, "bar-missed", cx + 2]].forEach(function (b) {
        var h = y(0) - y(b[1]);
        root.appendChild(svg("rect", { x: b[3], y: y(b[1]), width: bw, height: Math.max(h, 0), class: "bar " + b[2],
          data: { kind: r.kind, series: b[0], value: b[1] } }, svg("title", { text: t("chart.bar", r.name, b[1], t("chart." + b[0])) })));
        root.appendChild(svg("text", { x: b[3] + bw / 2, y: y(b[1]) - 4, class: "value", "text-anchor": "middle", text: String(b[1]) }));
      });
      var label = svg("text", { x: cx, y: H - M.b + 15, class: "tick", "text-anchor": "middle" });
      twoLines(r.name).forEach(function (line, j) {
        label.appendChild(svg("tspan", { x: cx, dy: j === 0 ? 0 : 12, text: line }));
      });
      root.appendChild(label);
      if (r.pending > 0) {
        root.appendChild(svg("text", { x: cx, y: H - M.b + 42, class: "tick pending", "text-anchor": "middle", text: t("chart.pending", r.pending) }));
      }
    });
    root.appendChild(svg("rect", { x: W - M.r - 130, y: M.t - 2, width: 10, height: 10, class: "bar-met" }));
    root.appendChild(svg("text", { x: W - M.r - 116, y: M.t + 7, class: "legend-text", text: t("chart.met") }));
    root.appendChild(svg("rect", { x: W - M.r - 70, y: M.t - 2, width: 10, height: 10, class: "bar-missed" }));
    root.appendChild(svg("text", { x: W - M.r - 56, y: M.t + 7, class: "legend-text", text: t("chart.missed") }));
  }

  function refreshStats() {
    var open = document.getElementById("chart-open"), dl = document.getElementById("chart-deadlines");
    if (!open && !dl) return Promise.resolve();
    return FB.api("/api/v1/stats").then(function (st) {
      FB.syncClock(st);
      if (open) drawOpen(open, st);
      if (dl) drawDeadlines(dl, st);
    }).catch(function (err) {
      if (open) { FB.clear(open); open.appendChild(el("p", { class: "error", text: t("chart.failed", err.message) })); }
    });
  }

  var refreshSoon = FB.debounce(refresh, 150);
  var statsSoon = FB.debounce(refreshStats, 600);

  function changed() { refreshSoon(); statsSoon(); }

  function onUpdate(f) { state.listeners.push(f); if (state.loaded) f(state.incidents); }

  function start() {
    refresh();
    refreshStats();
    FB.startTicking();
    // Event streams of other replicas' deliveries do not reach this one:
    // refetch now and then as well.
    setInterval(changed, 30000);
  }

  if (document.body.dataset.page === "board") {
    start();
    FB.events({ changed: changed });
  }

  return {
    changed: changed, onUpdate: onUpdate, start: start,
    incidents: function () { return state.incidents; }, loaded: function () { return state.loaded; }
  };
})();
