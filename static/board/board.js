// The board and the doctors' summary at OPD scale.
// - Filters and the page live in the URL: each change pushes it, the back button goes back to
//   it (reloaded from the server: no page of patients' names is kept in the browser's storage).
// - A live push only says "something changed": the screen asks again for the page it shows,
//   with the URL's filters, never for the whole day.
// - A patient's name searched for never goes into a URL (the server leaves it out of the
//   pushed address): the live re-read and the row actions take it from the search box.
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

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      htmx.config.historyCacheSize = 0;
      htmx.config.refreshOnHistoryMiss = true;
    }
    document.body.addEventListener("htmx:configRequest", function (event) {
      var elt = event.detail.elt;
      var box = document.getElementById("board-q");
      var searched = box ? box.value.trim() : "";
      if (elt && elt.hasAttribute && elt.hasAttribute("data-live-refresh")) {
        var query = new URLSearchParams(window.location.search);
        if (searched) query.set("q", searched); else query.delete("q");
        var rest = query.toString();
        event.detail.path = window.location.pathname + (rest ? "?" + rest : "");
      } else if (searched && event.detail.verb !== "get" && elt && elt.closest &&
                 elt.closest("#board")) {
        event.detail.parameters.q = searched;
      }
    });
    document.body.addEventListener("htmx:afterSettle", tick);
    tick();
    window.setInterval(tick, TICK_MS);
  });
})();
