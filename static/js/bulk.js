// Bulk forms (jobs list, Queues board): "select all" and the count of ticked jobs, kept right when
// refresh.js swaps the rows. Submitting with nothing ticked is stopped here (the server refuses it too).
(function () {
  "use strict";
  document.querySelectorAll("form[data-bulk], #bulk-form").forEach(function (form) {
    function boxes() { return form.querySelectorAll("input[type=checkbox][name=job]"); }
    function update() {
      var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
      form.querySelectorAll("[data-selected-count]").forEach(function (el) { el.textContent = n + " selected"; });
      var all = form.querySelector("[data-select-all]");
      if (all) all.checked = n > 0 && n === boxes().length;
    }
    form.addEventListener("change", function (e) {
      if (e.target.matches("[data-select-all]")) {
        boxes().forEach(function (b) { b.checked = e.target.checked; });
      }
      update();
    });
    form.addEventListener("submit", function (e) {
      var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
      if (!n) { e.preventDefault(); window.alert("Select at least one job."); return; }
      var action = form.querySelector("[name=action]");
      if (action && action.value === "delete" && !window.confirm("Delete " + n + " job(s)?")) e.preventDefault();
    });
    document.addEventListener("jobserver:refreshed", update);
    update();
  });
})();
