// Schedule form: show the fields of the chosen kind, and preview the description and the next five
// fire times from POST /jobs/schedule/preview (the same service beat uses), with errors inline.
(function () {
  var form = document.getElementById("schedule-form");
  if (!form) return;
  var viewerTz = form.dataset.viewerTz || "UTC";
  var errorFields = JSON.parse(form.dataset.errorFields || "{}");
  var UNITS = { ms: 1, s: 1000, min: 60000, h: 3600000, d: 86400000 };
  var touched = false, timer = null, seq = 0;

  function val(name) { var el = form.elements[name]; return el ? el.value.trim() : ""; }
  function kind() { var el = form.querySelector("input[name=kind]:checked"); return el ? el.value : "cron"; }

  function showKind() {
    ["cron", "every", "at"].forEach(function (k) {
      form.querySelectorAll(".kind-" + k).forEach(function (el) { el.hidden = kind() !== k; });
    });
  }

  // Offset (ms) of `tz` at instant `date`, from the wall time Intl shows there.
  function offsetMs(date, tz) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    var wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
    return wall - Math.floor(date.getTime() / 1000) * 1000;
  }

  // A datetime-local value read in the viewer's zone (as the server reads it) → ISO UTC.
  function wallToIso(value) {
    if (!value) return null;
    var p = value.split(/[-T:]/).map(Number);
    var guess = Date.UTC(p[0], p[1] - 1, p[2], p[3] || 0, p[4] || 0, p[5] || 0);
    var off = offsetMs(new Date(guess), viewerTz), t = guess - off;
    var off2 = offsetMs(new Date(t), viewerTz);
    if (off2 !== off) t = guess - off2;
    return new Date(t).toISOString().replace(".000Z", "Z");
  }

  function number(v) { return v === "" ? null : Number(v); }

  // Mirrors SchedulePageForm.schedule_spec(); the server validates it.
  function spec() {
    var s = {}, k = kind(), limit = number(val("limit"));
    if (k === "cron") {
      s = { cron: val("cron_expression"), tz: val("time_zone") || "UTC" };
      if (form.elements.immediately && form.elements.immediately.checked) s.immediately = true;
    } else if (k === "every") {
      var every = number(val("every"));
      s = { repeat: { every: every === null ? null : Math.round(every * UNITS[val("every_unit") || "s"] * 1000) / 1000 } };
      if (limit !== null) s.repeat.limit = limit;
      if (number(val("offset")) !== null) s.repeat.offset = number(val("offset"));
    } else if (val("at")) s = { at: wallToIso(val("at")) };
    if (limit !== null && k !== "every") s.limit = limit;
    if (val("start_at")) s.startDate = wallToIso(val("start_at"));
    if (val("end_at")) s.endDate = wallToIso(val("end_at"));
    s.overlap = val("overlap") || "allow";
    return s;
  }

  function csrf() { var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }

  function clearErrors() {
    form.querySelectorAll("[data-errors-for]").forEach(function (ul) { ul.innerHTML = ""; });
  }

  function showErrors(errors) {
    Object.keys(errors || {}).forEach(function (key) {
      var field = Object.prototype.hasOwnProperty.call(errorFields, key) ? errorFields[key] : null;
      var ul = form.querySelector('[data-errors-for="' + (field || "__all__") + '"]');
      if (!ul) return;
      errors[key].forEach(function (msg) { var li = document.createElement("li"); li.textContent = msg; ul.appendChild(li); });
    });
  }

  var fmt = new Intl.DateTimeFormat("en-GB", { timeZone: viewerTz, weekday: "short", year: "numeric", month: "short",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });

  function render(body) {
    document.getElementById("preview-description").textContent = body.description;
    var ol = document.getElementById("preview-next");
    ol.innerHTML = "";
    body.next.forEach(function (iso) {
      var li = document.createElement("li"), t = document.createElement("time");
      t.dateTime = iso; t.title = iso.replace("T", " ").replace("Z", " UTC"); t.textContent = fmt.format(new Date(iso));
      li.appendChild(t); ol.appendChild(li);
    });
    if (!body.next.length) ol.innerHTML = "<li class='muted'>no fire time</li>";
  }

  function preview() {
    var mine = ++seq, body = { schedule: spec(), count: 5 };
    if (val("preview_from")) body.from = val("preview_from");
    fetch("/jobs/schedule/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (mine !== seq) return;  // a newer preview is on its way
        var err = document.getElementById("preview-error");
        if (touched) clearErrors();
        if (res.ok) { err.textContent = ""; render(res.body); return; }
        err.textContent = res.body.message || "Preview failed";
        document.getElementById("preview-next").innerHTML = "";
        document.getElementById("preview-description").textContent = "";
        if (touched) showErrors(res.body.errors);
      });
  }

  function schedulePreview() { clearTimeout(timer); timer = setTimeout(preview, 250); }
  form.addEventListener("input", function () { touched = true; showKind(); schedulePreview(); });
  form.addEventListener("change", function () { touched = true; showKind(); schedulePreview(); });
  showKind();
  preview();
})();
