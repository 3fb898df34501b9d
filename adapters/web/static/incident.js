// Firebreak web: one incident — its facts, deadlines, every draft with its
// version, hash and approvals, the published statements and the full
// timeline. Live: it refetches when the event stream says "changed".
"use strict";

(function () {
  var el = FB.el, t = FB.t;
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
    if (inc.referred_at) fact(dl, t("fact.referred"), t("fact.at_what", when(inc.referred_at), inc.referral));
    if (inc.resolved_at) fact(dl, t("fact.resolved"), t("fact.at_what", when(inc.resolved_at), inc.summary));

    var ul = document.getElementById("deadlines");
    FB.clear(ul);
    inc.deadlines.forEach(function (d) {
      ul.appendChild(el("li", { data: { kind: d.kind } }, FB.deadline(d, inc.open),
        el("span", { class: "due", text: t("deadline.due", when(d.due)) })));
    });
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
      box.appendChild(el("article", { class: "statement" },
        el("header", null, el("strong", { text: t("draft.version", s.draft_version) }), " ", el("code", { class: "hash", text: "#" + s.hash }),
          " ", el("span", { class: "by", text: t("statement.by", s.by_name, when(s.at)) })),
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
