/* The payment step: mount the gateway's Payment Element and confirm with it.
 * Stripe.js (loaded before this file) provides Stripe(); the page's
 * #pl-payment-element carries the publishable key, the client secret, the
 * return URL, the Appearance and (Stripe Connect) the connected account. A decline or a failed 3-D Secure check is
 * said in the role="alert" line and the customer tries again, no reload. */
(function () {
  "use strict";
  var form = document.getElementById("pl-step-form");
  var box = document.getElementById("pl-payment-element");
  var said = document.getElementById("pl-step-error");
  var button = document.getElementById("pl-step-pay");
  if (!form || !box || !said || !button) return;
  var GENERIC = "Your payment did not go through. You have not been charged; try again.";

  function say(message) {
    said.textContent = message;
  }

  if (typeof window.Stripe !== "function") {
    say("The payment form could not load. Check your connection and reload this page; you have not been charged.");
    return;
  }
  var data = box.dataset;
  var appearance = {};
  try { appearance = JSON.parse(data.appearance || "{}"); } catch (ignored) { appearance = {}; }
  // A payment on a merchant's connected account is confirmed on that account.
  var stripe = data.stripeAccount ?
    window.Stripe(data.publishableKey, { stripeAccount: data.stripeAccount }) :
    window.Stripe(data.publishableKey);
  var elements = stripe.elements({ clientSecret: data.clientSecret, appearance: appearance });
  var element = elements.create("payment");
  element.mount(box);
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say("");
    var done = function (message) {
      say(message);
      button.disabled = false;
      button.removeAttribute("aria-busy");
    };
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: data.returnUrl }
    }).then(function (result) {
      // On success Stripe.js leaves for the return URL: only errors come back.
      var error = result && result.error;
      if (!error) return;
      var shown = error.type === "card_error" || error.type === "validation_error" ||
        error.code === "payment_intent_authentication_failure";
      done(shown && error.message ? error.message : GENERIC);
    }, function () {
      done(GENERIC);
    });
  });
})();
