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

// Flask-Admin's list checkboxes have only a title, which is not a label:
// give each an accessible name that says which record it selects.
document.querySelectorAll("input.action-checkbox").forEach(function (box) {
  box.setAttribute("aria-label", "Select record " + box.value);
});
document.querySelectorAll("input.action-rowtoggle").forEach(function (box) {
  box.setAttribute("aria-label", "Select all records on this page");
});

// A running job's page follows the job (templates/dbadmin/job.html): the
// log's tail after what the page has (…/jobs/<id>/log?after=<offset>) and the
// step, every 1.5 s; once the job has ended, the job's part of the page and
// the navbar's state are fetched again and swapped in. No reload: what the
// reader scrolled to or unfolded stays.
(function () {
  var live = document.getElementById("job-live");
  if (!live || live.getAttribute("data-status") !== "running") {
    return;
  }
  var url = live.getAttribute("data-log-url");
  var offset = parseInt(live.getAttribute("data-log-offset"), 10) || 0;
  var POLL_MS = 1500;
  var RETRY_MS = 5000;

  function lastLines() {
    var log = document.getElementById("job-log");
    var last = log.lastElementChild;
    if (!last || !last.classList.contains("log-lines")) {
      last = document.createElement("pre");
      last.className = "mb-2 log-lines";
      log.appendChild(last);
    }
    return last;
  }

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element && text) {
      element.textContent = text;
    }
  }

  function swapInFinalPage() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        ["job-live", "navbar-database"].forEach(function (id) {
          var fresh = page.getElementById(id);
          var old = document.getElementById(id);
          if (fresh && old) {
            old.replaceWith(document.importNode(fresh, true));
          }
        });
      });
  }

  function poll() {
    fetch(url + "?after=" + offset, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("job log: " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.reset) {
          document.getElementById("job-log").textContent = "";
        }
        if (data.text) {
          lastLines().textContent += data.text;
        }
        offset = data.next;
        setText("job-step", data.step);
        setText("job-elapsed", String(data.elapsed_seconds));
        if (data.status === "running") {
          window.setTimeout(poll, POLL_MS);
        } else {
          swapInFinalPage();
        }
      })
      .catch(function () {
        window.setTimeout(poll, RETRY_MS);
      });
  }

  window.setTimeout(poll, POLL_MS);
})();

// A Copy button (data-copy: the id of the field whose value it copies), such
// as the new API token's on the Account page.
document.addEventListener("click", function (event) {
  if (!(event.target instanceof Element)) {
    return;
  }
  var button = event.target.closest("[data-copy]");
  if (!button) {
    return;
  }
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) {
    return;
  }
  function copied() {
    button.textContent = "Copied";
  }
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(copied, function () {
      if (document.execCommand("copy")) {
        copied();
      }
    });
  } else if (document.execCommand("copy")) {
    copied(); // a plain-HTTP page has no Clipboard API
  }
});

// A form whose answer takes seconds (data-slow: what it is doing, such as
// the plan page's stamp check): its button is disabled and a spinner with
// those words shows until the next page arrives.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var doing = form.getAttribute("data-slow");
  if (event.defaultPrevented || !doing) {
    return;
  }
  var button = form.querySelector("button[type=submit]");
  if (button) {
    button.disabled = true;
  }
  var note = document.createElement("p");
  note.className = "slow-note w-100 mt-2 mb-0 text-muted";
  note.setAttribute("role", "status");
  var spinner = document.createElement("span");
  spinner.className = "spinner-border spinner-border-sm mr-2";
  spinner.setAttribute("aria-hidden", "true");
  note.appendChild(spinner);
  note.appendChild(document.createTextNode(doing));
  form.appendChild(note);
});

// Flask-Admin's list filters (its filters.js builds each row: the filter's
// name, an operation select, a value field) leave the fields without a
// label: each is named after its filter, now and as filters are added.
(function () {
  var table = document.querySelector("table.filters");
  if (!table) {
    return;
  }
  function label() {
    table.querySelectorAll("tr").forEach(function (row) {
      var remove = row.querySelector(".remove-filter");
      if (!remove) {
        return;
      }
      var name = remove.textContent.replace("\u00d7", "").trim();
      row.querySelectorAll(".filter-op").forEach(function (field) {
        field.setAttribute("aria-label", name + ": how to compare");
      });
      row.querySelectorAll(".filter-val").forEach(function (field) {
        field.setAttribute("aria-label", name + ": value");
      });
    });
  }
  label();
  new MutationObserver(label).observe(table, { childList: true, subtree: true });
})();
