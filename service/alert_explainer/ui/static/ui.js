// alert-explainer's operator page: the only script. It keeps the parts of a page marked
// data-live up to date by fetching the same page again every few seconds while the tab is
// visible (the server renders everything; nothing here builds markup), and submits the
// list's filters when one changes.
(function () {
  "use strict";
  var PERIOD_MS = 5000;
  var status = document.querySelector("[data-live-status]");

  function say(text) {
    if (status) status.textContent = text;
  }

  function refresh() {
    if (!document.querySelector("[data-live]")) {
      say("");
      return;
    }
    if (document.hidden) {
      window.setTimeout(refresh, PERIOD_MS);
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (part) {
          var replacement = fresh.getElementById(part.id);
          if (replacement) {
            part.replaceWith(document.importNode(replacement, true));
          } else {
            part.removeAttribute("data-live");
          }
        });
        say("updated " + new Date().toLocaleTimeString());
      })
      .catch(function (error) {
        say("not updated: " + error.message);
      })
      .then(function () {
        window.setTimeout(refresh, PERIOD_MS);
      });
  }

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
  if (document.querySelector("[data-live]")) {
    say("live");
    window.setTimeout(refresh, PERIOD_MS);
  }
})();
