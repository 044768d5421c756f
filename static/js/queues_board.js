// The Queues board (issue 17): one uPlot chart per queue of completed and failed per minute over the
// last hour, redrawn from the JSON that refresh.js swaps in, and the workers part, fetched beside
// the page every 5 s (Celery's inspect answers take about a second). Plain JavaScript, no build step.
(function () {
  "use strict";
  var board = document.querySelector(".board");
  if (!board) return;
  var zone = board.dataset.viewerTz || "UTC";
  var charts = {};
  // Axis and legend times in the viewer's zone, 24-hour, like the rest of the pages.
  var hhmm = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  var full = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, weekday: "short", day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short",
  });

  function data() {
    var el = document.getElementById("chart-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  function seriesOf(t) {
    return [t.minutes, t.completed, t.failed];
  }

  function draw() {
    var all = data();
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var t = all[el.dataset.chart];
      if (!t || !window.uPlot) return;
      if (charts[el.dataset.chart]) {
        charts[el.dataset.chart].setData(seriesOf(t));
        return;
      }
      var width = Math.max(300, el.clientWidth || 600);
      charts[el.dataset.chart] = new window.uPlot({
        width: width,
        height: 170,
        tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), zone); },
        scales: { y: { range: function (u, min, max) { return [0, Math.max(4, max)]; } } },
        axes: [
          { values: function (u, splits) { return splits.map(function (ts) { return hhmm.format(new Date(ts * 1000)); }); } },
          { label: "per minute", size: 50 },
        ],
        series: [
          { label: "minute", value: function (u, ts) { return ts == null ? "—" : full.format(new Date(ts * 1000)); } },
          { label: "completed", stroke: "#12805c", fill: "rgba(18,128,92,.08)", width: 2 },
          { label: "failed", stroke: "#c4320a", width: 2 },
        ],
      }, seriesOf(t), el);
    });
  }

  function loadWorkers() {
    var box = document.getElementById("workers");
    if (!box || document.hidden) return;
    fetch(box.dataset.workersUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) box.innerHTML = html; })
      .catch(function () { /* try again on the next tick */ });
  }

  document.addEventListener("jobserver:refreshed", draw);
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = charts[el.dataset.chart];
      if (chart) chart.setSize({ width: Math.max(300, el.clientWidth), height: 170 });
    });
  });
  draw();
  loadWorkers();
  window.setInterval(loadWorkers, 5000);
})();
