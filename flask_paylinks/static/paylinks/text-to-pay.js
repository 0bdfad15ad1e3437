/* flask_paylinks Text-to-Pay: progressive enhancement of the request form and
   of the host's "Request payment" / "$" buttons.

   Without this script the buttons are links to the request form, which comes
   back to the host's page when sent, and the form adds item rows by asking
   the server. With it:
   - a [data-paylinks-request] link opens the form in a <dialog>: the form is
     fetched (?partial=1) and posted with fetch; on success the dialog closes
     and the host's callback runs, window.PayLinksTextToPay.onRequested(detail)
     if the host set one, else the page reloads. A "paylinks:requested" event
     is dispatched on document either way;
   - "Add another item" adds a row in place, and the total and the SMS
     preview follow what is typed. */
(function () {
  "use strict";

  var PARTIAL = "partial";

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(null, args); }, wait);
    };
  }

  function withPartial(url) {
    return url + (url.indexOf("?") === -1 ? "?" : "&") + PARTIAL + "=1";
  }

  /* Item rows ----------------------------------------------------------------- */

  function renumber(node, from, to) {
    var attributes = ["id", "name", "for", "aria-describedby"];
    var nodes = [node].concat(Array.prototype.slice.call(node.querySelectorAll("*")));
    nodes.forEach(function (element) {
      attributes.forEach(function (attribute) {
        var value = element.getAttribute(attribute);
        if (value && value.indexOf("items-" + from + "-") !== -1) {
          element.setAttribute(attribute, value.split("items-" + from + "-").join("items-" + to + "-"));
        }
      });
    });
  }

  function addRow(form) {
    var rows = form.querySelectorAll("[data-item-row]");
    var last = rows[rows.length - 1];
    if (!last) return false;
    var max = parseInt(form.getAttribute("data-max-items") || "50", 10);
    if (rows.length >= max) return false;
    var row = last.cloneNode(true);
    renumber(row, rows.length - 1, rows.length);
    row.querySelectorAll(".pl-error").forEach(function (error) { error.remove(); });
    row.querySelectorAll(".pl-field--invalid").forEach(function (field) { field.classList.remove("pl-field--invalid"); });
    row.querySelectorAll("input").forEach(function (input) {
      input.value = "";
      input.removeAttribute("aria-invalid");
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && !/-error$/.test(id);
      });
      if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); } else { input.removeAttribute("aria-describedby"); }
    });
    row.querySelectorAll("label, label *").forEach(function (element) {
      element.childNodes.forEach(function (node) {
        if (node.nodeType === Node.TEXT_NODE) {
          node.nodeValue = node.nodeValue.replace(/\d+$/, String(rows.length + 1));
        }
      });
    });
    last.parentNode.appendChild(row);
    var first = row.querySelector("input");
    if (first) first.focus();
    return true;
  }

  /* Live total and SMS preview ------------------------------------------------------- */

  function refreshPreview(form) {
    var url = form.getAttribute("data-preview-url");
    if (!url || !window.fetch) return;
    var box = form.closest("dialog");
    if (box && !box.open) return; // closed meanwhile: nobody is looking
    var data = new FormData(form);
    fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (preview) {
        if (!preview) return;
        var total = form.querySelector("[data-t2p-total]");
        var sms = form.querySelector("[data-t2p-sms]");
        var segments = form.querySelector("[data-t2p-segments]");
        if (total) total.textContent = preview.total || "—";
        if (sms) sms.textContent = preview.sms;
        if (segments) {
          var rest = segments.textContent.indexOf(". ");
          segments.textContent = preview.segments_label + (rest === -1 ? "" : segments.textContent.slice(rest));
        }
      })
      .catch(function () { /* the preview is a help; the form works without it */ });
  }

  function enhanceForm(form, dialog) {
    if (form.hasAttribute("data-t2p-ready")) return;
    form.setAttribute("data-t2p-ready", "");
    var update = debounce(function () { refreshPreview(form); }, 250);
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("click", function (event) {
      var add = event.target.closest("[data-add-item]");
      if (add && addRow(form)) {
        event.preventDefault();
        return;
      }
      var close = event.target.closest("[data-t2p-close]");
      if (close && dialog) {
        event.preventDefault();
        dialog.close();
      }
    });
    if (dialog) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitInDialog(form, dialog, event.submitter);
      });
    }
  }

  /* The dialog ---------------------------------------------------------------------- */

  var dialog = null;
  var opener = null;

  function theDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "pl pl-t2p-dialog";
    dialog.setAttribute("aria-labelledby", "pl-t2p-title");
    dialog.addEventListener("close", function () {
      if (opener) opener.focus();
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function fill(box, html) {
    box.innerHTML = "";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "pl-t2p-dialog__close";
    close.setAttribute("aria-label", "Close");
    close.innerHTML = "<span aria-hidden=\"true\">×</span>";
    close.addEventListener("click", function () { box.close(); });
    var body = document.createElement("div");
    body.innerHTML = html;
    box.appendChild(close);
    box.appendChild(body);
    var form = body.querySelector("[data-t2p-form]");
    if (form) enhanceForm(form, box);
    var focus = body.querySelector("[data-error-summary], [aria-invalid=true], [data-t2p-form] input:not([type=hidden])");
    if (focus) focus.focus();
  }

  function say(box, text) {
    box.innerHTML = "";
    var status = document.createElement("p");
    status.className = "pl-t2p-dialog__status";
    status.setAttribute("role", "status");
    status.textContent = text;
    box.appendChild(status);
  }

  function open(link) {
    var box = theDialog();
    opener = link;
    say(box, "Loading the request form…");
    if (!box.open) box.showModal();
    fetch(withPartial(link.href), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) { fill(box, html); })
      .catch(function () {
        box.close();
        window.location.href = link.href; // the plain page says what went wrong
      });
  }

  function done(box, detail) {
    box.close();
    document.dispatchEvent(new CustomEvent("paylinks:requested", { detail: detail }));
    var host = window.PayLinksTextToPay;
    if (host && typeof host.onRequested === "function") {
      host.onRequested(detail);
    } else {
      window.location.reload();
    }
  }

  function submitInDialog(form, box, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    data.append(PARTIAL, "1");
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (button) { button.disabled = true; });
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json, text/html" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.ok && type.indexOf("application/json") !== -1) {
          return response.json().then(function (detail) { done(box, detail); });
        }
        return response.text().then(function (html) { fill(box, html); });
      })
      .catch(function () {
        buttons.forEach(function (button) { button.disabled = false; });
        var note = form.querySelector("[data-t2p-network]") || document.createElement("p");
        note.className = "pl-error";
        note.setAttribute("data-t2p-network", "");
        note.setAttribute("role", "alert");
        note.textContent = "Could not reach the server. Check your connection and try again.";
        form.insertBefore(note, form.querySelector(".pl-form-actions"));
      });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-paylinks-request]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (!window.fetch || typeof HTMLDialogElement !== "function") return; // the plain link
    event.preventDefault();
    open(link);
  });

  /* The form on its own page: rows and the live preview, a normal submit. */
  document.querySelectorAll("[data-t2p-form]").forEach(function (form) { enhanceForm(form, null); });
}());
