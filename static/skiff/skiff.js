/* Skiff console behaviour. Same-origin, no inline scripts, no eval: works under a strict CSP.
 *
 * Load it in <head> WITHOUT defer/async (so the theme is applied before first paint):
 *   <script src="{% static 'skiff/skiff.js' %}"></script>
 *
 * What it does
 *  - Theme: applies data-bs-theme="light"|"dark" on <html> from localStorage ("skiff-theme"),
 *    else from the OS preference. Any element with [data-skiff-theme-toggle] toggles it;
 *    [data-skiff-theme="light"|"dark"|"auto"] sets it. Toggles get aria-pressed (true = dark).
 *  - CSRF: reads <meta name="csrf-token" content="..."> and sends it as X-CSRFToken on every
 *    same-origin htmx request (htmx:configRequest).
 *  - Confirm: a <form data-skiff-confirm="Delete cluster orders?"> (plain, non-htmx form) asks
 *    before submitting. htmx elements use hx-confirm as usual.
 *  - Copy: <button data-skiff-copy="#element-id"> copies that element's text (or value);
 *    <button data-skiff-copy-text="literal"> copies the literal. The button's text becomes
 *    "Copied" for 1.5 s.
 *  - Charts: see Skiff.charts below (uPlot, live samples over the htmx ws extension).
 */
