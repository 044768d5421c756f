// Keep parts of a page current without a websocket: every few seconds, fetch the same URL and
// swap in the elements marked data-refresh (by id). Stops while the tab is hidden.
(function () {
  var parts = document.querySelectorAll("[data-refresh][id]");
  if (!parts.length) return;
  var every = Number(document.body.dataset.refreshMs || 3000);
  function tick() {
    if (document.hidden) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Requested-With": "refresh" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
        });
      })
      .catch(function () { /* offline for a moment: try again next tick */ });
  }
  setInterval(tick, every);
})();
