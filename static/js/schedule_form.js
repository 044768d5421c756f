// Schedule form (issue 17): show the fields of the chosen kind, and preview the description and the
// next five fire times as the user types. The preview posts the form itself to
// /app/schedules/preview/, which reads it exactly as the submit does (dates in the viewer's zone,
// the interval in its unit) and answers with times rendered like every time on the pages and
// errors in the form's words. No error is shown before the user has changed a field, and then only
// under the fields they changed (the server shows the rest on submit).
(function () {
  "use strict";
  var form = document.getElementById("schedule-form");
  if (!form) return;
  var touched = {}, timer = null, seq = 0;

  function kind() { var el = form.querySelector("input[name=kind]:checked"); return el ? el.value : "cron"; }

  function showKind() {
    ["cron", "every", "at"].forEach(function (k) {
      form.querySelectorAll(".kind-" + k).forEach(function (el) { el.hidden = kind() !== k; });
    });
  }

  function csrf() { var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }

  function showErrors(errors) {
    Object.keys(touched).forEach(function (name) {
      var ul = form.querySelector('[data-errors-for="' + name + '"]');
      if (!ul) return;
      ul.innerHTML = "";
      (errors[name] || []).forEach(function (msg) {
        var li = document.createElement("li");
        li.textContent = msg;
        ul.appendChild(li);
      });
    });
  }

  function render(body) {
    var ol = document.getElementById("preview-next");
    var description = document.getElementById("preview-description");
    var empty = document.getElementById("preview-empty");
    var complete = !!body.description;  // set only when the schedule itself is complete and valid
    description.innerHTML = complete ? body.description : "";  // server-rendered, escaped HTML
    ol.innerHTML = "";
    (complete ? body.times : []).forEach(function (html) {
      var li = document.createElement("li");
      li.innerHTML = html;
      ol.appendChild(li);
    });
    empty.hidden = !!complete && body.times.length > 0;
    empty.textContent = complete ? "It never fires." : "Fill in the schedule to see when it fires.";
  }

  function preview() {
    var mine = ++seq;
    fetch(form.dataset.previewUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() }, body: new FormData(form),
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || mine !== seq) return;  // a newer preview is on its way
        render(body);
        showErrors(body.errors || {});
      })
      .catch(function () { /* offline for a moment: the next change tries again */ });
  }

  function changed(e) {
    if (e.target && e.target.name) touched[e.target.name] = true;
    showKind();
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  showKind();
  preview();
})();
