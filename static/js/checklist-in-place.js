// Tick, N/A and Undo on the closure checklist without leaving the place on
// the page: the form posts in the background and the parts of the page it
// changed (the item, the close card, the messages) are swapped in from the
// page the server answers with. Without this script each form posts as usual
// and the server brings the reader back to the item.
(function () {
  "use strict";

  function swap(doc) {
    document.querySelectorAll("[data-live][id]").forEach(function (old) {
      var fresh = doc.getElementById(old.id);
      if (fresh) { old.replaceWith(document.importNode(fresh, true)); }
    });
    var flash = doc.getElementById("flash");
    var here = document.getElementById("flash");
    if (flash && here) { here.replaceWith(document.importNode(flash, true)); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var item = form.closest(".checklist-item");
    if (!item || !window.fetch) { return; }
    event.preventDefault();
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        swap(new DOMParser().parseFromString(html, "text/html"));
        var again = document.getElementById(item.id);
        var control = again && again.querySelector("button, summary");
        if (control) { control.focus({ preventScroll: true }); }
      })
      .catch(function () { form.submit(); });
  });
})();
