// The status board's poller: every few seconds it fetches the board's sections and swaps
// them in, so that the page follows the state without a reload. Without JavaScript the page
// still works (refresh link, slow meta refresh).
(function () {
  "use strict";
  var board = document.getElementById("board");
  var live = document.getElementById("live");
  if (!board || !window.fetch) {
    return;
  }
  var url = board.getAttribute("data-fragment");
  var every = parseInt(board.getAttribute("data-poll-ms"), 10) || 3000;
  live.hidden = false;

  function setLive(ok) {
    live.className = ok ? "live" : "live stale";
    live.textContent = ok ? "live" : "reconnecting…";
  }

  function poll() {
    fetch(url, { cache: "no-store", credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        // The fragment comes from this origin and is escaped by html/template.
        board.innerHTML = html;
        setLive(true);
      })
      .catch(function () {
        setLive(false);
      })
      .then(function () {
        window.setTimeout(poll, every);
      });
  }
  window.setTimeout(poll, every);
})();