(function () {
  "use strict";

  var THEME_KEY = "skiff-theme";
  var root = document.documentElement;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function storedTheme() {
    try {
      var v = window.localStorage.getItem(THEME_KEY);
      return v === "light" || v === "dark" ? v : null;
    } catch (e) {
      return null;
    }
  }

  function effectiveTheme() {
    return storedTheme() || (darkQuery && darkQuery.matches ? "dark" : "light");
  }

  function applyTheme() {
    var theme = effectiveTheme();
    root.setAttribute("data-bs-theme", theme);
    var toggles = document.querySelectorAll("[data-skiff-theme-toggle]");
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
    }
    document.dispatchEvent(new CustomEvent("skiff:theme", { detail: { theme: theme } }));
  }

  function setTheme(theme) {
    try {
      if (theme === "light" || theme === "dark") {
        window.localStorage.setItem(THEME_KEY, theme);
      } else {
        window.localStorage.removeItem(THEME_KEY);
      }
    } catch (e) {
      /* storage disabled: the choice lasts for this page only */
      if (theme === "light" || theme === "dark") root.setAttribute("data-bs-theme", theme);
      return;
    }
    applyTheme();
  }

  applyTheme(); // before first paint
  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener("change", function () {
      if (!storedTheme()) applyTheme();
    });
  }
  window.addEventListener("storage", function (e) {
    if (e.key === THEME_KEY) applyTheme(); // another tab changed it
  });

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function isSameOrigin(path) {
    try {
      return new URL(path, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var token = csrfToken();
    if (token && isSameOrigin(evt.detail.path)) {
      evt.detail.headers["X-CSRFToken"] = token;
    }
  });

  function flash(button, text) {
    if (!button.hasAttribute("data-skiff-label")) {
      button.setAttribute("data-skiff-label", button.textContent);
    }
    button.textContent = text;
    window.setTimeout(function () {
      button.textContent = button.getAttribute("data-skiff-label");
    }, 1500);
  }

  function copyText(button, text) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { flash(button, "Copied"); },
        function () { flash(button, "Copy failed"); }
      );
      return;
    }
    // Fallback for plain-HTTP origins (e.g. a LAN install): a hidden textarea + execCommand.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    flash(button, ok ? "Copied" : "Copy failed");
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    if (!target) return;

    var toggle = target.closest("[data-skiff-theme-toggle]");
    if (toggle) {
      evt.preventDefault();
      setTheme(effectiveTheme() === "dark" ? "light" : "dark");
      return;
    }
    var chooser = target.closest("[data-skiff-theme]");
    if (chooser) {
      evt.preventDefault();
      setTheme(chooser.getAttribute("data-skiff-theme"));
      return;
    }
    var copy = target.closest("[data-skiff-copy],[data-skiff-copy-text]");
    if (copy) {
      evt.preventDefault();
      var text = copy.getAttribute("data-skiff-copy-text");
      if (text === null) {
        var src = document.querySelector(copy.getAttribute("data-skiff-copy"));
        text = src ? ("value" in src && src.value !== undefined ? src.value : src.textContent) : "";
      }
      copyText(copy, text.trim());
    }
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-skiff-confirm")) {
      if (!window.confirm(form.getAttribute("data-skiff-confirm"))) {
        evt.preventDefault();
      }
    }
  });

  /* Policy editor: <form data-skiff-policy-editor> with radios name="policy_template", a
   * textarea name="policy_document" and {{ template_documents|json_script:"policy-templates" }}.
   * Picking a template loads its document into the textarea, asking first when that would
   * replace edits made since the last load; typing in the document picks "custom". */
  function policyTemplates() {
    var el = document.getElementById("policy-templates");
    if (!el) return {};
    try { return JSON.parse(el.textContent) || {}; } catch (e) { return {}; }
  }

  function policyEditor(form) {
    if (form.__skiffPolicy) return form.__skiffPolicy;
    var area = form.querySelector('textarea[name="policy_document"]');
    var checked = form.querySelector('input[name="policy_template"]:checked');
    form.__skiffPolicy = { area: area, loaded: area ? area.value : "", current: checked ? checked.value : null };
    return form.__skiffPolicy;
  }

  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!(input instanceof HTMLInputElement) || input.name !== "policy_template") return;
    var form = input.closest("[data-skiff-policy-editor]");
    if (!form) return;
    var state = policyEditor(form);
    var doc = policyTemplates()[input.value];
    if (!state.area || doc === undefined) { state.current = input.value; return; }
    if (state.area.value !== state.loaded && state.area.value !== doc &&
        !window.confirm("Replace your unsaved edits in the policy document with the " +
                        input.parentNode.textContent.trim() + " template?")) {
      var previous = state.current && form.querySelector('input[name="policy_template"][value="' + state.current + '"]');
      if (previous) previous.checked = true;
      return;
    }
    state.area.value = doc;
    state.loaded = doc;
    state.current = input.value;
  });

  document.addEventListener("input", function (evt) {
    var area = evt.target;
    if (!(area instanceof HTMLTextAreaElement) || area.name !== "policy_document") return;
    var form = area.closest("[data-skiff-policy-editor]");
    if (!form) return;
    var state = policyEditor(form);
    var custom = form.querySelector('input[name="policy_template"][value="custom"]');
    if (custom && !custom.checked && area.value !== state.loaded) {
      custom.checked = true;
      state.current = "custom";
    }
  });

  /* ---------------------------------------------------------------------------------------
   * Charts (needs uplot-1.6.32/uPlot.iife.min.js loaded before this runs its init, i.e. on
   * DOMContentLoaded / after htmx swaps).
   *
   * Markup:
   *   <div class="skiff-chart" data-skiff-chart="live-bytes" data-skiff-source="cluster"
   *        data-series="bytes_in_per_sec,bytes_out_per_sec" data-labels="Bytes in/s,Bytes out/s"
   *        data-unit="bytes" data-window="900" data-initial="throughput-seed"
   *        role="img" aria-label="Throughput, last 15 minutes"></div>
   *   {{ seed|json_script:"throughput-seed" }}      (optional history)
   *     seed = {"t": [unix seconds...], "bytes_in_per_sec": [...], "bytes_out_per_sec": [...]}
   *   data-unit: "bytes" (B/s, KiB/s, MiB/s…), "size" (B, KiB…), "usd" ($1.23), else plain
   *   numbers (1.2k).
   *   data-window: seconds of points kept (default 300); "0" keeps everything.
   *
   * Live samples arrive on a socket opened with hx-ext="ws" ws-connect="...". A message whose
   * first character is "{" is JSON and is NOT swapped as HTML. Two shapes are understood:
   *  - the throughput document (the contract of /ws/clusters/<id>/throughput/):
   *      {"ts": "2026-01-01T00:00:05Z", "cluster": {"bytes_in_per_sec": n, ...},
   *       "topics": {"<short name>": {"bytes_in_per_sec": n, ...}}}
   *    every chart with data-skiff-source="cluster" gets ts + the cluster's values;
   *    data-skiff-source="topic:<short name>" gets that topic's values (zeros when absent);
   *  - a bare sample {"chart": "<data-skiff-chart>", "t": unix seconds, "values": {...}}.
   * Either way a "skiff:sample" event carries the parsed message (detail) on document.
   * From other code: Skiff.charts.push(name, t, values); Skiff.charts.load(el, seed) replaces
   * a chart's data (history views); Skiff.format(unit, value) formats like the axes.
   * ------------------------------------------------------------------------------------- */
  var PALETTE = ["#206bc4", "#2fb344", "#f76707", "#d63939", "#ae3ec9", "#17a2b8"];
  var charts = []; // {el, plot, keys, data, window, ro}

  function formatValue(unit, v) {
    if (v === null || v === undefined) return "–";
    if (unit === "bytes" || unit === "size") {
      var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
      var i = 0;
      var x = Math.abs(v);
      while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
      return (v < 0 ? "-" : "") + (i === 0 ? x.toFixed(0) : x.toFixed(1)) + " " + units[i] +
        (unit === "bytes" ? "/s" : "");
    }
    if (unit === "usd") return (v < 0 ? "-$" : "$") + Math.abs(v).toFixed(2);
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return String(Math.round(v * 100) / 100);
  }

  /* Canvas colours. The theme's CSS variables hold values such as light-dark(oklch(…)),
   * which a canvas rejects (it then keeps its default, black): resolve each to a concrete
   * colour through a probe element (getComputedStyle resolves light-dark() and var()), then
   * to rgb()/rgba() by painting it on a 1×1 canvas and reading the pixel back. */
  var probeCanvas = null;

  function toRgb(color, fallback) {
    try {
      if (!probeCanvas) probeCanvas = document.createElement("canvas");
      probeCanvas.width = probeCanvas.height = 1;
      var ctx = probeCanvas.getContext("2d", { willReadFrequently: true });
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = "#010203";
      ctx.fillStyle = color; // ignored (stays #010203) when the canvas cannot parse it
      if (ctx.fillStyle === "#010203" && color.replace(/\s/g, "") !== "#010203") return fallback;
      ctx.fillRect(0, 0, 1, 1);
      var px = ctx.getImageData(0, 0, 1, 1).data;
      if (px[3] === 255) return "rgb(" + px[0] + ", " + px[1] + ", " + px[2] + ")";
      if (px[3] === 0) return fallback;
      var a = px[3] / 255; // premultiplied read-back: undo it
      return "rgba(" + Math.round(px[0]) + ", " + Math.round(px[1]) + ", " + Math.round(px[2]) +
        ", " + a.toFixed(2) + ")";
    } catch (e) {
      return fallback;
    }
  }

  function cssColor(variable, fallback) {
    var probe = document.createElement("span");
    probe.hidden = true;
    probe.style.color = "var(" + variable + ", " + fallback + ")";
    (document.body || root).appendChild(probe);
    var value = getComputedStyle(probe).color;
    probe.parentNode.removeChild(probe);
    return toRgb(value || fallback, fallback);
  }

  function axisColors() {
    var dark = root.getAttribute("data-bs-theme") === "dark";
    return {
      text: cssColor("--tblr-body-color", dark ? "#dce1e7" : "#1d273b"),
      muted: cssColor("--tblr-secondary", dark ? "#9ba9be" : "#667382"),
      grid: cssColor("--tblr-border-color", dark ? "#2d3748" : "#e6e7e9"),
    };
  }

  /* Times: 24-hour UTC everywhere, as in the tables. */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function utcDay(d) { return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()); }
  function utcTime(d, seconds) {
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + (seconds ? ":" + pad(d.getUTCSeconds()) : "");
  }
  function formatTime(t, span) {
    var d = new Date(t * 1000);
    if (span > 3 * 86400) return pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    if (span > 86400) return pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + utcTime(d);
    return utcTime(d, span <= 300);
  }
  function formatInstant(t, daily) {
    if (t === null || t === undefined) return "–";
    var d = new Date(t * 1000);
    return daily ? utcDay(d) + " (UTC)" : utcDay(d) + " " + utcTime(d, true) + " UTC";
  }

  var AXIS_FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var measureCtx = null;

  function textWidth(text) {
    if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
    measureCtx.font = AXIS_FONT;
    return measureCtx.measureText(text).width;
  }

  var BINARY_INCRS = (function () {
    var out = [];
    for (var k = 0; k < 6; k++) {
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (m) { out.push(m * Math.pow(1024, k)); });
    }
    return out.sort(function (a, b) { return a - b; });
  })();

  function daySplits(u, axisIdx, min, max) {
    // One tick per UTC day, at noon where the day's bar stands (billing's seed puts it there).
    var first = Math.floor(min / 86400) * 86400 + 43200;
    if (first < min) first += 86400;
    var days = [];
    for (var t = first; t <= max; t += 86400) days.push(t);
    var fit = Math.max(1, Math.floor((u.bbox.width / (window.devicePixelRatio || 1)) / 48));
    var step = Math.max(1, Math.ceil(days.length / fit));
    return days.filter(function (_, i) { return i % step === 0; });
  }

  function buildPlot(entry) {
    var el = entry.el;
    var unit = el.getAttribute("data-unit") || "";
    var daily = el.getAttribute("data-kind") === "daily-bars";
    var labels = (el.getAttribute("data-labels") || el.getAttribute("data-series") || "").split(",");
    var colors = axisColors();
    var series = [{
      label: "Time (UTC)",
      value: function (u, v) { return formatInstant(v, daily); },
    }];
    for (var i = 0; i < entry.keys.length; i++) {
      var s = {
        label: (labels[i] || entry.keys[i]).trim(),
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        value: function (u, v) { return formatValue(unit, v); },
      };
      if (daily) {
        s.fill = PALETTE[i % PALETTE.length];
        s.width = 0;
        s.paths = window.uPlot.paths.bars({ size: [0.7, 48], align: 0 });
        s.points = { show: false };
      }
      series.push(s);
    }
    var axis = {
      stroke: colors.text,
      font: AXIS_FONT,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1 },
    };
    var xAxis = Object.assign({}, axis, {
      size: 36,
      space: 70,
      values: function (u, vals) {
        var span = u.scales.x.max - u.scales.x.min;
        return vals.map(function (v) { return daily ? formatTime(v, 7 * 86400) : formatTime(v, span); });
      },
    });
    if (daily) xAxis.splits = daySplits;
    var yAxis = Object.assign({}, axis, {
      // Wide enough for the longest label, so none is clipped ("?7.7 KiB/s").
      size: function (u, values) {
        var widest = 0;
        (values || []).forEach(function (v) { widest = Math.max(widest, textWidth(String(v))); });
        return Math.max(40, Math.ceil(widest) + 18);
      },
      values: function (u, vals) { return vals.map(function (v) { return formatValue(unit, v); }); },
    });
    if (unit === "bytes" || unit === "size") yAxis.incrs = BINARY_INCRS; // steps of 2^n B: 256 KiB/s, 1.0 MiB/s, never 97.7 KiB/s
    var xScale = { time: true };
    if (daily) {
      xScale.range = function (u, min, max) {
        if (min === null || max === null) return [min, max];
        return [min - 43200, max + 43200]; // half a day each side: the first and last bar show whole
      };
    }
    if (entry.plot) entry.plot.destroy();
    entry.plot = new window.uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height: parseInt(el.getAttribute("data-height") || "220", 10),
        tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
        series: series,
        axes: [xAxis, yAxis],
        // From zero, with a little headroom so the highest point is not cut at the top edge.
        scales: { x: xScale, y: { range: function (u, min, max) { return [0, Math.max((max || 0) * 1.12, 1)]; } } },
        cursor: { drag: { x: false, y: false } },
      },
      entry.data,
      el
    );
    entry.colors = colors;
  }

  function seriesData(keys, seed) {
    var data = [(seed && seed.t ? seed.t : []).slice()];
    keys.forEach(function (k) {
      var column = (seed && seed[k] ? seed[k] : []).slice();
      while (column.length < data[0].length) column.push(null);
      data.push(column);
    });
    return data;
  }

  function initChart(el) {
    if (!window.uPlot || el.__skiffChart) return;
    var keys = (el.getAttribute("data-series") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    var seed = null;
    var initialId = el.getAttribute("data-initial");
    var initialEl = initialId ? document.getElementById(initialId) : null;
    if (initialEl) {
      try { seed = JSON.parse(initialEl.textContent); } catch (e) { seed = null; /* start empty */ }
    }
    var data = seriesData(keys, seed);
    var entry = { el: el, keys: keys, data: data, window: parseFloat(el.getAttribute("data-window") || "300"), plot: null };
    el.__skiffChart = entry;
    charts.push(entry);
    buildPlot(entry);
    if (window.ResizeObserver) {
      entry.ro = new ResizeObserver(function () {
        if (entry.plot) entry.plot.setSize({ width: Math.max(el.clientWidth, 200), height: entry.plot.height });
      });
      entry.ro.observe(el);
    }
  }

  function initCharts(scope) {
    var els = (scope || document).querySelectorAll("[data-skiff-chart]");
    for (var i = 0; i < els.length; i++) initChart(els[i]);
    // Forget charts whose element left the page (htmx swap).
    charts = charts.filter(function (c) {
      if (document.body.contains(c.el)) return true;
      if (c.ro) c.ro.disconnect();
      if (c.plot) c.plot.destroy();
      return false;
    });
  }

  function appendPoint(c, t, values) {
    var last = c.data[0].length ? c.data[0][c.data[0].length - 1] : null;
    if (last !== null && t <= last) return; // a repeated or late document
    c.data[0].push(t);
    c.keys.forEach(function (k, i) {
      var v = values ? values[k] : null;
      c.data[i + 1].push(typeof v === "number" ? v : null);
    });
    if (c.window > 0) {
      var cutoff = t - c.window;
      while (c.data[0].length && c.data[0][0] < cutoff) {
        for (var j = 0; j < c.data.length; j++) c.data[j].shift();
      }
    }
    if (c.plot) c.plot.setData(c.data);
  }

  function pushSample(name, t, values) {
    charts.forEach(function (c) {
      if (c.el.getAttribute("data-skiff-chart") === name) appendPoint(c, t, values);
    });
  }

  function sourceValues(doc, source) {
    if (source === "cluster") return doc.cluster || {};
    if (source.indexOf("topic:") === 0) {
      var topics = doc.topics || {};
      var name = source.slice(6);
      return Object.prototype.hasOwnProperty.call(topics, name) ? topics[name] : {
        bytes_in_per_sec: 0, bytes_out_per_sec: 0, messages_in_per_sec: 0,
      };
    }
    return null;
  }

  function pushDocument(doc) {
    var t = Date.parse(doc.ts) / 1000;
    if (!isFinite(t)) return;
    charts.forEach(function (c) {
      var source = c.el.getAttribute("data-skiff-source");
      var values = source ? sourceValues(doc, source) : null;
      if (values) appendPoint(c, t, values);
    });
  }

  function loadChart(el, seed) {
    var entry = el.__skiffChart;
    if (!entry) { initChart(el); entry = el.__skiffChart; }
    if (!entry) return;
    entry.data = seriesData(entry.keys, seed);
    if (entry.plot) entry.plot.setData(entry.data);
  }

  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var msg = evt.detail && evt.detail.message;
    if (typeof msg !== "string" || msg.charAt(0) !== "{") return;
    var sample;
    try { sample = JSON.parse(msg); } catch (e) { return; }
    evt.preventDefault(); // not HTML: do not let htmx swap it
    if (sample && typeof sample.ts === "string" && sample.cluster) {
      pushDocument(sample);
    } else if (sample && sample.chart && typeof sample.t === "number") {
      pushSample(sample.chart, sample.t, sample.values || {});
    }
    document.dispatchEvent(new CustomEvent("skiff:sample", { detail: sample }));
  });

  document.addEventListener("skiff:theme", function () {
    charts.forEach(buildPlot); // axis colours follow the theme
  });
  /* A region that scrolls sideways (a wide table on a phone) must be reachable with the
   * keyboard: give it a tab stop while it overflows, and none when it does not. */
  var SCROLLERS = ".table-responsive, .page-body table.table, pre.skiff-snippet, .skiff-full";

  function markScrollable() {
    var els = document.querySelectorAll(SCROLLERS);
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var scrolls = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
      if (scrolls && getComputedStyle(el).overflowX !== "visible") {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          el.setAttribute("data-skiff-scroll-stop", "");
        }
      } else if (el.hasAttribute("data-skiff-scroll-stop")) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-skiff-scroll-stop");
      }
    }
  }

  var scrollTimer = null;
  window.addEventListener("resize", function () {
    if (scrollTimer) window.clearTimeout(scrollTimer);
    scrollTimer = window.setTimeout(markScrollable, 100);
  });
  document.addEventListener("toggle", markScrollable, true); // a <details> opened or closed

  document.addEventListener("DOMContentLoaded", function () {
    applyTheme(); // sets aria-pressed on toggles that now exist
    initCharts(document);
    markScrollable();
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    initCharts(evt.target);
    markScrollable();
  });

  window.Skiff = {
    setTheme: setTheme,
    theme: effectiveTheme,
    csrfToken: csrfToken,
    charts: { init: initCharts, push: pushSample, pushDocument: pushDocument, load: loadChart },
    format: formatValue,
  };
})();
