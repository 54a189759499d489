// The board and the doctors' summary at OPD scale.
// - Filters and the page live in the URL: each change pushes it, the back button goes back to
//   it (reloaded from the server: no page of patients' names is kept in the browser's storage).
// - A live push only says "something changed": the screen asks again for the page it shows,
//   with the filters chosen in the form, never for the whole day.
// - A patient's name searched for never goes into the address bar (the server leaves it out
//   of the pushed address): the live re-read and the row actions take the filters from the
//   form on screen (a row action sends them in a header).
// - Waiting times tick here, on the server's clock, without a request per tick.
(function () {
  "use strict";
  var TICK_MS = 15000;
  var offset = 0; // server clock minus this browser's clock, in ms
  var seenNow = null;

  function syncClock() {
    var holder = document.querySelector("[data-now]");
    if (!holder) return;
    var serverNow = holder.getAttribute("data-now");
    if (serverNow && serverNow !== seenNow) {
      seenNow = serverNow;
      offset = Number(serverNow) - Date.now();
    }
  }

  function tick() {
    syncClock();
    var now = Date.now() + offset;
    document.querySelectorAll("[data-waiting-since]").forEach(function (cell) {
      var since = Number(cell.getAttribute("data-waiting-since"));
      var minutes = cell.querySelector("[data-minutes]");
      if (minutes && since) {
        var text = String(Math.max(0, Math.floor((now - since) / 60000)));
        if (minutes.textContent !== text) minutes.textContent = text;
      }
    });
  }

  // What the screen shows: the filters as chosen in the form (a name searched for included)
  // and the page of the part on screen, as a query string.
  function shownQuery() {
    var form = document.querySelector(".board-filters");
    var query = new URLSearchParams(form ? new FormData(form) : window.location.search);
    var shown = document.querySelector("[data-page]");
    if (shown) query.set("page", shown.getAttribute("data-page"));
    Array.from(query.keys()).forEach(function (key) {
      if (!query.get(key) || (key === "page" && query.get(key) === "1")) query.delete(key);
    });
    return query.toString();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      htmx.config.historyCacheSize = 0;
      htmx.config.refreshOnHistoryMiss = true;
    }
    document.body.addEventListener("htmx:configRequest", function (event) {
      var elt = event.detail.elt;
      if (elt && elt.hasAttribute && elt.hasAttribute("data-live-refresh")) {
        var rest = shownQuery();
        event.detail.path = window.location.pathname + (rest ? "?" + rest : "");
      } else if (event.detail.verb !== "get" && elt && elt.closest && elt.closest("#board")) {
        event.detail.headers["X-Board-Query"] = shownQuery();
      }
    });
    document.body.addEventListener("htmx:afterSettle", tick);
    tick();
    window.setInterval(tick, TICK_MS);
  });
})();
