// Narrow the composer's template list as the agent types: every group opens
// while a search is on, and Enter opens the first match. Without this script
// the grouped list works as it is.
(function () {
  "use strict";
  var box = document.getElementById("template-search");
  var list = document.getElementById("template-list");
  if (!box || !list) { return; }
  var groups = Array.prototype.slice.call(list.querySelectorAll("details"));
  var wasOpen = groups.map(function (group) { return group.open; });
  var status = document.getElementById("template-search-status");
  box.hidden = false;
  box.parentElement.hidden = false;

  function matches() {
    return list.querySelectorAll(".template-choice:not([hidden])");
  }

  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.querySelectorAll(".template-choice").forEach(function (choice) {
      var text = choice.textContent.toLowerCase();
      choice.hidden = !words.every(function (word) { return text.indexOf(word) !== -1; });
    });
    list.querySelectorAll(".template-stage").forEach(function (stage) {
      stage.hidden = !stage.querySelector(".template-choice:not([hidden])");
    });
    groups.forEach(function (group, index) {
      var any = group.querySelector(".template-choice:not([hidden])");
      group.hidden = !any;
      group.open = words.length ? Boolean(any) : wasOpen[index];
    });
    var count = matches().length;
    status.textContent = words.length
      ? count + " template" + (count === 1 ? "" : "s") + " match"
      : "";
  });

  box.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    var first = matches()[0];
    if (first) { window.location.assign(first.href); }
  });
})();
