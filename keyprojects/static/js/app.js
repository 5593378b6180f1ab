// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Ask before leaving a project form with unsaved changes.
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.kp-project-form");
    if (!form) return;
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
  });
})();
