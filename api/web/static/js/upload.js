// Check or deploy a file made in another modeller.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const result = document.getElementById("upload-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const check = event.submitter && event.submitter.value === "check";
    const file = form.elements.file.files[0];
    const response = await tixi.deploy(file, file.name, check);
    if (!response.ok) {
      result.textContent = "";
      tixi.flash(tixi.problemText(response));
      return;
    }
    document.getElementById("flash").hidden = true;
    const names = response.data.definitions.map((d) => `${d.key} v${d.version}`).join(", ");
    result.className = "flash ok";
    result.textContent = `${check ? form.dataset.checked || "✓" : form.dataset.deployed || "✓"} ${names}`;
  });
})();
