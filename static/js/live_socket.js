// The page's one websocket to /ws/jobs/ (issue 17), shared by live.js (streamed output, progress)
// and refresh.js (server-rendered parts). Plain browser JavaScript, no build step.
//
//   jobserverSocket.listen({onOpen: function (send) {...}, onMessage: function (message) {...}})
//
// Reconnects with exponential backoff (0.5 s doubling to 30 s, with jitter) and calls every
// listener's onOpen after each (re)connect, so each can resync what it shows. A close with code
// 4401 (signed out) stops reconnecting. The [data-live-status] badge, if the page has one, says
// where the socket stands.
(function () {
  "use strict";

  var listeners = [];
  var socket = null;
  var attempt = 0;
  var started = false;

  function setStatus(text, state) {
    var el = document.querySelector("[data-live-status]");
    if (!el) return;
    el.textContent = text;
    el.className = "badge " + (state || "");
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    setStatus("connecting…", "");
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(proto + "//" + window.location.host + "/ws/jobs/");
    socket.onopen = function () {
      attempt = 0;
      setStatus("live", "completed");
      listeners.forEach(function (l) { if (l.onOpen) l.onOpen(send); });
    };
    socket.onmessage = function (e) {
      var message;
      try {
        message = JSON.parse(e.data);
      } catch (err) {
        window.console.warn("live: bad message", err);
        return;
      }
      if (!message || typeof message !== "object") return;
      listeners.forEach(function (l) { if (l.onMessage) l.onMessage(message); });
    };
    socket.onclose = function (e) {
      socket = null;
      if (e.code === 4401) {
        setStatus("signed out: reload the page to sign in", "failed");
        return;
      }
      var delay = Math.min(30000, 500 * Math.pow(2, attempt));
      attempt += 1;
      delay = delay / 2 + Math.random() * (delay / 2);
      setStatus("reconnecting in " + Math.ceil(delay / 1000) + " s", "delayed");
      window.setTimeout(connect, delay);
    };
  }

  window.jobserverSocket = {
    listen: function (listener) {
      listeners.push(listener);
      if (!started) {
        started = true;
        connect();
      } else if (socket && socket.readyState === WebSocket.OPEN && listener.onOpen) {
        listener.onOpen(send);
      }
      return send;
    },
  };
})();
