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

// A tab loaded in place becomes the selected one.
document.addEventListener("htmx:afterRequest", (event) => {
  const tab = event.detail.elt;
  if (!tab.matches || !tab.matches("nav.tabs a")) return;
  document.querySelectorAll("nav.tabs a").forEach((a) => a.setAttribute("aria-selected", a === tab ? "true" : "false"));
});

// A connector's brand colour (apiProperties' iconBrandColor, checked by the server to be
// #rgb or #rrggbb) behind its icon: set through the style object, which the policy allows,
// rather than a style attribute, which it refuses.
function paintBrands(root) {
  root.querySelectorAll("[data-brand]").forEach((element) => {
    if (/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(element.dataset.brand)) element.style.backgroundColor = element.dataset.brand;
  });
}
document.addEventListener("DOMContentLoaded", () => paintBrands(document));
document.addEventListener("htmx:afterSwap", (event) => paintBrands(event.detail.target));

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
