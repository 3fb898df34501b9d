// Firebreak web: helpers shared by the playground, the board and the
// incident page. Every text that comes from data is put in the page with
// textContent, never parsed as markup, so a title such as <img src=x onerror=...>
// shows as text.
"use strict";

var FB = (function () {
  var SVG_NS = "http://www.w3.org/2000/svg";

  // The page's language: the server embeds the dictionary of its locale
  // (the one dictionary of every page, adapters/web/i18n.go) as JSON.
  var i18n = { locale: "en", labels: {}, deadlines: {} };
  try {
    var node = document.getElementById("fb-i18n");
    if (node) i18n = JSON.parse(node.textContent);
  } catch (e) { /* the keys show as themselves */ }

  // t is the label of key with {0}, {1}, ... replaced by the arguments.
  function t(key) {
    var s = Object.prototype.hasOwnProperty.call(i18n.labels, key) ? i18n.labels[key] : key, args = arguments;
    return s.replace(/\{(\d+)\}/g, function (m, i) {
      var v = args[Number(i) + 1];
      return v === undefined ? m : String(v);
    });
  }

  // deadlineKind is the kind of the deadline a card's field label names
  // ("report to leaders", "报告领导", "Publish by"), or "".
  function deadlineKind(label) { return i18n.deadlines[label] || ""; }

  // el builds an element: el("div", {class: "x", data: {id: "YQ-1"}}, child, "text", ...).
  // Strings become text nodes; null and undefined children are skipped.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  // svg builds an SVG element the same way.
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "data") Object.keys(v).forEach(function (d) { node.dataset[d] = String(v[d]); });
      else if (k === "on") Object.keys(v).forEach(function (ev) { node.addEventListener(ev, v[ev]); });
      else node.setAttribute(k, v === true ? "" : String(v));
    });
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // api fetches JSON from the server; it rejects with the server's message.
  // A read asks for the page's language, so that the names in the data
  // match the page even when another tab switched the language since.
  function api(path, body) {
    if (body === undefined) path += (path.indexOf("?") < 0 ? "?" : "&") + "lang=" + encodeURIComponent(i18n.locale);
    var opts = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); }
        if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
        return data;
      });
    });
  }

  // The server's clock: the page counts down from "now" as the server said
  // it, moving "scale" times faster than the wall clock (60 in the demo).
  var clock = { now: Date.now(), wall: Date.now(), scale: 1, timezone: "", locale: "en" };

  function syncClock(info) {
    if (!info || !info.now) return;
    clock.now = Date.parse(info.now);
    clock.wall = Date.now();
    clock.scale = typeof info.scale === "number" ? info.scale : 1;
    if (info.timezone && info.timezone !== clock.timezone) { clock.timezone = info.timezone; formatters = {}; }
    if (info.locale) clock.locale = info.locale;
  }

  function serverNow() { return clock.now + (Date.now() - clock.wall) * clock.scale; }

  var formatters = {};
  function formatter(opts, key) {
    if (!formatters[key]) {
      var o = Object.assign({ hourCycle: "h23" }, opts);
      var lang = i18n.locale === "zh-CN" ? "zh-CN" : "en-GB";
      try { if (clock.timezone) o.timeZone = clock.timezone; formatters[key] = new Intl.DateTimeFormat(lang, o); }
      catch (e) { delete o.timeZone; formatters[key] = new Intl.DateTimeFormat(lang, o); }
    }
    return formatters[key];
  }

  // fmtTime is "14:05" in the organisation's timezone; with day, "02 Mar 14:05"
  // (in Chinese "03月02日 14:05").
  function fmtTime(t, day) {
    var d = typeof t === "number" ? new Date(t) : new Date(Date.parse(t));
    if (isNaN(d.getTime())) return "";
    if (day) return formatter({ day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" }, "day").format(d);
    return formatter({ hour: "2-digit", minute: "2-digit" }, "time").format(d);
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // sameDay reports whether two instants fall on one day in the
  // organisation's timezone.
  function sameDay(a, b) {
    var f = formatter({ year: "numeric", month: "2-digit", day: "2-digit" }, "date");
    return f.format(new Date(a)) === f.format(new Date(b));
  }

  // fmtDue is a due time: "14:05" today, with the day otherwise.
  function fmtDue(t) { var ms = Date.parse(t); return fmtTime(ms, !sameDay(ms, serverNow())); }

  // fmtSpan is a duration in a glance: "2d 03h", "1h 05m", "12m 30s", "45s"
  // (in Chinese "2天03小时", "1小时05分", ...).
  function fmtSpan(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d > 0) return t("span.dh", d, pad(h));
    if (h > 0) return t("span.hm", h, pad(m));
    if (m > 0) return t("span.ms", m, pad(sec));
    return t("span.s", sec);
  }

  // countdown is a live element for one deadline (see tick).
  function countdown(d, open) {
    return el("span", {
      class: "countdown",
      data: { due: d.due, warn: d.warn_at, met: d.met_at || "", late: d.late ? "1" : "", open: open ? "1" : "" },
      title: t("countdown.title", d.name, fmtTime(d.due, true))
    });
  }

  // deadline is a labelled countdown: "approved reply published  2h 59m".
  function deadline(d, open) {
    return el("span", { class: "deadline", data: { kind: d.kind } },
      el("span", { class: "deadline-name", text: d.name }), " ", countdown(d, open));
  }

  // tick updates every countdown on the page: amber from its first warning,
  // red once overdue, green once met (grey "not met" for a resolved incident).
  function tick() {
    var now = serverNow();
    var nodes = document.querySelectorAll(".countdown");
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i], ds = n.dataset, due = Date.parse(ds.due), warn = Date.parse(ds.warn);
      var state, text;
      if (ds.met) {
        state = ds.late ? "late" : "met";
        text = t(ds.late ? "countdown.late" : "countdown.met", fmtTime(ds.met));
      } else if (!ds.open) {
        state = "unmet";
        text = t("countdown.unmet");
      } else if (now > due) {
        state = "overdue";
        text = t("countdown.over", fmtSpan(now - due));
      } else {
        state = now >= warn ? "warn" : "ok";
        text = fmtSpan(due - now);
      }
      var cls = "countdown " + state;
      if (n.className !== cls) n.className = cls;
      if (n.textContent !== text) n.textContent = text;
      ds.state = state;
    }
  }

  function startTicking() {
    tick();
    setInterval(tick, 250);
  }

  // events connects to the event stream; handlers maps event names to
  // functions of the parsed data. The browser reconnects by itself (and
  // resumes with Last-Event-ID); the header shows whether we are live.
  function events(handlers) {
    var live = document.getElementById("live");
    var es = new EventSource("/api/v1/events");
    function status(ok) {
      if (!live) return;
      live.textContent = t(ok ? "live.on" : "live.off");
      live.className = ok ? "live on" : "live off";
    }
    es.addEventListener("open", function () { status(true); });
    es.addEventListener("error", function () { status(false); });
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (e) {
        var data = {};
        try { data = JSON.parse(e.data); } catch (err) { return; }
        handlers[name](data);
      });
    });
    return es;
  }

  // debounce runs f at most once per wait ms, after the last call.
  function debounce(f, wait) {
    var timer = null;
    return function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { timer = null; f(); }, wait);
    };
  }

  function levelBadge(level, name) {
    return el("span", { class: "level level-" + level, text: name || level });
  }

  return {
    t: t, locale: function () { return i18n.locale; }, deadlineKind: deadlineKind,
    el: el, svg: svg, clear: clear, api: api, syncClock: syncClock, serverNow: serverNow,
    fmtTime: fmtTime, fmtDue: fmtDue, deadline: deadline, countdown: countdown, tick: tick,
    startTicking: startTicking, events: events, debounce: debounce, levelBadge: levelBadge
  };
})();
