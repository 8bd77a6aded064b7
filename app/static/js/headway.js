// Confirmation before a form with data-confirm is submitted. Replaces inline
// onclick handlers, which the Content-Security-Policy does not allow.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
