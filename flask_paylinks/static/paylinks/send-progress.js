/* flask_paylinks: a send's progress, live. While the send is queued or
   sending, asks the server for its counts every 2 seconds and updates the
   bar, the counts, the state and the buttons that fit it. The page is
   complete without it (reload to update). */
(function () {
  "use strict";

  var box = document.querySelector("[data-send-progress]");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-url");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-progress-label]");
  var paused = box.querySelector("[data-paused]");
  var reason = box.querySelector("[data-paused-reason]");
  var badge = document.querySelector("[data-send-state]");
  var INTERVAL = 2000;
  var lastState = null;

  function format(n) {
    return Number(n).toLocaleString("en-US");
  }

  function show(data) {
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    bar.textContent = data.percent + "%";
    if (label.textContent !== data.label) label.textContent = data.label;
    Object.keys(data).forEach(function (key) {
      var cell = box.querySelector('[data-count="' + key + '"]');
      if (cell) cell.textContent = format(data[key]);
    });
    if (badge) {
      badge.textContent = data.state_label;
      badge.className = "pl-badge pl-badge--" + data.state;
    }
    paused.hidden = data.state !== "paused";
    if (data.paused_reason) reason.textContent = data.paused_reason;
    document.querySelectorAll("[data-when]").forEach(function (el) {
      el.hidden = el.getAttribute("data-when").split(" ").indexOf(data.state) < 0;
    });
    if (lastState !== null && lastState !== data.state) {
      label.textContent = data.state_label + ". " + data.label;
    }
    lastState = data.state;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.live) window.setTimeout(poll, INTERVAL);
      })
      .catch(function () {
        // A blip (server restarting, network): try again, a little later.
        window.setTimeout(poll, INTERVAL * 3);
      });
  }

  if (box.getAttribute("data-live") === "true") {
    window.setTimeout(poll, INTERVAL);
  }
})();
