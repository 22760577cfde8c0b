/* Throughput pages (templates/clusters/cluster_throughput.html). Same-origin, no inline code.
 *
 * The socket itself is htmx-ext-ws (ws-connect on [data-skiff-throughput]): it reconnects with
 * exponential backoff and full jitter after an abnormal close. skiff.js feeds the live charts
 * from each document. This file adds:
 *  - the connection indicator [data-skiff-connection]: Connecting… / Live / Reconnecting… /
 *    Stale (no document for 3 intervals) / Closed;
 *  - current values [data-skiff-value="<key of document.cluster>"] in human units;
 *  - the per-topic table [data-skiff-topic-rows] (rows built with textContent: no HTML);
 *  - history windows: buttons [data-skiff-window] load GET <data-history-url>?window=1h|24h|7d
 *    into the history charts; "live" shows the live panel again.
 */
(function () {
  "use strict";

  var STALE_AFTER_MS = 20000;
  var root, indicator, asOf, staleTimer = null;

  function fmt(unit, v) {
    if (unit === "messages") {
      if (typeof v !== "number") return "–";
      return (window.Skiff ? window.Skiff.format("", v) : String(v)) + " msg/s";
    }
    return window.Skiff ? window.Skiff.format(unit, v) : String(v);
  }

  function setConnection(state, text) {
    if (!indicator) return;
    var classes = {
      connecting: "bg-secondary-lt",
      live: "bg-green-lt",
      reconnecting: "bg-yellow-lt",
      stale: "bg-yellow-lt",
      closed: "bg-red-lt",
    };
    indicator.className = "badge " + (classes[state] || "bg-secondary-lt");
    indicator.setAttribute("data-state", state);
    indicator.textContent = text;
  }

  function armStaleTimer() {
    if (staleTimer) window.clearTimeout(staleTimer);
    staleTimer = window.setTimeout(function () {
      setConnection("stale", "Live · no update for " + Math.round(STALE_AFTER_MS / 1000) + " s");
    }, STALE_AFTER_MS);
  }

  function showValues(doc) {
    var values = doc.cluster || {};
    var els = root.querySelectorAll("[data-skiff-value]");
    for (var i = 0; i < els.length; i++) {
      var key = els[i].getAttribute("data-skiff-value");
      els[i].textContent = fmt(els[i].getAttribute("data-unit") || "", values[key]);
      els[i].setAttribute("data-value", typeof values[key] === "number" ? String(values[key]) : "");
    }
  }

  function cell(text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function showTopics(doc) {
    var body = root.querySelector("[data-skiff-topic-rows]");
    if (!body) return;
    var topics = doc.topics || {};
    var names = Object.keys(topics).sort();
    var empty = body.querySelector("[data-skiff-empty]");
    if (!names.length) {
      if (empty) empty.hidden = false;
      return;
    }
    if (empty) empty.hidden = true;
    var base = root.getAttribute("data-topic-url") || "";
    var rows = document.createDocumentFragment();
    names.forEach(function (name) {
      var t = topics[name];
      var tr = document.createElement("tr");
      tr.setAttribute("data-topic", name);
      var th = document.createElement("th");
      th.scope = "row";
      var link = document.createElement("a");
      link.href = base + encodeURIComponent(name) + "/";
      link.textContent = name;
      th.appendChild(link);
      tr.appendChild(th);
      tr.appendChild(cell(fmt("bytes", t.bytes_in_per_sec), "text-end"));
      tr.appendChild(cell(fmt("bytes", t.bytes_out_per_sec), "text-end"));
      tr.appendChild(cell(fmt("messages", t.messages_in_per_sec), "text-end"));
      tr.appendChild(cell(fmt("size", t.storage_bytes), "text-end"));
      rows.appendChild(tr);
    });
    Array.prototype.slice.call(body.querySelectorAll("tr[data-topic]")).forEach(function (tr) {
      body.removeChild(tr);
    });
    body.appendChild(rows);
  }

  function showDocument(doc) {
    if (!doc || typeof doc.ts !== "string" || !doc.cluster) return;
    showValues(doc);
    showTopics(doc);
    // How fresh the numbers are: the time the sampler read them (UTC, to the second).
    var time = /T(\d\d:\d\d:\d\d)/.exec(doc.ts);
    if (asOf && time) asOf.textContent = "Numbers as of " + time[1] + " UTC";
  }

  // --- history windows ---

  function seedFromPoints(points) {
    var seed = { t: [], bytes_in_per_sec: [], bytes_out_per_sec: [], messages_in_per_sec: [] };
    points.forEach(function (p) {
      seed.t.push(Date.parse(p.ts) / 1000);
      seed.bytes_in_per_sec.push(p.bytes_in_per_sec);
      seed.bytes_out_per_sec.push(p.bytes_out_per_sec);
      seed.messages_in_per_sec.push(p.messages_in_per_sec);
    });
    return seed;
  }

  var WINDOW_LABELS = { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days" };

  function selectWindow(button) {
    var name = button.getAttribute("data-skiff-window");
    var buttons = root.querySelectorAll("[data-skiff-window]");
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i] === button;
      buttons[i].classList.toggle("active", on);
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
    }
    var live = root.querySelector('[data-skiff-panel="live"]');
    var history = root.querySelector('[data-skiff-panel="history"]');
    live.hidden = name !== "live";
    history.hidden = name === "live";
    if (name === "live") return;
    var caption = history.querySelector("[data-skiff-history-caption]");
    caption.textContent = "Loading…";
    var url = root.getAttribute("data-history-url");
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "window=" + encodeURIComponent(name);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (body) {
        var seed = seedFromPoints(body.points || []);
        var charts = history.querySelectorAll("[data-skiff-chart]");
        for (var j = 0; j < charts.length; j++) window.Skiff.charts.load(charts[j], seed);
        var minutes = Math.round((body.bucket_seconds || 60) / 60);
        caption.textContent = "Average rates per " + (minutes >= 60 ? minutes / 60 + " h" : minutes + " min") +
          " over the " + WINDOW_LABELS[name] + ", from the stored per-minute usage.";
      })
      .catch(function (err) {
        caption.textContent = "Could not load the history (" + err.message + "). Try again.";
      });
  }

  function init() {
    root = document.querySelector("[data-skiff-throughput]");
    if (!root) return;
    indicator = document.querySelector("[data-skiff-connection]");
    asOf = document.querySelector("[data-skiff-as-of]");
    var initial = document.getElementById("throughput-document");
    if (initial) {
      try { showDocument(JSON.parse(initial.textContent)); } catch (e) { /* none yet */ }
    }
    root.addEventListener("htmx:wsConnecting", function () {
      var state = indicator && indicator.getAttribute("data-state");
      setConnection(state && state !== "connecting" ? "reconnecting" : "connecting",
        state && state !== "connecting" ? "Reconnecting…" : "Connecting…");
    });
    root.addEventListener("htmx:wsOpen", function () {
      setConnection("live", "Live");
      armStaleTimer();
    });
    root.addEventListener("htmx:wsClose", function (evt) {
      if (staleTimer) window.clearTimeout(staleTimer);
      var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
      if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) {
        setConnection("reconnecting", "Reconnecting…");
      } else {
        setConnection("closed", "Disconnected: reload the page");
      }
    });
    document.addEventListener("skiff:sample", function (evt) {
      if (!evt.detail || typeof evt.detail.ts !== "string") return;
      showDocument(evt.detail);
      setConnection("live", evt.detail.partial ? "Live · a broker did not answer" : "Live");
      armStaleTimer();
    });
    root.addEventListener("click", function (evt) {
      var button = evt.target instanceof Element ? evt.target.closest("[data-skiff-window]") : null;
      if (button) selectWindow(button);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
