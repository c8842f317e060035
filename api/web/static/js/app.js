// Tixi's pages read on the server; they write through the JSON API with the session cookie and the
// CSRF token. A button or form marked data-api="METHOD /api/..." sends the request; data-then says
// where to go afterwards ("reload" or a path). Problems from the API are shown in the #flash region.
"use strict";

const tixi = (() => {
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)tixi_csrf=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(method, url, body) {
    const init = { method, headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    return { ok: response.ok, status: response.status, data };
  }

  function flash(message, kind = "error") {
    const region = document.getElementById("flash");
    region.textContent = message;
    region.className = `flash ${kind}`;
    region.hidden = false;
    region.focus?.();
  }

  // The page's own words for the API's problems (api/web/i18n.py PROBLEMS), by their type slug.
  function localMessages() {
    const node = document.getElementById("problem-messages");
    return node ? JSON.parse(node.textContent) : { problems: {}, states: {} };
  }

  function problemText(result) {
    const problem = result.data || {};
    const words = localMessages();
    const slug = String(problem.type || "").replace(/^urn:tixi:problem:/, "");
    const local = words.problems[slug];
    const state = words.states[problem.instance_status] || problem.instance_status || "";
    // A local text names the problem's own fields in braces: {instance_status}, {signer}.
    const filled = local && local.replace(/\{(\w+)\}/g, (whole, key) =>
      (key === "instance_status" ? state : String(problem[key] ?? whole)));
    const lines = [local ? `${result.status} ${filled}`
                         : `${result.status} ${problem.title || ""}: ${problem.detail || ""}`];
    for (const error of problem.errors || []) {
      const where = error.field || error.element || error.file || "";
      lines.push(`• ${where ? where + ": " : ""}${error.message || error.problem || ""}`);
    }
    return lines.join("\n");
  }

  // data-then: "reload", an address to go to, or "show-key" (a secret the answer carries once, such as a
  // new service account's API key: shown in the page's #new-key instead of leaving the page).
  function then(target, result) {
    if (target === "show-key") {
      const box = document.getElementById("new-key");
      box.querySelector("[data-key]").textContent = result.data.api_key;
      box.hidden = false;
    } else if (!target || target === "reload") window.location.reload();
    else window.location.assign(target);
  }

  // Form fields → JSON: checkboxes are booleans, data-type="int" numbers, data-type="list" a list of the
  // comma- (or 、-) separated words, multiple selects arrays,
  // and empty optional fields are left out.
  function formBody(form) {
    const body = {};
    for (const field of form.elements) {
      if (!field.name || field.disabled || field.type === "submit") continue;
      if (field.type === "checkbox" && !field.dataset.value) body[field.name] = field.checked;
      else if (field.type === "checkbox") { (body[field.name] ||= []); if (field.checked) body[field.name].push(field.dataset.value); }
      else if (field.multiple) body[field.name] = [...field.selectedOptions].map((o) => o.value);
      else if (field.value === "" && !field.required && !field.dataset.keepEmpty) continue;
      else if (field.dataset.type === "int") body[field.name] = Number(field.value);
      else if (field.dataset.type === "json") body[field.name] = parseJson(field);
      else if (field.dataset.type === "list") body[field.name] = field.value.split(/[,，、;；]/).map((s) => s.trim()).filter(Boolean);
      else body[field.name] = field.value;
    }
    return body;
  }

  function parseJson(field) {
    try {
      return JSON.parse(field.value);
    } catch (error) {
      field.setAttribute("aria-invalid", "true");
      throw new Error(`${field.labels[0]?.textContent || field.name}: ${error.message}`);
    }
  }

  async function run(element, body, endpoint = element.dataset.api, after = element.dataset.then) {
    const [method, url] = endpoint.split(" ");
    if (element.dataset.confirm && !window.confirm(element.dataset.confirm)) return;
    element.setAttribute("aria-busy", "true");
    const result = await api(method, url, body);
    element.removeAttribute("aria-busy");
    if (result.ok) then(after, result);
    else flash(problemText(result));
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-api]");
    if (button) {
      event.preventDefault();
      run(button, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
    }
    // A button that sends its form's fields to its own endpoint (one reason, several actions).
    const formButton = event.target.closest("button[data-api-form]");
    if (formButton) {
      event.preventDefault();
      const form = formButton.form;
      if (!form.reportValidity()) return;
      try {
        run(formButton, formBody(form), formButton.dataset.apiForm, form.dataset.then);
      } catch (error) {
        flash(error.message);
      }
    }
  });
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (form) {
      event.preventDefault();
      try {
        run(form, formBody(form));
      } catch (error) {
        flash(error.message);
      }
    }
  });

  // Deploy (or, with check=true, only check) a BPMN/DMN file; the server stores nothing on a check.
  function deploy(blob, filename, check) {
    const body = new FormData();
    body.append("file", blob, filename);
    return api("POST", `/api/definitions${check ? "?dry_run=true" : ""}`, body);
  }

  return { api, deploy, flash, problemText, then };
})();
