// Headway's behaviour for Flask-Admin pages, in place of the inline handlers
// (onclick="...") and javascript: links the Content-Security-Policy refuses.

// Confirmation before a form with data-confirm is submitted.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// In the capture phase: Flask-Admin's dropdown code stops the propagation of
// clicks on its toggles, so a bubbling listener would never see them.
document.addEventListener(
  "click",
  function (event) {
    if (!(event.target instanceof Element)) {
      return;
    }
    var link = event.target.closest('a[href^="javascript:"]');
    if (link) {
      // Flask-Admin's placeholder links (dropdown toggles, the current page,
      // the active tab) do nothing, but following one would run a javascript:
      // URL, which the CSP refuses and reports.
      event.preventDefault();
    }
    // "With selected" actions (templates/admin/actions.html): what the inline
    // onclick did; modelActions asks for the confirmation itself.
    var action = event.target.closest("[data-headway-action]");
    if (action && window.modelActions) {
      window.modelActions.execute(action.getAttribute("data-headway-action"));
    }
  },
  true
);

// Flask-Admin's layout (admin/base.html) writes <html> without a language.
document.documentElement.lang = "en";
