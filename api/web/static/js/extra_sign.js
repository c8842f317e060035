// 加签: the asked colleague's 同意 or 拒绝 with an opinion (a rejection needs one, checked here as the
// server checks it); then the case page, where the approval record shows their answer.
"use strict";

(() => {
  const form = document.getElementById("sign-decision");
  const opinion = form.elements.opinion;
  const field = document.getElementById("sign-opinion-field");

  function clear() {
    field.querySelectorAll(".server-error").forEach((node) => node.remove());
    opinion.removeAttribute("aria-invalid");
  }

  async function answer(button) {
    clear();
    const outcome = button.dataset.signOutcome;
    const text = opinion.value.trim();
    if (outcome === "reject" && !text) {
      const note = document.createElement("p");
      note.className = "server-error";
      note.setAttribute("role", "alert");
      note.textContent = form.dataset.opinionRequired;
      field.appendChild(note);
      opinion.setAttribute("aria-invalid", "true");
      opinion.focus();
      return;
    }
    button.setAttribute("aria-busy", "true");
    const result = await tixi.api("POST", form.dataset.url, { outcome, opinion: text || null });
    button.removeAttribute("aria-busy");
    if (result.ok) tixi.then(form.dataset.then);
    else tixi.flash(tixi.problemText(result));
  }

  opinion.addEventListener("input", clear); // the note asked for an opinion: typing one answers it
  form.querySelectorAll("button[data-sign-outcome]").forEach((button) =>
    button.addEventListener("click", () => answer(button)));
})();
