/*
 * Tests only: the Payment Element calls of Stripe.js over localstripe's fake.
 *
 * Served right after localstripe's own fake Stripe.js (same file), whose
 * Stripe() has the card Element and confirmCardPayment() but neither
 * elements({clientSecret}).create('payment') nor confirmPayment(). This
 * wraps it with those, as Stripe documents them
 * (https://docs.stripe.com/js/elements_object/create_without_intent,
 * https://docs.stripe.com/js/payment_intents/confirm_payment):
 *
 * - elements({clientSecret, appearance}).create('payment') is the fake's
 *   card Element, its inputs labelled (Stripe's iframe labels its own);
 * - confirmPayment({elements, confirmParams: {return_url}, redirect})
 *   confirms the PaymentIntent with the card typed (POST
 *   /v1/payment_intents/:id/confirm with the publishable key and client
 *   secret, answered by the shim server on localstripe), runs the fake's
 *   3-D Secure modal through confirmCardPayment() when the intent
 *   requires_action, then goes to return_url with payment_intent,
 *   payment_intent_client_secret and redirect_status; on failure it
 *   resolves {error: {type, code, message}} and stays.
 */
(function () {
  "use strict";
  var fake = window.Stripe;
  var BASE = LOCALSTRIPE_BASE_API; // eslint-disable-line no-undef
  var LABELS = {
    number: "Card number",
    exp_month: "Expiry month (MM)",
    exp_year: "Expiry year (YY)",
    cvc: "Security code",
    postal_code: "Postal code"
  };

  function dress(card, target, appearance) {
    var vars = (appearance && appearance.variables) || {};
    var inputs = card._inputs || {};
    Object.keys(inputs).forEach(function (name) {
      var input = inputs[name];
      input.setAttribute("aria-label", LABELS[name] || name);
      input.setAttribute("inputmode", "numeric");
      input.setAttribute("autocomplete", "off");
      Object.assign(input.style, {
        display: "block", width: "100%", minHeight: "44px", margin: "0 0 8px",
        padding: "8px 12px", font: "inherit", boxSizing: "border-box",
        color: vars.colorText || "", background: vars.colorBackground || "",
        border: "1px solid #6b7280", borderRadius: "6px",
        outlineColor: vars.colorPrimary || ""
      });
    });
    var tag = target.querySelector("span");
    if (tag) tag.textContent = "Test card form (localstripe)";
    window.__paylinksShim = { appearance: appearance || null, mounted: true };
  }

  function fail(type, code, message) {
    return { error: { type: type, code: code, message: message } };
  }

  window.Stripe = function (publishableKey) {
    var inner = fake(publishableKey);
    var stripe = Object.assign({}, inner);

    stripe.elements = function (options) {
      var group = inner.elements();
      var create = group.create;
      group._clientSecret = options && options.clientSecret;
      group._appearance = options && options.appearance;
      group.create = function (type, elementOptions) {
        if (type !== "payment") throw new Error("shim: only create('payment')");
        var card = create.call(group, "card", elementOptions);
        var mount = card.mount;
        card.mount = function (target) {
          if (typeof target === "string") target = document.querySelector(target);
          mount.call(card, target);
          dress(card, target, group._appearance);
        };
        return card;
      };
      return group;
    };

    stripe.confirmPayment = async function (args) {
      var group = args.elements;
      var secret = group._clientSecret;
      var returnUrl = args.confirmParams && args.confirmParams.return_url;
      if (!returnUrl && args.redirect !== "if_required") {
        throw new Error("shim: confirmParams.return_url is required");
      }
      var card = (group.getElement("card") || {}).value;
      var typed = (card && card.card) || {};
      var number = String(typed.number || "").replace(/\s/g, "");
      if (!number) return fail("validation_error", "incomplete_number", "Your card number is incomplete.");
      if (!typed.exp_month || String(typed.exp_year).length < 4) {
        return fail("validation_error", "incomplete_expiry", "Your card's expiration date is incomplete.");
      }
      if (!typed.cvc) return fail("validation_error", "incomplete_cvc", "Your card's security code is incomplete.");
      var intentId = secret.match(/^(pi_\w+)_secret_/)[1];
      var body = new URLSearchParams({
        key: publishableKey,
        client_secret: secret,
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": number,
        "payment_method_data[card][exp_month]": typed.exp_month,
        "payment_method_data[card][exp_year]": typed.exp_year,
        "payment_method_data[card][cvc]": typed.cvc
      });
      if (returnUrl) body.set("return_url", returnUrl);
      var response = await fetch(BASE + "/v1/payment_intents/" + intentId + "/confirm", {
        method: "POST", body: body
      });
      var intent = await response.json().catch(function () { return {}; });
      if (intent.error) return { error: intent.error };
      if (intent.status === "requires_action") {
        var result = await inner.confirmCardPayment(secret); // the fake's 3-D Secure modal
        if (result.error) {
          return { error: Object.assign({ type: "card_error" }, result.error) };
        }
        intent = result.paymentIntent;
      }
      if (intent.status === "succeeded" || intent.status === "processing") {
        if (args.redirect === "if_required") return { paymentIntent: intent };
        var url = new URL(returnUrl);
        url.searchParams.set("payment_intent", intent.id);
        url.searchParams.set("payment_intent_client_secret", secret);
        url.searchParams.set("redirect_status", "succeeded");
        window.location.assign(url.toString());
        return new Promise(function () {}); // leaving the page, as Stripe.js does
      }
      var problem = intent.last_payment_error || {};
      var code = problem.code || "payment_intent_unexpected_state";
      return {
        error: {
          type: code === "payment_intent_authentication_failure" ? "invalid_request_error" : "card_error",
          code: code,
          message: problem.message || "Your payment could not be completed.",
          payment_intent: intent
        }
      };
    };
    return stripe;
  };
})();
