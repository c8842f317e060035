// Upload a file from the task or case page through the API, then show the page again with it listed.
"use strict";

(() => {
  const form = document.getElementById("attachment-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) {
      tixi.flash(form.dataset.choose);
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    const button = form.querySelector("button");
    button.setAttribute("aria-busy", "true");
    const result = await tixi.api("POST", form.dataset.upload, body);
    button.removeAttribute("aria-busy");
    if (result.ok) window.location.reload();
    else tixi.flash(tixi.problemText(result));
  });
})();
