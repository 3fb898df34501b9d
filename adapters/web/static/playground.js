// Firebreak web: the playground. Type /incident commands as anyone in the
// roster (Slack pane), press Approve and Reject as a leader (Telegram pane),
// and watch what the bot posts in the channels and direct messages. Posts
// arrive over the event stream, delivered by the same outbox as on Slack and
// Telegram.
"use strict";

(function () {
  var el = FB.el;
  var people = {}, order = [];
  var posts = {};  // by seq: {post, node}
  var dms = {};    // person id -> [seq]
  var history = [], historyAt = 0;

  var $ = function (id) { return document.getElementById(id); };
  var actorSel = $("actor"), leaderSel = $("leader"), dmSel = $("dm-person");

  function nameOf(id) { return people[id] ? people[id].name : id; }

  function option(p, label) { return el("option", { value: p.id, text: label || (p.name + " (" + p.id + ")") }); }

  function fillPickers(info) {
    info.people.forEach(function (p) { people[p.id] = p; order.push(p.id); });
    order.forEach(function (id) {
      var p = people[id];
      actorSel.appendChild(option(p, p.name + " (" + id + ", " + p.roles.join(", ") + ")"));
      if (p.leader) leaderSel.appendChild(option(p, p.name + (p.roles.indexOf("principal") >= 0 ? " (principal)" : "")));
      dmSel.appendChild(option(p));
    });
    var staff = order.filter(function (id) { return people[id].roles.indexOf("staff") >= 0; });
    if (staff.length) actorSel.value = staff[0];
    updateDMLabels();
  }

  // actorFor says who presses a button in a pane: the person picked in the
  // Slack pane, the leader picked in the leaders chat, or the person whose
  // direct messages these are.
  function actorFor(node) {
    var pane = node.closest("[data-actor-from]");
    var sel = pane ? $(pane.dataset.actorFrom) : actorSel;
    return (sel || actorSel).value;
  }

  // renderCard draws a bot.Card; its buttons press actions.
  function renderCard(c, seq) {
    var fields = el("dl", { class: "fields" });
    (c.fields || []).forEach(function (f) {
      fields.appendChild(el("dt", { text: f.label }));
      fields.appendChild(el("dd", { text: f.value }));
    });
    var node = el("div", { class: "card", data: c.incident ? { incident: c.incident } : null },
      el("div", { class: "card-title", text: c.title }),
      c.fields && c.fields.length ? fields : null,
      c.body ? el("blockquote", { class: "card-body", text: c.body }) : null,
      c.footer ? el("div", { class: "card-footer", text: c.footer }) : null,
      c.incident ? el("div", { class: "card-live" }) : null);
    if (c.buttons && c.buttons.length) {
      var row = el("div", { class: "buttons" });
      c.buttons.forEach(function (b) {
        row.appendChild(el("button", {
          type: "button", class: "btn" + (b.style ? " btn-" + b.style : ""), text: b.label,
          data: { action: b.id, post: seq || 0 }, on: { click: press }
        }));
      });
      node.appendChild(row);
    }
    if (c.incident) liveLine(node);
    return node;
  }

  // liveLine shows under an incident card the countdown of its next deadline,
  // from the board's data (the card's own text is as of when it was sent).
  function liveLine(cardNode) {
    var box = cardNode.querySelector(".card-live");
    if (!box) return;
    FB.clear(box);
    var inc = FB.board.incidents()[cardNode.dataset.incident];
    if (!inc) return;
    var next = inc.deadlines.filter(function (d) { return !d.met_at; })[0];
    if (!next) return;
    box.appendChild(el("span", { class: "live-label", text: "next:" }));
    box.appendChild(FB.deadline(next, inc.open));
  }

  function renderReply(r) {
    var cls = "reply" + (r.failed ? " failed" : "") + (r.public ? " public" : " ephemeral");
    return el("div", { class: cls },
      !r.public ? el("div", { class: "only-you", text: "Only visible to you" }) : null,
      r.text ? el("div", { class: "text", text: r.text }) : null,
      r.card ? renderCard(r.card) : null);
  }

  function scrollDown(feed) { feed.scrollTop = feed.scrollHeight; }

  // failed says in the Slack pane that a request did not reach the bot.
  function failed(text) {
    say($("feed-slack"), "Firebreak", "bot", el("div", { class: "reply failed", text: text }));
  }

  function say(feed, who, cls, content) {
    var li = el("li", { class: "msg " + cls },
      el("div", { class: "from" }, el("span", { class: "who", text: who }), el("span", { class: "at", text: FB.fmtTime(FB.serverNow()) })),
      content);
    feed.appendChild(li);
    scrollDown(feed);
    return li;
  }

  // Typed commands.

  $("command-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("command"), text = input.value.trim();
    if (!text) return;
    var actor = actorSel.value, feed = $("feed-slack");
    history.push(text);
    historyAt = history.length;
    input.value = "";
    say(feed, nameOf(actor), "me", el("div", { class: "text typed", text: text }));
    FB.api("/api/v1/playground/command", { actor: actor, text: text }).then(function (res) {
      say(feed, "Firebreak", "bot", renderReply(res.reply));
      FB.board.changed();
    }).catch(function (err) {
      failed("The request failed: " + err.message);
    });
  });

  $("command").addEventListener("keydown", function (e) {
    if (e.key === "ArrowUp" && historyAt > 0) { historyAt--; this.value = history[historyAt]; e.preventDefault(); }
    if (e.key === "ArrowDown" && historyAt < history.length) { historyAt++; this.value = history[historyAt] || ""; e.preventDefault(); }
  });

  // Buttons.

  function press(e) {
    var btn = e.currentTarget, actor = actorFor(btn), seq = Number(btn.dataset.post) || 0;
    var pane = btn.closest("[data-audience]");
    btn.disabled = true;
    FB.api("/api/v1/playground/action", {
      actor: actor, action: btn.dataset.action, post: seq,
      conversation: pane ? pane.dataset.audience : "playground"
    }).then(function (res) {
      var r = res.reply, card = btn.closest(".card");
      if (res.post) upsert(res.post);
      else if (!r.failed && r.card && card) {
        // A card in a reply is updated in place, as Slack replaces it.
        var fresh = renderCard(r.card);
        if (r.text) fresh.insertBefore(el("div", { class: "card-note", text: r.text }), fresh.firstChild);
        card.replaceWith(fresh);
      } else say($("feed-slack"), "Firebreak", "bot", renderReply(r));
      FB.board.changed();
    }).catch(function (err) {
      failed("The request failed: " + err.message);
    }).then(function () { btn.disabled = false; });
  }

  // Posts from the outbox.

  function feedFor(audience) {
    if (audience === "incidents") return $("feed-incidents");
    if (audience === "statements") return $("feed-statements");
    if (audience === "leaders") return $("feed-leaders");
    return null;
  }

  function dmPerson(audience) {
    return audience.indexOf("person:") === 0 ? audience.slice(7) : null;
  }

  function renderPost(p) {
    var m = p.message, answers = el("div", { class: "answers" });
    (p.answers || []).forEach(function (a) {
      var text = a.reply.text || "";
      answers.appendChild(el("div", { class: "answer" + (a.reply.failed ? " failed" : ""), data: { actor: a.actor } },
        text.indexOf(a.actor_name) >= 0 ? null : el("span", { class: "who", text: a.actor_name + ": " }),
        el("span", { class: "text", text: text })));
    });
    return el("li", { class: "msg bot post kind-" + m.kind, data: { seq: p.seq, incident: p.incident || "", kind: m.kind } },
      el("div", { class: "from" }, el("span", { class: "who", text: "Firebreak" }), el("span", { class: "at", text: FB.fmtTime(p.at) })),
      m.text ? el("div", { class: "text", text: m.text }) : null,
      m.card ? renderCard(m.card, p.seq) : null,
      answers);
  }

  function upsert(p) {
    var known = posts[p.seq];
    if (known && known.post.rev >= p.rev) return;
    var node = renderPost(p);
    if (known) {
      known.node.replaceWith(node);
      known.node = node;
      known.post = p;
      return;
    }
    posts[p.seq] = { post: p, node: node };
    var person = dmPerson(p.audience), feed = feedFor(p.audience);
    if (person) {
      (dms[person] = dms[person] || []).push(p.seq);
      updateDMLabels();
      if (dmSel.value === person) showDMs();
      return;
    }
    if (!feed) return;
    feed.appendChild(node);
    scrollDown(feed);
  }

  function updateDMLabels() {
    for (var i = 0; i < dmSel.options.length; i++) {
      var o = dmSel.options[i], n = (dms[o.value] || []).length;
      o.textContent = nameOf(o.value) + " (" + o.value + ")" + (n ? " · " + n : "");
    }
  }

  function showDMs() {
    var feed = $("feed-dm");
    FB.clear(feed);
    var list = dms[dmSel.value] || [];
    if (!list.length) feed.appendChild(el("li", { class: "note", text: "No direct message to " + nameOf(dmSel.value) + " yet." }));
    list.forEach(function (seq) { feed.appendChild(posts[seq].node); });
    scrollDown(feed);
  }
  dmSel.addEventListener("change", showDMs);

  // Start: the roster, the board panel, then the event stream (which first
  // replays the posts the server keeps).

  FB.board.onUpdate(function () {
    var cards = document.querySelectorAll(".card[data-incident]");
    for (var i = 0; i < cards.length; i++) liveLine(cards[i]);
  });

  FB.api("/api/v1/playground").then(function (info) {
    FB.syncClock(info);
    fillPickers(info);
    var sun = order.filter(function (id) { return people[id].roles.indexOf("spokesperson") >= 0; })[0];
    dmSel.value = sun || order[0];
    showDMs();
    FB.board.start();
    FB.events({ post: upsert, changed: FB.board.changed, ready: function () { document.body.dataset.ready = "1"; } });
  }).catch(function (err) {
    failed("The playground could not start: " + err.message);
  });
})();
