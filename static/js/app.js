// Small behaviours of every page, as a file: the Content-Security-Policy allows no inline script.
"use strict";

// <select data-autosubmit> submits its form on change (the language switch).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) {
    select.form.requestSubmit();
  }
});
