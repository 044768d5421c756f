// Keep the server-rendered parts of a page current (issue 17): elements marked data-refresh (by id)
// are swapped for the same elements of a fresh GET of the page, so every time on the page keeps
// coming from the one template filter. Plain browser JavaScript, no build step.
//
// What triggers a refresh is said on <main> (or any element) with data-refresh-on:
//   "socket" (default): job and schedule events on the page's websocket (live_socket.js), except
//            the streaming ones (progress, delta); data-refresh-job / data-refresh-schedule narrow
//            them to one job or one schedule; after each (re)connect the page refreshes once.
//   "poll":  every data-refresh-ms milliseconds (default 2000): the Queues board, whose counts
//            span every user's jobs, which no one user's socket carries.
// Refreshes are throttled (at most one fetch in flight, one a second), skipped while the tab is
// hidden (one runs when it shows again), and keep the checked boxes of bulk-action forms.
(function () {
  "use strict";

  if (!document.querySelector("[data-refresh][id]")) return;
  var config = document.querySelector("[data-refresh-on]");
  var mode = config ? config.dataset.refreshOn : "socket";
  var onlyJob = config && config.dataset.refreshJob;
  var onlySchedule = config && config.dataset.refreshSchedule;
  var STREAMING = { progress: true, delta: true };
  var IGNORED = { ping: true, pong: true, subscribed: true, unsubscribed: true, snapshot: true, error: true };
  var inFlight = false, again = false, last = 0, timer = null, missed = false;

  function checkedBoxes() {
    var checked = {};
    document.querySelectorAll("[data-refresh][id] input[type=checkbox]:checked").forEach(function (box) {
      checked[box.name + "=" + box.value] = true;
    });
    return checked;
  }

  // Every response carries a new masked CSRF token: a part that differs only by it is unchanged, and
  // is left alone (a button is not swapped under the pointer, a select keeps what was chosen).
  function same(a, b) {
    var token = /name="csrfmiddlewaretoken" value="[^"]*"/g;
    return a.replace(token, "") === b.replace(token, "");
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var checked = checkedBoxes();
    document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
      var fresh = doc.getElementById(el.id);
      if (fresh && !same(fresh.innerHTML, el.innerHTML)) el.innerHTML = fresh.innerHTML;
    });
    document.querySelectorAll("[data-refresh][id] input[type=checkbox]").forEach(function (box) {
      if (checked[box.name + "=" + box.value]) box.checked = true;
    });
    document.dispatchEvent(new CustomEvent("jobserver:refreshed"));
  }

  function fetchNow() {
    if (document.hidden) { missed = true; return; }
    if (inFlight) { again = true; return; }
    inFlight = true;
    last = Date.now();
    fetch(location.href, { credentials: "same-origin", headers: { "X-Requested-With": "refresh" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) swap(html); })
      .catch(function () { /* offline for a moment: the next event or tick tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; refresh(); }
      });
  }

  // Throttled: the first event of a burst waits 250 ms for the rest, and fetches are a second apart.
  function refresh() {
    if (timer) return;
    var wait = Math.max(250, 1000 - (Date.now() - last));
    timer = window.setTimeout(function () { timer = null; fetchNow(); }, wait);
  }

  function relevant(m) {
    if (!m.event || IGNORED[m.event] || STREAMING[m.event]) return false;
    if (onlyJob && String(m.jobId) !== onlyJob) return false;
    if (onlySchedule && m.scheduleId !== onlySchedule) return false;
    return true;
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && missed) { missed = false; refresh(); }
  });

  if (mode === "poll") {
    var every = Number((config && config.dataset.refreshMs) || 2000);
    window.setInterval(fetchNow, every);
    return;
  }
  window.jobserverSocket.listen({
    // Events between the page's render (or a drop) and this (re)connect were missed: catch up once.
    onOpen: function () { refresh(); },
    onMessage: function (m) { if (relevant(m)) refresh(); },
  });
  window.jobserverRefresh = refresh;
})();
