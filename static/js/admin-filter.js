// Makes a long <select data-filter="hint"> searchable: a box above it hides
// the options that do not contain what is typed ("new york" finds
// America/New_York) and picks the first match. Without this script the
// select still works as an ordinary one.
(function () {
  "use strict";
  function normalise(text) {
    return text.toLowerCase().replace(/[_\s/-]+/g, " ").trim();
  }
  function attach(select) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "select-filter";
    box.placeholder = select.getAttribute("data-filter") || "Type to filter";
    box.setAttribute("aria-label", box.placeholder);
    box.setAttribute("autocomplete", "off");
    var count = document.createElement("span");
    count.className = "select-filter-count";
    count.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(box, select);
    select.parentNode.insertBefore(count, select.nextSibling);
    box.addEventListener("input", function () {
      var wanted = normalise(box.value);
      var first = null;
      var shown = 0;
      Array.prototype.forEach.call(select.options, function (option) {
        var match = !wanted || option.value === "" ||
          normalise(option.textContent).indexOf(wanted) !== -1;
        option.hidden = !match;
        if (match && option.value !== "") {
          shown += 1;
          if (first === null) { first = option; }
        }
      });
      var current = select.options[select.selectedIndex];
      if (wanted && first !== null && (!current || current.hidden || current.value === "")) {
        select.value = first.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      count.textContent = wanted ? (shown === 1 ? "1 match" : shown + " matches") : "";
    });
    box.addEventListener("keydown", function (event) {
      // Enter picks the match; it must not submit the admin form.
      if (event.key === "Enter") {
        event.preventDefault();
        select.focus();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-filter]").forEach(attach);
  });
})();
