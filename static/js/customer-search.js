// Suggest customers as the agent types into a customer box. The box takes an
// account id, a full e-mail or an exact name; suggestions fill in the account
// id. Works without this script too: typing any of those by hand is enough.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("[data-customer-search]");
  boxes.forEach(function (box) {
    var list = document.getElementById(box.getAttribute("list"));
    var timer = null;
    var lastQuery = "";
    box.addEventListener("input", function () {
      var query = box.value.trim();
      if (query.length < 2 || query === lastQuery) { return; }
      clearTimeout(timer);
      timer = setTimeout(function () {
        lastQuery = query;
        fetch("/incidents/customers/search/?q=" + encodeURIComponent(query), {
          headers: { "Accept": "application/json" },
          credentials: "same-origin"
        })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            list.replaceChildren();
            data.results.forEach(function (customer) {
              var option = document.createElement("option");
              option.value = customer.account_id;
              option.label = customer.label;
              option.textContent = customer.label;
              list.appendChild(option);
            });
          })
          .catch(function () { /* suggestions are a convenience; typing still works */ });
      }, 200);
    });
  });
})();
