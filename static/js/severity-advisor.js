// Suggest the priority the ticked severity criteria point to (P1 first), and
// say when the chosen priority differs, so the agent gives a reason.
(function () {
  "use strict";
  const boxes = document.querySelectorAll('input[name="severity_criteria"]');
  const priority = document.querySelector('select[name="priority"]');
  const note = document.getElementById("priority-suggestion");
  if (!boxes.length || !priority || !note) return;

  function labelOf(code) {
    const option = priority.querySelector('option[value="' + code + '"]');
    return option ? option.textContent : code;
  }

  function update() {
    const ticked = Array.from(boxes).filter((box) => box.checked);
    if (!ticked.length) {
      note.classList.add("d-none");
      return;
    }
    ticked.sort((a, b) => a.dataset.priority.localeCompare(b.dataset.priority));
    const top = ticked[0];
    let text = "Suggested priority: " + labelOf(top.dataset.priority) +
      ", because “" + top.dataset.text + "”.";
    if (priority.value && priority.value !== top.dataset.priority) {
      text += " You chose " + labelOf(priority.value) + ": say why below.";
    }
    note.textContent = text;
    note.classList.remove("d-none");
  }

  boxes.forEach((box) => box.addEventListener("change", update));
  priority.addEventListener("change", update);
  update();
})();
