// The flow page (/app/flows/<flowId>/): each job node's state badge and the flow's status follow the
// page's /ws/jobs/ socket (live_socket.js). The socket narrows itself to this flow
// ({action: "subscribe", flowId}); after every (re)connect the page re-reads the tree from
// GET /flows/<flowId>/jobs so that nothing missed while disconnected stays stale, and every 5 s while
// the flow or one of its jobs has not ended (a lost event cannot leave the page stale).
(function () {
  "use strict";
  var root = document.getElementById("flow");
  if (!root || !window.jobserverSocket) return;
  var flowId = root.getAttribute("data-flow-id");
  // What the socket told since the last resync began: a snapshot answered later must not paint an
  // older state over it (the snapshot may have been read before the event happened).
  var fresh = {};
  var freshFlow = false;

  function setBadge(el, state) {
    if (!el) return;
    el.textContent = state;
    el.className = "badge " + state;
  }

  function paintJob(jobId, state) {
    var node = root.querySelector('.flow-node[data-job-id="' + String(jobId).replace(/"/g, '\\"') + '"]');
    if (node) setBadge(node.querySelector(':scope > [data-field="state"]'), state);
  }

  function paintTree(node) {
    if (!fresh[node.jobId]) paintJob(node.jobId, node.state);
    (node.children || []).forEach(paintTree);
  }

  function resync() {
    fresh = {};
    freshFlow = false;
    fetch("/flows/" + encodeURIComponent(flowId) + "/jobs", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (tree) { if (tree) paintTree(tree); })
      .catch(function () {});
    fetch("/flows/" + encodeURIComponent(flowId), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (flow) { if (flow && !freshFlow) paintFlow(flow.status, flow.progress); })
      .catch(function () {});
  }

  function paintFlow(status, progress) {
    setBadge(document.getElementById("flow-status"), status);
    var p = document.getElementById("flow-progress");
    if (p && progress) p.textContent = progress.completed + " / " + progress.total + " jobs completed";
  }

  // Safety net: while the flow runs, re-read it every few seconds, so a live event lost on the way
  // (a busy server, a subscription still being set up) cannot leave the page stale for long.
  var FINAL = ["completed", "failed", "cancelled"];
  setInterval(function () {
    var shown = document.getElementById("flow-status");
    if (!shown || FINAL.indexOf(shown.textContent) < 0 || root.querySelector('.flow-node > [data-field="state"]:not(.completed):not(.failed):not(.cancelled)')) resync();
  }, 5000);

  window.jobserverSocket.listen({
    onOpen: function (send) {
      send({action: "subscribe", flowId: flowId});
      resync();
    },
    onMessage: function (m) {
      if (m.flowId !== flowId) return;
      if (m.event === "flow:updated") {
        freshFlow = true;
        paintFlow(m.status, m.progress);
        // The flow ended: read the whole tree once more, so no job's last state can be missing.
        if (["completed", "failed", "cancelled"].indexOf(m.status) >= 0) resync();
      } else if (m.event === "flow:deleted") {
        window.location.assign("/app/flows/");
      } else if (m.jobId && m.state && m.event && m.event.indexOf("flow:") !== 0) {
        fresh[m.jobId] = true;
        paintJob(m.jobId, m.state);
      }
    },
  });
})();
