// PharmaTrace dashboard: progressive enhancement only (every page works
// without JavaScript). Confirms destructive actions and requires a close
// reason before an anomaly is closed.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
    return;
  }
  if (form.id === "close-form") {
    var reason = form.querySelector("select[name=reason]");
    if (reason && !reason.value) {
      ev.preventDefault();
      reason.focus();
    }
  }
});
// Drop empty filter fields from the query string.
document.addEventListener("DOMContentLoaded", function () {
  var f = document.getElementById("filter-form");
  if (!f) return;
  f.addEventListener("submit", function () {
    Array.prototype.forEach.call(f.elements, function (el) {
      if (el.name && !el.value) el.disabled = true;
    });
  });
});
