// The portal's own behaviour, in a file rather than inline handlers, so the
// Content-Security-Policy can allow scripts from the portal only (no inline script,
// no eval; api/boundary.py).
"use strict";

// The environment picker goes to the chosen environment's connectors.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (select.matches && select.matches("select[data-submit-on-change]")) select.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches || !form.matches("form[data-environment-picker]")) return;
  event.preventDefault();
  location.href = form.dataset.environmentPicker + form.elements.env.value + "/connectors";
});

// The flow editor's listed values: choosing one writes "NAME = value" into the step's
// parameter lines (replacing a line of that name, or adding one).
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!select.matches || !select.matches("select[data-parameter-line]") || select.value === "") return;
  const lines = select.form && select.form.elements.namedItem(select.dataset.lines);
  if (!lines) return;
  const name = select.dataset.parameterLine;
  const line = `${name} = ${select.value}`;
  const kept = lines.value.split("\n");
  const at = kept.findIndex((text) => text.split("=")[0].trim() === name && text.includes("="));
  if (at >= 0) kept[at] = line;
  else if (kept.length === 1 && kept[0].trim() === "") kept[0] = line;
  else kept.push(line);
  lines.value = kept.join("\n");
});

// A tab loaded in place becomes the selected one.
document.addEventListener("htmx:afterRequest", (event) => {
  const tab = event.detail.elt;
  if (!tab.matches || !tab.matches("nav.tabs a")) return;
  document.querySelectorAll("nav.tabs a").forEach((a) => a.setAttribute("aria-selected", a === tab ? "true" : "false"));
});

// A connector's brand colour (apiProperties' iconBrandColor, checked by the server to be
// #rgb or #rrggbb) behind its icon: set through the style object, which the policy allows,
// rather than a style attribute, which it refuses.
// The initial on it is white, or dark on a light colour, whichever contrasts more
// (relative luminance as WCAG defines it).
function luminance(hex) {
  const digits = hex.length === 4 ? hex.slice(1).split("").map((d) => d + d) : [hex.slice(1, 3), hex.slice(3, 5), hex.slice(5, 7)];
  const [r, g, b] = digits.map((d) => {
    const c = parseInt(d, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const DARK_TEXT = "#1b1f24";  // --text
function paintBrands(root) {
  root.querySelectorAll("[data-brand]").forEach((element) => {
    const brand = element.dataset.brand;
    if (!/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(brand)) return;
    const light = luminance(brand);
    const onWhite = 1.05 / (light + 0.05), onDark = (light + 0.05) / (luminance(DARK_TEXT) + 0.05);
    element.style.backgroundColor = brand;
    element.style.color = onWhite >= onDark ? "#ffffff" : DARK_TEXT;
  });
}
document.addEventListener("DOMContentLoaded", () => paintBrands(document));
document.addEventListener("htmx:afterSwap", (event) => paintBrands(event.detail.target));

// A box that scrolls (a long definition, a wide table on a phone) can be scrolled with
// the keyboard: it is a tab stop while, and only while, its content overflows it. A
// tabindex written in the page (the role grid's box) is left as it is.
function scrolls(box) {
  const style = getComputedStyle(box);
  const across = /(auto|scroll)/.test(style.overflowX) && box.scrollWidth > box.clientWidth + 1;
  const down = /(auto|scroll)/.test(style.overflowY) && box.scrollHeight > box.clientHeight + 1;
  return across || down;
}
function reachScrollers() {
  document.querySelectorAll("main pre, main table, main .table-wrap").forEach((box) => {
    const added = "scrollStop" in box.dataset;
    if (box.hasAttribute("tabindex") && !added) return;
    if (scrolls(box)) {
      if (!added) { box.tabIndex = 0; box.dataset.scrollStop = ""; }
    } else if (added) {
      box.removeAttribute("tabindex");
      delete box.dataset.scrollStop;
    }
  });
}
document.addEventListener("DOMContentLoaded", reachScrollers);
window.addEventListener("load", reachScrollers);
window.addEventListener("resize", reachScrollers);
document.addEventListener("htmx:afterSettle", reachScrollers);

// The import wizard's "Sign in with the provider" opens the new connection's form and
// sign-in in a window of its own. When that window closes, or "Refresh" is pressed, the
// reference's row is read again from the server, so the connection signed in there shows,
// chosen, without losing what was typed in the other rows. Without script the link opens
// a new tab and "Refresh" reloads the page.
async function refreshReference(logical) {
  const old = document.querySelector(`fieldset[data-reference="${CSS.escape(logical)}"]`);
  if (!old) return;
  const response = await fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
    .querySelector(`fieldset[data-reference="${CSS.escape(logical)}"]`);
  if (fresh) old.replaceWith(document.importNode(fresh, true));
}
document.addEventListener("click", (event) => {
  const link = event.target.closest ? event.target.closest("a[data-sign-in-window], a[data-refresh-reference]") : null;
  if (!link) return;
  if (link.dataset.refreshReference !== undefined) {
    event.preventDefault();
    refreshReference(link.dataset.refreshReference);
    return;
  }
  const opened = window.open(link.href, "connectorhub-sign-in", "popup,width=640,height=760");
  if (!opened) return; // a blocked popup: the link opens its new tab as without script
  event.preventDefault();
  const logical = link.dataset.signInWindow;
  const watch = setInterval(() => {
    if (opened.closed) {
      clearInterval(watch);
      refreshReference(logical);
    }
  }, 400);
});
// In that window: the form remembers it was opened by the wizard, and the connection's
// page, once connected, closes the window (the wizard then reads the row again).
document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("[data-sign-in-window-page]") && window.opener) {
    sessionStorage.setItem("connectorhub-sign-in-window", "1");
  } else if (sessionStorage.getItem("connectorhub-sign-in-window") && document.querySelector('[data-connection-status="connected"]')) {
    sessionStorage.removeItem("connectorhub-sign-in-window");
    window.close();
  }
});
