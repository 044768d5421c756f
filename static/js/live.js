// Live job status over /ws/jobs/ (issue 7). Plain browser JavaScript, no build step.
//
// Two pages use it: the live list (#live[data-mode=list]: the user's recent jobs, one of them
// selected and shown in the panel) and the job detail page (#live[data-mode=job]: one job).
// The server renders the current state; this script keeps it current from the socket's events
// (the socket and its reconnects are live_socket.js's) and, after every (re)connect, resyncs by
// asking for a snapshot of each job that may have changed meanwhile. Elements to update are marked
// with data-field="state|bar|percent|output|outcome|result|error|attempts|title". It never writes
// a time: times are the server's (one template filter), re-rendered by refresh.js.
(function () {
  "use strict";

  var root = document.getElementById("live");
  if (!root) return;
  var mode = root.dataset.mode;
  var listEl = root.querySelector("[data-live-jobs]");
  var emptyEl = root.querySelector("[data-live-empty]");
  var panel = root.querySelector("[data-live-panel]") || root;
  var FINISHED = { completed: true, failed: true, cancelled: true };
  var selected = root.dataset.jobId || null;
  var jobs = {}; // jobId -> what we know: {name, state, progress, result, error, ...}
  var pendingSnapshot = {}; // jobId -> true while a snapshot is on its way
  var afterSnapshot = {}; // jobId -> true until the first delta after a snapshot

  function fields(el, name) {
    return el ? el.querySelectorAll('[data-field="' + name + '"]') : [];
  }

  function each(list, fn) {
    Array.prototype.forEach.call(list, fn);
  }

  function rowOf(jobId) {
    return listEl ? listEl.querySelector('[data-job-id="' + jobId + '"]') : null;
  }

  // Same rule as jobs/live_views.py live_percent: a number, or an object with "percent".
  function percentOf(job) {
    if (job.state === "completed") return 100;
    var p = job.progress;
    if (p && typeof p === "object") p = p.percent;
    if (typeof p !== "number" || isNaN(p)) return null;
    return Math.max(0, Math.min(100, Math.round(p)));
  }

  function paint(el, job) {
    if (!el) return;
    if (job.state) {
      each(fields(el, "state"), function (b) {
        b.textContent = job.state;
        b.className = "badge " + job.state;
      });
    }
    var pct = percentOf(job);
    if (pct !== null) {
      each(fields(el, "bar"), function (bar) {
        bar.style.width = pct + "%";
        bar.parentNode.setAttribute("aria-valuenow", String(pct));
      });
      each(fields(el, "percent"), function (t) {
        t.textContent = pct + "%";
      });
    }
    if (FINISHED[job.state]) {
      each(fields(el, "outcome"), function (o) {
        o.className = "live-outcome " + job.state;
        if (job.state === "completed") o.textContent = "Result: " + JSON.stringify(job.result);
        else if (job.state === "failed") o.textContent = "Error: " + (job.error || "");
        else o.textContent = "Cancelled";
      });
    }
    if ("result" in job) {
      each(fields(el, "result"), function (r) {
        r.textContent = job.result === null || job.result === undefined ? "—" : JSON.stringify(job.result, null, 2);
      });
    }
    if ("error" in job) {
      each(fields(el, "error"), function (r) {
        r.textContent = job.error || "—";
      });
    }
    if ("attemptsMade" in job) {
      each(fields(el, "attempts"), function (t) { t.textContent = String(job.attemptsMade); });
    }
  }

  function render(jobId) {
    var job = jobs[jobId];
    var row = rowOf(jobId);
    if (row) {
      if (job.state) row.dataset.state = job.state;
      paint(row, job);
    }
    if (jobId === selected) paint(panel, job);
  }

  function setOutput(text) {
    each(fields(panel, "output"), function (o) { o.textContent = text; });
  }

  function appendOutput(jobId, text) {
    if (afterSnapshot[jobId]) {
      // The first delta after a snapshot may carry text the snapshot already had (it was stored
      // before the snapshot was read, but sent just after): skip it if the output ends with it.
      afterSnapshot[jobId] = false;
      var out = fields(panel, "output")[0];
      if (out && text && out.textContent.slice(-text.length) === text) return;
    }
    each(fields(panel, "output"), function (o) {
      o.appendChild(document.createTextNode(text));
      o.scrollTop = o.scrollHeight;
    });
  }

  function addRow(m) {
    if (!listEl || rowOf(m.jobId)) return;
    var li = document.createElement("li");
    li.className = "live-job";
    li.dataset.jobId = m.jobId;
    li.dataset.state = m.state;
    var a = document.createElement("a");
    a.className = "live-name";
    a.href = "/app/jobs/" + encodeURIComponent(m.jobId) + "/";
    a.textContent = m.name + " ";
    var id = document.createElement("span");
    id.className = "muted";
    id.textContent = "#" + m.jobId;
    a.appendChild(id);
    var badge = document.createElement("span");
    badge.className = "badge " + m.state;
    badge.dataset.field = "state";
    badge.textContent = m.state;
    var bar = document.createElement("div");
    bar.className = "progress";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", "0");
    var fill = document.createElement("span");
    fill.dataset.field = "bar";
    fill.style.width = "0%";
    bar.appendChild(fill);
    var pct = document.createElement("span");
    pct.className = "mono";
    pct.dataset.field = "percent";
    pct.textContent = "0%";
    li.appendChild(a);
    li.appendChild(badge);
    li.appendChild(bar);
    li.appendChild(pct);
    listEl.insertBefore(li, listEl.firstChild);
    if (emptyEl) emptyEl.hidden = true;
  }

  function select(jobId) {
    if (mode !== "list") return;
    selected = jobId;
    each(listEl.querySelectorAll(".live-job"), function (row) {
      row.classList.toggle("selected", row.dataset.jobId === jobId);
    });
    var job = jobs[jobId] || {};
    each(fields(panel, "title"), function (t) { t.textContent = (job.name || "job") + " #" + jobId; });
    each(fields(panel, "outcome"), function (o) { o.textContent = ""; o.className = "live-outcome"; });
    setOutput("");
    paint(panel, job);
    snapshot(jobId);
  }

  function snapshot(jobId) {
    pendingSnapshot[jobId] = true;
    send({ action: "snapshot", jobId: jobId });
  }

  function resync() {
    if (mode === "job") {
      send({ action: "subscribe", jobId: selected });
      snapshot(selected);
      return;
    }
    each(listEl.querySelectorAll(".live-job"), function (row) {
      var id = row.dataset.jobId;
      if (!FINISHED[row.dataset.state] || id === selected) snapshot(id);
    });
  }

  function applySnapshot(m) {
    pendingSnapshot[m.jobId] = false;
    afterSnapshot[m.jobId] = true;
    jobs[m.jobId] = {
      name: m.name, state: m.state, progress: m.progress, result: m.result, error: m.failedReason,
      timestamps: m.timestamp, attemptsMade: m.attemptsMade,
    };
    if (m.jobId === selected) setOutput(m.output || "");
    render(m.jobId);
  }

  function onEvent(m) {
    var id = m.jobId;
    var job = jobs[id] || (jobs[id] = {});
    job.name = m.name;
    job.state = m.state;
    if (m.event === "progress") job.progress = m.progress;
    if (m.event === "completed") job.result = m.result;
    if (m.event === "failed") job.error = m.error;
    if (mode === "list" && !rowOf(id)) {
      addRow(m);
      var current = selected && jobs[selected];
      var currentRow = selected && rowOf(selected);
      // Follow the newest job unless the one on show is still running.
      if (!selected || (current ? FINISHED[current.state] : !currentRow || FINISHED[currentRow.dataset.state])) {
        select(id);
      }
    }
    // Deltas that arrive before the snapshot answer are already in it (the consumer answers in order).
    if (m.event === "delta" && id === selected && !pendingSnapshot[id]) appendOutput(id, m.content || "");
    render(id);
    // The outcome event carries no timestamps or attempts: fetch the final record once.
    if (FINISHED[m.event] && id === selected) snapshot(id);
  }

  function handle(m) {
    if (!m || typeof m !== "object") return;
    if (m.event === "snapshot") applySnapshot(m);
    else if (m.event === "error") window.console.warn("live:", m.message);
    else if (m.jobId && m.event !== "subscribed" && m.event !== "unsubscribed") {
      if (mode === "job" && m.jobId !== selected) return;
      onEvent(m);
    }
  }

  var send = window.jobserverSocket.listen({
    onOpen: function () { resync(); },
    onMessage: handle,
  });

  if (listEl) {
    listEl.addEventListener("click", function (e) {
      var row = e.target.closest(".live-job");
      if (!row || e.target.closest("a")) return;
      select(row.dataset.jobId);
    });
  }
})();
