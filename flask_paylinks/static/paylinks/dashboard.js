/* flask_paylinks dashboard: small, plain enhancements. Every page works
   without it, except adding products to a link and the live preview. */
(function () {
  "use strict";

  var live = document.querySelector("[data-live]");
  // This script's nonce (the page's CSP nonce; empty without one).
  var pageNonce = (document.currentScript && document.currentScript.nonce) || "";

  function announce(text) {
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, wait);
    };
  }

  /* Copy to clipboard ------------------------------------------------------ */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    copyText(button.getAttribute("data-copy")).then(function () {
      var menu = button.closest("details[data-menu]");
      if (menu) { closeMenu(menu, true); }
      if (button.classList.contains("pl-copy")) {
        var label = button.textContent;
        button.textContent = "Copied";
        button.setAttribute("data-copied", "");
        window.setTimeout(function () {
          button.textContent = label;
          button.removeAttribute("data-copied");
        }, 2000);
      }
      announce("URL copied to the clipboard.");
    }, function () {
      announce("Could not copy. Select the URL and copy it yourself.");
    });
  });

  /* Three-dot menus (details/summary, enhanced for the keyboard) ----------- */

  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll("[role=menuitem]"));
  }

  function setMenuOpen(menu, open) {
    menu.open = open;
    menu.querySelector("summary").setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeMenu(menu, focusButton) {
    if (!menu.open) return;
    setMenuOpen(menu, false);
    if (focusButton) { menu.querySelector("summary").focus(); }
  }

  document.querySelectorAll("details[data-menu]").forEach(function (menu) {
    var summary = menu.querySelector("summary");
    summary.setAttribute("aria-haspopup", "menu");
    summary.setAttribute("aria-expanded", "false");
    menu.addEventListener("toggle", function () {
      summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
      if (!menu.open) return;
      document.querySelectorAll("details[data-menu][open]").forEach(function (other) {
        if (other !== menu) { setMenuOpen(other, false); }
      });
    });
    summary.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        // Open (if closed) and move into the menu at once, so keys that
        // follow at speed land on its items.
        setMenuOpen(menu, true);
        var first = menuItems(menu)[0];
        if (first) first.focus();
      } else if (event.key === "Escape") {
        closeMenu(menu, true);
      }
    });
    menu.addEventListener("keydown", function (event) {
      var items = menuItems(menu);
      var index = items.indexOf(document.activeElement);
      if (index === -1) return;
      var next = null;
      if (event.key === "ArrowDown") { next = items[(index + 1) % items.length]; }
      else if (event.key === "ArrowUp") { next = items[(index - 1 + items.length) % items.length]; }
      else if (event.key === "Home") { next = items[0]; }
      else if (event.key === "End") { next = items[items.length - 1]; }
      else if (event.key === "Escape") { event.preventDefault(); closeMenu(menu, true); return; }
      else if (event.key === "Tab") { setMenuOpen(menu, false); return; }
      if (next) { event.preventDefault(); next.focus(); }
    });
  });

  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { setMenuOpen(menu, false); }
    });
  });

  /* Delete confirmation dialog -------------------------------------------- */

  var dialog = document.getElementById("pl-delete-dialog");
  var opener = null;
  if (dialog && typeof dialog.showModal === "function") {
    var deleteForm = dialog.querySelector("[data-delete-form]");
    var nameSlot = dialog.querySelector("[data-delete-name]");
    document.addEventListener("click", function (event) {
      var trigger = event.target.closest("[data-confirm-delete]");
      if (!trigger) return;
      event.preventDefault();
      var menu = trigger.closest("details[data-menu]");
      opener = menu ? menu.querySelector("summary") : trigger;
      if (menu) { setMenuOpen(menu, false); }
      deleteForm.setAttribute("action", trigger.getAttribute("href"));
      nameSlot.textContent = trigger.getAttribute("data-confirm-delete");
      dialog.showModal();
      dialog.querySelector("[data-dialog-cancel]").focus();
    });
    dialog.querySelector("[data-dialog-cancel]").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () {
      if (opener) { opener.focus(); opener = null; }
    });
  }

  /* Swatches and error summaries ------------------------------------------ */

  document.querySelectorAll("[data-swatch]").forEach(function (swatch) {
    swatch.style.background = swatch.getAttribute("data-swatch");
  });

  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  /* Show a group of fields only when a radio or checkbox says so ----------- */

  function toggleBy(form, name, groups) {
    function update() {
      var checked = form.querySelector("input[name='" + name + "']:checked");
      var value = checked ? checked.value : "";
      groups.forEach(function (group) {
        var element = group[0];
        if (element) { element.hidden = group[1].indexOf(value) === -1; }
      });
    }
    form.querySelectorAll("input[name='" + name + "']").forEach(function (input) {
      input.addEventListener("change", update);
    });
    update();
  }

  var productForm = document.querySelector("[data-product-form]");
  if (productForm) {
    toggleBy(productForm, "kind", [[productForm.querySelector("[data-recurring-fields]"), ["recurring"]]]);
  }

  var couponForm = document.querySelector("[data-coupon-form]");
  if (couponForm) {
    toggleBy(couponForm, "discount_type", [
      [couponForm.querySelector("[data-discount=percent]"), ["percent"]],
      [couponForm.querySelector("[data-discount=amount]"), ["amount"]]
    ]);
    toggleBy(couponForm, "applies_to", [[couponForm.querySelector("[data-applies-some]"), ["some"]]]);
    toggleBy(couponForm, "duration", [[couponForm.querySelector("[data-duration-months]"), ["repeating"]]]);
  }

  /* The link builder ------------------------------------------------------- */

  var linkForm = document.querySelector("[data-link-form]");
  if (!linkForm) return;

  toggleBy(linkForm, "after_payment", [[linkForm.querySelector("[data-redirect-fields]"), ["redirect"]]]);

  // Brand colour: the hex field and the colour picker follow each other.
  var hex = linkForm.querySelector("[data-color-hex]");
  var picker = linkForm.querySelector("[data-color-picker]");
  if (hex && picker) {
    hex.addEventListener("input", function () {
      var value = hex.value.trim();
      if (/^#[0-9a-fA-F]{6}$/.test(value)) { picker.value = value.toLowerCase(); }
      else if (value === "") { picker.value = picker.getAttribute("data-default"); }
    });
    picker.addEventListener("input", function () {
      hex.value = picker.value.toUpperCase();
      hex.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  // Items: fixed quantity or customer-chosen range; remove.
  function syncAdjustable(item) {
    var box = item.querySelector("[data-adjustable]");
    item.classList.toggle("pl-item--adjustable", !!(box && box.checked));
  }
  linkForm.addEventListener("change", function (event) {
    if (event.target.matches("[data-adjustable]")) {
      syncAdjustable(event.target.closest("[data-item]"));
    }
  });
  linkForm.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-remove-item]");
    if (!remove) return;
    var item = remove.closest("[data-item]");
    var name = item.querySelector("[data-item-name]").textContent;
    item.parentNode.removeChild(item);
    announce(name + " removed.");
    searchInput.focus();
    refreshPreview();
  });

  function itemIndexes() {
    return Array.prototype.map.call(linkForm.querySelectorAll("[data-item-product]"), function (input) {
      var match = /^items-(\d+)-/.exec(input.name);
      return match ? parseInt(match[1], 10) : -1;
    });
  }
  function chosenIds() {
    return Array.prototype.map.call(linkForm.querySelectorAll("[data-item-product]"), function (input) {
      return input.value;
    });
  }

  var template = document.getElementById("pl-item-template");
  function addItem(product) {
    var maxItems = parseInt(linkForm.getAttribute("data-max-items"), 10) || 20;
    if (chosenIds().length >= maxItems) {
      announce("A link can hold " + maxItems + " products at most.");
      return;
    }
    var index = Math.max.apply(null, [-1].concat(itemIndexes())) + 1;
    var fragment = template.content.cloneNode(true);
    fragment.querySelectorAll("[name],[id],[for],[aria-describedby]").forEach(function (element) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
        var value = element.getAttribute(attribute);
        if (value) { element.setAttribute(attribute, value.split("__i__").join(String(index))); }
      });
    });
    var item = fragment.querySelector("[data-item]");
    item.setAttribute("data-kind", product.kind);
    item.querySelector("[data-item-product]").value = String(product.id);
    item.querySelector("[data-item-name]").textContent = product.name;
    item.querySelector("[data-item-price]").textContent = product.price;
    item.querySelector("[data-remove-item]").setAttribute("aria-label", "Remove " + product.name);
    var list = linkForm.querySelector("[data-section='" + (product.kind === "recurring" ? "recurring" : "one_time") + "']");
    list.appendChild(fragment);
    var added = list.lastElementChild;
    syncAdjustable(added);
    announce(product.name + " added.");
    var quantity = added.querySelector("input[type=number]");
    if (quantity) { quantity.focus(); quantity.select(); }
    refreshPreview();
  }

  // Product search: a combobox over the catalogue.
  var searchInput = linkForm.querySelector("[data-picker-input]");
  var results = linkForm.querySelector("[data-picker-results]");
  var searchUrl = linkForm.getAttribute("data-search-url");
  var found = [];
  var active = -1;
  var searchController = null;

  function closeResults() {
    results.hidden = true;
    searchInput.setAttribute("aria-expanded", "false");
    searchInput.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(index) {
    var options = results.querySelectorAll("[role=option]");
    options.forEach(function (option, i) { option.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (options[index]) {
      searchInput.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }
  }

  function showResults(products) {
    var chosen = chosenIds();
    found = products;
    results.innerHTML = "";
    if (!products.length) {
      var none = document.createElement("li");
      none.className = "pl-picker__option";
      none.setAttribute("aria-disabled", "true");
      none.textContent = "No products match.";
      results.appendChild(none);
    }
    products.forEach(function (product, i) {
      var option = document.createElement("li");
      var taken = chosen.indexOf(String(product.id)) !== -1;
      option.id = "pl-product-option-" + i;
      option.className = "pl-picker__option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      if (taken) { option.setAttribute("aria-disabled", "true"); }
      var name = document.createElement("span");
      name.textContent = product.name;
      var meta = document.createElement("span");
      meta.className = "pl-picker__meta";
      meta.textContent = taken ? "Added" : product.price;
      option.appendChild(name);
      option.appendChild(meta);
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      option.addEventListener("click", function () { pick(i); });
      results.appendChild(option);
    });
    results.hidden = false;
    searchInput.setAttribute("aria-expanded", "true");
    announce(products.length === 1 ? "1 product found." : products.length + " products found.");
  }

  function pick(index) {
    var product = found[index];
    if (!product || chosenIds().indexOf(String(product.id)) !== -1) return;
    searchInput.value = "";
    closeResults();
    addItem(product);
  }

  var search = debounce(function () {
    if (searchController) { searchController.abort(); }
    searchController = new AbortController();
    var url = searchUrl + "?q=" + encodeURIComponent(searchInput.value.trim());
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal: searchController.signal })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(showResults)
      .catch(function (error) { if (error.name !== "AbortError") { closeResults(); } });
  }, 150);

  searchInput.addEventListener("input", search);
  searchInput.addEventListener("focus", search);
  searchInput.addEventListener("blur", function () { window.setTimeout(closeResults, 150); });
  searchInput.addEventListener("keydown", function (event) {
    var count = results.querySelectorAll("[role=option]").length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (results.hidden) { search(); return; }
      if (count) setActive((active + 1) % count);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (count) setActive((active - 1 + count) % count);
    } else if (event.key === "Enter") {
      if (!results.hidden) {
        event.preventDefault();
        if (active >= 0) { pick(active); } else if (found.length === 1) { pick(0); }
      }
    } else if (event.key === "Escape") {
      if (!results.hidden) { event.preventDefault(); closeResults(); }
    }
  });

  // Live preview: the real checkout template, re-rendered by the server.
  var frame = document.querySelector("[data-preview-frame]");
  var previewBox = frame ? frame.closest(".pl-preview") : null;
  var previewUrl = linkForm.getAttribute("data-preview-url");
  var previewController = null;
  var previewRound = 0;

  function renderPreview() {
    if (!frame || !previewUrl) return;
    if (previewController) { previewController.abort(); }
    previewController = new AbortController();
    var round = ++previewRound;
    previewBox.setAttribute("aria-busy", "true");
    fetch(previewUrl, {
      method: "POST",
      body: new FormData(linkForm),
      credentials: "same-origin",
      signal: previewController.signal
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("preview " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (round !== previewRound) return;
        // A srcdoc frame runs under this page's CSP, so the preview's inline
        // style must carry this page's nonce, not the preview request's.
        frame.srcdoc = pageNonce
          ? html.replace(/ nonce="[^"]*"/g, ' nonce="' + pageNonce + '"')
          : html;
        previewBox.removeAttribute("aria-busy");
        previewBox.setAttribute("data-preview-round", String(round));
      })
      .catch(function (error) {
        if (error.name === "AbortError") return;
        previewBox.removeAttribute("aria-busy");
      });
  }
  var refreshPreview = debounce(renderPreview, 250);

  linkForm.addEventListener("input", function (event) {
    if (event.target === searchInput) return;
    refreshPreview();
  });
  linkForm.addEventListener("change", function (event) {
    if (event.target === searchInput) return;
    refreshPreview();
  });
  renderPreview();
})();
