/* flask_paylinks: the send composer, enhanced. Contacts are found as you
   type (the Search button does the same without script), and the message
   fields of a channel that is not ticked are hidden. */
(function () {
  "use strict";

  var form = document.querySelector("[data-send-form]");
  if (!form) return;
  var search = form.querySelector("[data-contact-search]");
  var list = form.querySelector("[data-contact-list]");
  var results = form.querySelector("[data-contact-results]");
  var live = document.querySelector("[data-live]");
  var timer = null;
  var asked = 0;

  function picked() {
    var ids = {};
    list.querySelectorAll('input[name="contacts"]:checked').forEach(function (box) {
      ids[box.value] = true;
    });
    return ids;
  }

  function clearUnpicked() {
    // Results not ticked make way for the new ones; ticked ones stay.
    list.querySelectorAll('input[name="contacts"]:not(:checked)').forEach(function (box) {
      box.closest(".pl-check").remove();
    });
    var title = list.querySelector("[data-results-title]");
    if (title) title.remove();
  }

  function row(contact, index) {
    var wrap = document.createElement("div");
    wrap.className = "pl-check";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.className = "pl-check__input";
    box.name = "contacts";
    box.value = contact.id;
    box.id = "live-contact-" + index;
    var label = document.createElement("label");
    label.className = "pl-check__label";
    label.htmlFor = box.id;
    label.textContent = contact.label;
    wrap.appendChild(box);
    wrap.appendChild(label);
    return wrap;
  }

  function show(query, contacts) {
    clearUnpicked();
    var have = picked();
    var fresh = contacts.filter(function (c) { return !have[c.id]; });
    var title = document.createElement("p");
    title.className = "pl-section-title pl-contacts__title";
    title.setAttribute("data-results-title", "");
    title.textContent = fresh.length
      ? "Matching “" + query + "”"
      : "No other contacts match “" + query + "”";
    results.appendChild(title);
    fresh.forEach(function (contact, index) { results.appendChild(row(contact, index)); });
    if (live) {
      live.textContent = fresh.length === 1 ? "1 contact found." : fresh.length + " contacts found.";
    }
  }

  function find() {
    var query = search.value.trim();
    if (!query) { clearUnpicked(); return; }
    var ticket = ++asked;
    var url = search.getAttribute("data-contact-search") + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (contacts) { if (ticket === asked) show(query, contacts); })
      .catch(function () { /* the Search button still works */ });
  }

  if (search && list && results) {
    search.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(find, 250);
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        window.clearTimeout(timer);
        find();
      }
    });
  }

  function channelParts() {
    form.querySelectorAll("[data-channel-part]").forEach(function (part) {
      var channel = part.getAttribute("data-channel-part");
      var box = form.querySelector('input[name="channels"][value="' + channel + '"]');
      part.hidden = !!box && !box.checked;
    });
  }
  form.querySelectorAll('input[name="channels"]').forEach(function (box) {
    box.addEventListener("change", channelParts);
  });
  channelParts();
})();
