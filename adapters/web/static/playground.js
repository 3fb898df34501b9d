// Firebreak web: the playground. Type /incident commands as anyone in the
// roster (Slack pane), press Approve and Reject as a leader (Telegram pane),
// and watch what the bot posts in the channels and direct messages. Posts
// arrive over the event stream, delivered by the same outbox as on Slack and
// Telegram.
"use strict";

(function () {
  var el = FB.el, t = FB.t;
  var people = {}, order = [];
  var posts = {};  // by seq: {post, node}
  var dms = {};    // person id -> [seq], in order
  // extra holds the incidents that cards show and the board does not list
  // (resolved ones), fetched one by one; asked marks those asked for since
  // the board last changed.
  var extra = {}, asked = {};
  var history = [], historyAt = 0;

  var $ = function (id) { return document.getElementById(id); };
  var actorSel = $("actor"), leaderSel = $("leader"), dmSel = $("dm-person");

  function nameOf(id) { return people[id] ? people[id].name : id; }

  function option(p, label) { return el("option", { value: p.id, text: label || t("pg.person", p.name, p.id) }); }

  function roleNames(p) { return p.roles.map(function (r) { return t("role." + r); }).join(t("pg.list_sep")); }

  function fillPickers(info) {
    info.people.forEach(function (p) { people[p.id] = p; order.push(p.id); });
    order.forEach(function (id) {
      var p = people[id];
      actorSel.appendChild(option(p, t("pg.person_roles", p.name, id, roleNames(p))));
      if (p.leader) leaderSel.appendChild(option(p, p.roles.indexOf("principal") >= 0 ? t("pg.person", p.name, t("role.principal")) : p.name));
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

  // incident is what the page knows of an incident now: the board's open
  // incidents, or one fetched for a card (undefined until known).
  function incident(id) { return FB.board.incidents()[id] || extra[id]; }

  // want fetches an incident a card shows that the board does not list.
  function want(id) {
    if (!id || asked[id] || !FB.board.loaded() || FB.board.incidents()[id]) return;
    asked[id] = true;
    FB.api("/api/v1/incidents/" + encodeURIComponent(id)).then(function (res) {
      extra[id] = res.incident;
      liveAll();
    }).catch(function () { /* the card keeps the text it was sent with */ });
  }

  // renderCard draws a bot.Card; its buttons press actions. An incident's
  // deadline lines are drawn live from the incident (see live), and its
  // Acknowledge and Take it buttons are offered to those who may (gate).
  function renderCard(c, seq) {
    var fields = el("dl", { class: "fields" });
    (c.fields || []).forEach(function (f) {
      var kind = c.incident ? FB.deadlineKind(f.label) : "";
      fields.appendChild(el("dt", { text: f.label }));
      fields.appendChild(el("dd", kind ? { class: "live-deadline", data: { kind: kind, sent: f.value } } : null, f.value));
    });
    var node = el("div", { class: "card", data: c.incident ? { incident: c.incident } : null },
      el("div", { class: "card-title", text: c.title }),
      c.fields && c.fields.length ? fields : null,
      c.body ? el("blockquote", { class: "card-body", text: c.body }) : null,
      c.footer ? el("div", { class: "card-footer", text: c.footer }) : null);
    if (c.buttons && c.buttons.length) {
      var row = el("div", { class: "buttons" });
      c.buttons.forEach(function (b) {
        var parts = b.id.split(":"), gated = (parts[0] === "ack" || parts[0] === "take") && parts[1];
        row.appendChild(el("button", {
          type: "button", class: "btn" + (b.style ? " btn-" + b.style : ""), text: b.label, hidden: gated ? true : null,
          data: gated ? { action: b.id, post: seq || 0, gate: parts[0], incident: parts[1] } : { action: b.id, post: seq || 0 },
          on: { click: press }
        }));
      });
      node.appendChild(row);
    }
    if (c.incident) want(c.incident);
    return node;
  }

  // live draws a card's deadline lines from the incident's data, as the
  // board does, so the card and the badges never disagree: the countdown
  // (which FB.tick moves on) and the due time. Until the data is known the
  // line reads as the bot sent it.
  function live(cardNode) {
    var inc = incident(cardNode.dataset.incident);
    if (!inc) return;
    var lines = cardNode.querySelectorAll("dd.live-deadline");
    for (var i = 0; i < lines.length; i++) {
      var dd = lines[i], d = inc.deadlines.filter(function (x) { return x.kind === dd.dataset.kind; })[0];
      FB.clear(dd);
      if (!d) { dd.textContent = dd.dataset.sent; continue; }
      dd.appendChild(FB.countdown(d, inc.open));
      dd.appendChild(el("span", { class: "due", text: " " + t("deadline.due", FB.fmtDue(d.due)) }));
    }
  }

  // gate shows an Acknowledge or Take it button only when the person who
  // would press it (actorFor) may, as the server computed (may_ack,
  // may_take); a row left with no button is hidden.
  function gate(btn) {
    var inc = incident(btn.dataset.incident), list = inc ? inc["may_" + btn.dataset.gate] : null;
    btn.hidden = !(list && list.indexOf(actorFor(btn)) >= 0);
    var row = btn.parentNode, shown = false;
    for (var i = 0; i < row.children.length; i++) shown = shown || !row.children[i].hidden;
    row.hidden = !shown;
  }

  function liveAll() {
    var cards = document.querySelectorAll(".card[data-incident]");
    for (var i = 0; i < cards.length; i++) live(cards[i]);
    var gated = document.querySelectorAll("button[data-gate]");
    for (var j = 0; j < gated.length; j++) gate(gated[j]);
    FB.tick();
  }

  function renderReply(r) {
    var cls = "reply" + (r.failed ? " failed" : "") + (r.public ? " public" : " ephemeral");
    return el("div", { class: cls },
      !r.public ? el("div", { class: "only-you", text: t("pg.only_you") }) : null,
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
      liveAll();
      FB.board.changed();
    }).catch(function (err) {
      failed(t("api.request_failed", err.message));
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
      liveAll();
      FB.board.changed();
    }).catch(function (err) {
      failed(t("api.request_failed", err.message));
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
        text.indexOf(a.actor_name) >= 0 ? null : el("span", { class: "who", text: t("pg.answer_by", a.actor_name) }),
        el("span", { class: "text", text: text })));
    });
    return el("li", { class: "msg bot post kind-" + m.kind, data: { seq: p.seq, incident: p.incident || "", kind: m.kind } },
      el("div", { class: "from" }, el("span", { class: "who", text: "Firebreak" }), el("span", { class: "at", text: FB.fmtTime(p.at) })),
      m.text ? el("div", { class: "text", text: m.text }) : null,
      m.card ? renderCard(m.card, p.seq) : null,
      answers);
  }

  // upsert shows a post, or redraws it in place when it changed (an answer,
  // or the bot refreshed the card: its buttons are the new card's). Posts
  // stand in the order they were sent, whatever order they arrive in (a
  // reconnecting page gets them in the order of their last change).
  function upsert(p) {
    var known = posts[p.seq];
    if (known && known.post.rev >= p.rev) return;
    var node = renderPost(p);
    if (known) {
      known.node.replaceWith(node);
      known.node = node;
      known.post = p;
      liveAll();
      return;
    }
    posts[p.seq] = { post: p, node: node };
    var person = dmPerson(p.audience), feed = feedFor(p.audience);
    if (person) {
      var list = (dms[person] = dms[person] || []);
      list.push(p.seq);
      list.sort(function (a, b) { return a - b; });
      updateDMLabels();
      if (dmSel.value === person) showDMs();
      return;
    }
    if (!feed) return;
    var after = null;
    for (var c = feed.firstElementChild; c; c = c.nextElementSibling) {
      if (c.dataset.seq && Number(c.dataset.seq) > p.seq) { after = c; break; }
    }
    feed.insertBefore(node, after);
    if (!after) scrollDown(feed);
    liveAll();
  }

  function updateDMLabels() {
    for (var i = 0; i < dmSel.options.length; i++) {
      var o = dmSel.options[i], n = (dms[o.value] || []).length;
      var label = t("pg.person", nameOf(o.value), o.value);
      o.textContent = n ? t("pg.dm_count", label, n) : label;
    }
  }

  function showDMs() {
    var feed = $("feed-dm");
    FB.clear(feed);
    var list = dms[dmSel.value] || [];
    if (!list.length) feed.appendChild(el("li", { class: "note", text: t("pg.no_dm", nameOf(dmSel.value)) }));
    list.forEach(function (seq) { if (posts[seq]) feed.appendChild(posts[seq].node); });
    scrollDown(feed);
    liveAll();
  }
  dmSel.addEventListener("change", showDMs);
  actorSel.addEventListener("change", liveAll);
  leaderSel.addEventListener("change", liveAll);

  // The intake pane: a monitoring alert, as a platform would post it to
  // POST /intake, sent to the playground's own endpoint (no token, source
  // "playground"). The text is sent as typed, so a broken one shows the
  // error the real endpoint answers. The triage card arrives through the
  // outbox in # incidents, as on Slack.

  var SAMPLES = {
    casualties: {
      id: "wb-5012", url: "https://m.weibo.cn/status/5012?utm_source=share&utm_medium=app",
      title: "城东路口货车侧翻,多人受伤",
      excerpt: "网友发帖称,今早城东路口一辆货车侧翻,现场多人受伤,已有救护车赶到,路口交通中断。",
      author: "城东观察", ago: 8, figures: { posts: 35, views: 12000, heat: 68 }
    },
    canteen: {
      id: "tb-7731", url: "https://tieba.baidu.com/p/7731",
      title: "某中学食堂饭菜发霉?家长群截图流传",
      excerpt: "有家长在群里发截图称孩子学校食堂的饭菜发霉变质,要求学校给个说法,已有多位家长跟帖。",
      author: "家长小李", ago: 12, figures: { posts: 18, views: 3400, heat: 41 }
    },
    rumor: {
      id: "wx-2208", url: "https://mp.weixin.qq.com/s/2208#comments",
      title: "网传“全区中小学下周起停课”?",
      excerpt: "一则“全区中小学下周起停课”的消息在多个微信群转发,教育局尚未发布此类通知,疑似谣言。",
      author: "本地生活圈", ago: 5, figures: { posts: 60, views: 25000, heat: 72 }
    }
  };

  // rfc3339 is a server time as "2026-03-02T01:52:00Z".
  function rfc3339(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function sample(name) {
    var s = SAMPLES[name], item = {
      source: "playground", id: s.id, url: s.url, title: s.title, excerpt: s.excerpt, author: s.author,
      found_at: rfc3339(FB.serverNow() - s.ago * 60000), figures: s.figures
    };
    return JSON.stringify(item, null, 2);
  }

  function showIntake(status, data, raw) {
    var out = $("intake-result");
    if (!out) return;
    var lines = [t("pg.intake_answer", status)];
    if (status === 202) {
      var opened = (data.items || []).some(function (i) { return i.outcome === "opened"; });
      lines.push(t(opened ? "pg.intake_opened" : "pg.intake_arrives"));
    } else if (data && data.error) {
      lines.push(FB.locale() === "zh-CN" && data.error_zh ? data.error_zh : data.error);
    }
    lines.push(data ? JSON.stringify(data, null, 2) : raw);
    out.textContent = lines.join("\n");
    out.className = "intake-result " + (status === 202 ? "ok" : "failed");
    out.dataset.status = String(status);
    out.hidden = false;
  }

  function startIntake() {
    var form = $("intake-form"), body = $("intake-body");
    if (!form || !body) return;
    body.value = sample("canteen");
    var buttons = form.querySelectorAll("button[data-sample]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) { body.value = sample(e.currentTarget.dataset.sample); });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var send = $("intake-send"), out = $("intake-result");
      send.disabled = true;
      out.hidden = false;
      out.textContent = t("pg.intake_sending");
      out.dataset.status = "";
      fetch("/api/v1/playground/intake", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: body.value
      }).then(function (res) {
        return res.text().then(function (text) {
          var data = null;
          try { data = JSON.parse(text); } catch (err) { /* shown as it came */ }
          showIntake(res.status, data, text);
          FB.board.changed();
        });
      }).catch(function (err) {
        showIntake(0, null, t("api.request_failed", err.message));
      }).then(function () { send.disabled = false; });
    });
  }

  // Start: the roster, the board panel, then the event stream (which first
  // replays the posts the server keeps).

  // Each time the board refetched, the incidents it does not list are
  // fetched again for the cards that show them.
  FB.board.onUpdate(function () {
    asked = {};
    var cards = document.querySelectorAll(".card[data-incident]");
    for (var i = 0; i < cards.length; i++) want(cards[i].dataset.incident);
    liveAll();
  });

  FB.api("/api/v1/playground").then(function (info) {
    FB.syncClock(info);
    fillPickers(info);
    startIntake();
    var sun = order.filter(function (id) { return people[id].roles.indexOf("spokesperson") >= 0; })[0];
    dmSel.value = sun || order[0];
    showDMs();
    FB.board.start();
    FB.events({ post: upsert, changed: FB.board.changed, ready: function () { document.body.dataset.ready = "1"; } });
  }).catch(function (err) {
    failed(t("pg.start_failed", err.message));
  });
})();
