// The escalate form: show only the chosen path's fields and the bug report
// where a bug report belongs (Engineering and Tier 3).
(function () {
  "use strict";
  var form = document.getElementById("escalate-form");
  if (!form) {
    return;
  }
  var pathSelect = form.querySelector("select[name=path]");
  var bugPaths = ["engineering", "tier2_to_tier3"];

  function update() {
    var path = pathSelect.value;
    form.querySelectorAll("[data-path-section]").forEach(function (section) {
      var key = section.getAttribute("data-path-section");
      var shown = key === "bug" ? bugPaths.indexOf(path) !== -1 : key === path;
      section.hidden = !shown;
    });
  }

  pathSelect.addEventListener("change", update);
  update();
})();
