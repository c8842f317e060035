// Renders a form from its JSON Schema with JSON Editor, checks it in the page, submits it through the
// API (completing a task, or starting a process with its start form) and marks the fields the
// server's 422 names.
"use strict";

(() => {
  const form = document.getElementById("schema-form");
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const schema = read("form-schema");
  const messages = read("form-messages");
  const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

  JSONEditor.defaults.languages.zh = {
    error_notset: "必填",
    error_required: "缺少必填项：{{0}}",
    error_notempty: "必填",
    error_enum: "请选择列表中的值",
    error_const: "必须确认此项",
    error_type: "类型不正确",
    error_minLength: "至少 {{0}} 个字符",
    error_maxLength: "最多 {{0}} 个字符",
    error_pattern: "格式不正确",
    error_minimum_incl: "不能小于 {{0}}",
    error_maximum_incl: "不能大于 {{0}}",
    error_minItems: "至少选择 {{0}} 项",
    error_maxItems: "最多选择 {{0}} 项",
    error_uniqueItems: "不能重复",
  };
  JSONEditor.defaults.language = lang;

  const editor = new JSONEditor(document.getElementById("form-editor"), {
    schema,
    theme: "html",
    iconlib: null,
    disable_collapse: true,
    disable_edit_json: true,
    disable_properties: true,
    disable_array_delete_all_rows: true,
    disable_array_delete_last_row: true,
    display_required_only: false,
    show_errors: "never", // errors are shown by markField below, the page's and the server's alike
    prompt_before_delete: false,
  });

  editor.on("ready", () => {
    const prefill = read("form-prefill");
    for (const [name, value] of Object.entries(prefill)) {
      editor.getEditor(`root.${name}`)?.setValue(value);
    }
  });

  // JSON Editor's own check, less the complaints about optional fields left empty (they are not sent).
  // validate() without a value returns results JSON Editor computes on the next animation frame
  // after a change, i.e. the form as it was before the last field's value was taken.
  function pageErrors() {
    const value = editor.getValue();
    const required = new Set(schema.required || []);
    return editor.validate(value).filter((e) => {
      const field = e.path.replace(/^root\.?/, "").split(".")[0];
      return !(field && !required.has(field) && (value[field] === "" || value[field] === undefined));
    });
  }

  function clearServerErrors() {
    form.querySelectorAll(".server-error").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function markField(field, message) {
    const path = `root${field ? "." + field : ""}`;
    // JSON Editor keeps hidden copies of fields for if/then branches: mark the one on screen.
    const candidates = [...form.querySelectorAll(`[data-schemapath="${CSS.escape(path)}"]`)];
    const container = candidates.reverse().find((node) => node.offsetParent !== null) || form;
    const note = document.createElement("p");
    note.className = "server-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    container.appendChild(note);
    container.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
    return container;
  }

  // A field left empty is not sent at all (an empty string would fail a minLength of 1 on an optional field).
  function withoutBlanks(value) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  }

  function submit(value) {
    if (form.dataset.mode === "start") {
      const businessKey = form.elements.business_key.value.trim();
      return tixi.api("POST", "/api/instances", {
        definition_key: form.dataset.definitionKey,
        version: Number(form.dataset.version),
        business_key: businessKey || null,
        variables: value,
      });
    }
    return tixi.api("POST", `/api/tasks/${form.dataset.taskId}/complete`, { data: value });
  }

  function showServerProblem(result) {
    tixi.flash(tixi.problemText(result));
    const fieldErrors = ((result.data && result.data.errors) || []).map((e) =>
      // start requests name form fields as variables.<field>
      ({ ...e, field: (e.field || "").replace(/^(data|variables)\./, "") }));
    const first = fieldErrors.map((e) => (e.field === "opinion" ? markOpinion(e.message) : markField(e.field, e.message)))[0];
    first?.querySelector("input, select, textarea")?.focus();
  }

  // Decisions (the form's x-outcomes): each button checks what it needs, then one request claims (if
  // nobody holds the task), records the decision and completes the task.
  function markOpinion(message) {
    const container = document.getElementById("opinion-field");
    const note = document.createElement("p");
    note.className = "server-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    container.appendChild(note);
    container.querySelector("textarea").setAttribute("aria-invalid", "true");
    return container;
  }

  async function decide(button, outcome) {
    clearServerErrors();
    const value = withoutBlanks(editor.getValue());
    const opinion = form.elements.opinion.value.trim();
    const marked = pageErrors().map((e) => markField(e.path.replace(/^root\.?/, ""), e.message));
    for (const field of outcome.requires) {
      if (value[field] === undefined) marked.push(markField(field, messages.required));
    }
    if (outcome.opinion_required && !opinion) marked.push(markOpinion(messages.opinion));
    if (marked.length) {
      tixi.flash(messages.invalid);
      marked[0].querySelector("input, select, textarea")?.focus();
      return;
    }
    button.setAttribute("aria-busy", "true");
    const result = await tixi.api("POST", `/api/tasks/${form.dataset.taskId}/decide`,
      { outcome: outcome.key, opinion: opinion || null, data: value });
    button.removeAttribute("aria-busy");
    if (result.ok) window.location.assign(`/tasks?done=${form.dataset.taskId}`);
    else showServerProblem(result);
  }

  if (form.dataset.mode === "decide") {
    const outcomes = read("form-outcomes");
    form.querySelectorAll("button[data-outcome]").forEach((button) => {
      const outcome = outcomes.find((o) => o.key === button.dataset.outcome);
      button.addEventListener("click", () => decide(button, outcome));
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.mode === "decide") return; // Enter in a field decides nothing: a decision is a button
    clearServerErrors();
    const errors = pageErrors();
    if (errors.length) {
      tixi.flash(messages.invalid);
      const marked = errors.map((e) => markField(e.path.replace(/^root\.?/, ""), e.message));
      marked[0]?.querySelector("input, select, textarea")?.focus();
      return;
    }
    const result = await submit(withoutBlanks(editor.getValue()));
    if (result.ok) {
      window.location.assign(form.dataset.mode === "start" ? `/instances/${result.data.instance_id}`
                                                            : `/tasks?done=${form.dataset.taskId}`);
      return;
    }
    showServerProblem(result);
  });
})();
