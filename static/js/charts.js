/* Charts from server-built configs, without inline scripts (CSP-friendly).
 *
 * Contract: <canvas data-chart="ID"> next to {{ config|json_script:"ID" }}. The config is a plain
 * Chart.js config dict built in Python; user text reaches the page only through json_script.
 * Optional: data-chart-format="percent" on the canvas shows y values (0–100) as "12.5 %" on the
 * axis and in tooltips (functions cannot travel in JSON).
 *
 * Runs on page load, after every HTMX swap (htmx:afterSettle) and after HTMX restores a page from
 * its history cache (htmx:historyRestore). A canvas that already has a chart
 * gets it destroyed before a new one is built, and charts whose canvas left the page are destroyed,
 * so swapping a fragment in again and again does not leak charts.
 */
(function () {
  "use strict";

  function formatPercent(value) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    return (Math.round(value * 10) / 10).toLocaleString(document.documentElement.lang || undefined) + " %";
  }

  function applyFormat(canvas, config) {
    if (canvas.getAttribute("data-chart-format") !== "percent") return config;
    var options = (config.options = config.options || {});
    options.scales = options.scales || {};
    options.scales.y = options.scales.y || {};
    options.scales.y.ticks = Object.assign({}, options.scales.y.ticks, {
      callback: function (value) { return formatPercent(value); },
    });
    options.plugins = options.plugins || {};
    options.plugins.tooltip = Object.assign({}, options.plugins.tooltip, {
      callbacks: {
        label: function (ctx) { return (ctx.dataset.label || "") + ": " + formatPercent(ctx.parsed.y); },
      },
    });
    return config;
  }

  function build(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    var config;
    try {
      config = JSON.parse(source.textContent);
    } catch (error) {
      if (window.console) console.error("charts.js: unreadable config", canvas, error);
      return;
    }
    var old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    new window.Chart(canvas, applyFormat(canvas, config));
  }

  function forget() {
    // Charts of canvases an HTMX swap removed from the page.
    Object.keys(window.Chart.instances || {}).forEach(function (id) {
      var chart = window.Chart.instances[id];
      if (chart && chart.canvas && !chart.canvas.isConnected) chart.destroy();
    });
  }

  function render(swapped) {
    if (typeof window.Chart === "undefined") return;
    forget();
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      // New canvases (every swap brings new elements) and canvases inside the swapped part, whose
      // config may have changed; charts elsewhere on the page stay as they are.
      var inSwap = swapped && swapped.isConnected && (swapped === canvas || swapped.contains(canvas));
      if (inSwap || !window.Chart.getChart(canvas)) build(canvas);
    });
  }

  function start() {
    render(null);
    document.body.addEventListener("htmx:afterSettle", function (event) {
      render(event.detail ? event.detail.elt : null);
    });
    // "Back" after an HTMX navigation restores a snapshot of the page: its canvases are new and blank.
    document.body.addEventListener("htmx:historyRestore", function () {
      render(null);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
