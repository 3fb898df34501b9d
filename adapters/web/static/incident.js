// Firebreak web: one incident — its facts, deadlines, every draft with its
// version, hash and approvals, the published statements and the full
// timeline. Live: it refetches when the event stream says "changed".
"use strict";

(function () {
  var el = FB.el;
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
    fact(dl, "Status", inc.status_name + (inc.spreading ? " (spreading)" : ""));
    fact(dl, "Category", inc.category_name);
    fact(dl, "Department", inc.department_name || "none");
    fact(dl, "Assignee", inc.assignee_name || "nobody");
    fact(dl, "Found", when(inc.found_at));
    fact(dl, "Opened", when(inc.opened_at) + " by " + inc.opened_by_name);
    fact(dl, "Source", inc.source);
    if (inc.acked_at) fact(dl, "Acknowledged", when(inc.acked_at) + " by " + (inc.acked_by_name || inc.acked_by));
    fact(dl, "Follow-up reports", inc.updates);
    if (inc.referred_at) fact(dl, "Referred", when(inc.referred_at) + ": " + inc.referral);
    if (inc.resolved_at) fact(dl, "Resolved", when(inc.resolved_at) + ": " + inc.summary);

    var ul = document.getElementById("deadlines");
    FB.clear(ul);
    inc.deadlines.forEach(function (d) {
      ul.appendChild(el("li", { data: { kind: d.kind } }, FB.deadline(d, inc.open),
        el("span", { class: "due", text: "due " + when(d.due) })));
    });
  }

  function approvalLine(a, verb) {
    return el("li", { class: "approval", data: { by: a.by } },
      el("strong", { text: a.by_name }), a.principal ? el("span", { class: "principal", text: "principal" }) : null,
      " " + verb + " " + when(a.at), a.note ? el("span", { class: "note", text: " — " + a.note }) : null);
  }

  function renderDrafts(inc) {
    var box = document.getElementById("drafts");
    FB.clear(box);
    if (!inc.drafts.length) { box.appendChild(el("p", { class: "empty", text: "No draft yet." })); return; }
    inc.drafts.slice().reverse().forEach(function (d) {
      var state = d.published ? "published" : d.rejection ? "rejected" : d.version === inc.drafts.length ? "current" : "replaced";
      var approvals = el("ul", { class: "approvals" });
      d.approvals.forEach(function (a) { approvals.appendChild(approvalLine(a, "approved")); });
      if (d.rejection) approvals.appendChild(approvalLine(d.rejection, "rejected"));
      if (!d.approvals.length && !d.rejection) approvals.appendChild(el("li", { class: "empty", text: "No decision yet." }));
      box.appendChild(el("article", { class: "draft draft-" + state, data: { version: d.version } },
        el("header", null,
          el("strong", { text: "Version " + d.version }), " ",
          el("code", { class: "hash", text: "#" + d.hash }), " ",
          el("span", { class: "state", text: state }), " ",
          el("span", { class: "by", text: "by " + d.author_name + ", " + when(d.at) })),
        el("blockquote", { class: "draft-text", text: d.text }),
        approvals));
    });
  }

  function renderStatements(inc) {
    var box = document.getElementById("statements");
    FB.clear(box);
    if (!inc.statements.length) { box.appendChild(el("p", { class: "empty", text: "Nothing published yet." })); return; }
    inc.statements.forEach(function (s) {
      box.appendChild(el("article", { class: "statement" },
        el("header", null, el("strong", { text: "Version " + s.draft_version }), " ", el("code", { class: "hash", text: "#" + s.hash }),
          " ", el("span", { class: "by", text: "published by " + s.by_name + ", " + when(s.at) })),
        el("blockquote", { text: s.text })));
    });
  }

  function renderTimeline(tl) {
    var ol = document.getElementById("timeline");
    FB.clear(ol);
    tl.events.forEach(function (e) {
      var data = Object.keys(e.data || {}).sort().map(function (k) { return k + "=" + e.data[k]; }).join(", ");
      ol.appendChild(el("li", { class: "event event-" + e.kind, data: { kind: e.kind } },
        el("span", { class: "at", text: when(e.at) }),
        el("span", { class: "kind", text: e.kind.replace(/_/g, " ") }),
        el("span", { class: "actor", text: e.actor_name || (e.actor ? e.actor : "Firebreak") }),
        e.text ? el("span", { class: "text", text: e.text }) : null,
        data ? el("span", { class: "data", text: data }) : null));
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
      box.appendChild(el("p", { class: "error", text: "The incident could not be loaded: " + err.message }));
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
