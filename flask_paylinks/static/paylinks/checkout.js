/* flask_paylinks checkout: live totals from the server, one submit, the redirect.
   Everything it does also works without it, except the timed redirect. */
(function () {
  "use strict";

  var alertBox = document.getElementById("pl-alert");
  if (alertBox) { alertBox.focus(); }

  // Receipt: go on to the merchant's page (same tab), or open it in a new one.
  var go = document.querySelector("[data-redirect]");
  if (go) {
    var target = go.getAttribute("data-redirect");
    if (go.hasAttribute("data-new-tab")) {
      window.open(target, "_blank", "noopener");
    } else {
      window.setTimeout(function () { window.location.assign(target); }, 1500);
    }
  }
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    window.setTimeout(function () { window.location.reload(); },
      1000 * Number(refresh.getAttribute("data-refresh")));
  }

  var form = document.querySelector("form[data-quote-url]");
  if (!form) { return; }
  var summary = document.getElementById("pl-summary");
  var payButton = form.querySelector("[data-pay]");
  var agreed = form.elements.namedItem("terms");
  var pending = 0;
  var timer = 0;

  function showError(name, message) {
    var input = document.getElementById(name === "plan" ? "" : name);
    var slot = document.getElementById(name + "-error");
    if (slot) {
      slot.textContent = message || "";
      slot.hidden = !message;
    }
    if (input) {
      if (message) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", name + "-error");
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    }
  }

  function requote() {
    var body = new FormData(form);
    ["card-number", "card-expiry", "card-cvc"].forEach(function (k) { body.delete(k); });
    var mine = ++pending;
    payButton.disabled = true;
    return fetch(form.getAttribute("data-quote-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      // A 503 (database away) carries only an error: keep what is shown.
      if (mine !== pending || typeof data.summary !== "string") { return; }
      summary.innerHTML = data.summary;
      // The summary carries the terms for the new total; they go by the Pay button.
      var nextTerms = summary.querySelector("template[data-terms]");
      var terms = document.getElementById("pl-terms");
      if (nextTerms && terms) { terms.innerHTML = nextTerms.innerHTML; }
      payButton.textContent = data.pay_label;
      agreed.value = data.terms;
      var fields = form.querySelectorAll("[data-quote], #coupon");
      Array.prototype.forEach.call(fields, function (el) {
        var name = el.name === "plan" ? "plan" : el.id;
        showError(name, data.errors[name]);
      });
    }).catch(function () {
      // The server still prices the order on submit; nothing is lost.
    }).then(function () {
      if (mine === pending) { payButton.disabled = false; }
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-quote")) {
      window.clearTimeout(timer);
      timer = window.setTimeout(requote, 150);
    }
  });

  var apply = form.querySelector("[data-apply]");
  var coupon = document.getElementById("coupon");
  if (apply && coupon) {
    apply.addEventListener("click", function (event) {
      event.preventDefault();
      requote();
    });
    coupon.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        requote();
      }
    });
  }

  var card = document.getElementById("card-number");
  if (card) {
    card.addEventListener("input", function () {
      var digits = card.value.replace(/\D/g, "").slice(0, 19);
      var grouped = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
      if (grouped !== card.value) { card.value = grouped; }
    });
  }

  // One submit: a second click while the first is on its way does nothing.
  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && submitter !== payButton) { return; }
    if (form.getAttribute("data-sent")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
    payButton.setAttribute("aria-busy", "true");
    payButton.setAttribute("data-label", payButton.textContent);
    payButton.textContent = "Processing…";
  });
  window.addEventListener("pageshow", function () {
    form.removeAttribute("data-sent");
    payButton.removeAttribute("aria-busy");
    var label = payButton.getAttribute("data-label");
    if (label) { payButton.textContent = label; }
  });
}());
