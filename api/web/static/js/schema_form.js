// Renders a form from its JSON Schema with JSON Editor, checks it in the page, submits it through the
// API (completing a task, or starting a process with its start form) and marks the fields the
// server's 422 names.
"use strict";

(() => {
  const form = document.getElementById("schema-form");
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const fullSchema = read("form-schema");
  const messages = read("form-messages");
  // Attachment fields (x-attachment, engine/attachment_fields.py) are file inputs beside JSON Editor's
  // form: their files are uploaded when the form is sent, and the field's value is their attachment ids.
  const attachmentNames = Object.entries(fullSchema.properties || {})
    .filter(([, field]) => field && field["x-attachment"] !== undefined).map(([name]) => name);
  const schema = attachmentNames.length ? {
    ...fullSchema,
    properties: Object.fromEntries(Object.entries(fullSchema.properties).filter(([n]) => !attachmentNames.includes(n))),
    required: (fullSchema.required || []).filter((n) => !attachmentNames.includes(n)),
  } : fullSchema;
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
    // A field starts from the schema's `default`, not from its type's (0 for a number, which an approver
    // would have to notice and clear, and which a 1-5 rating refuses).
    use_default_values: false,
  });

  const fileFields = attachmentFields();
  const uploaded = new WeakMap(); // File -> attachment id: trying again after a refusal sends no file twice

  function attachmentFields() {
    const anchor = document.getElementById("form-editor");
    let last = anchor;
    return attachmentNames.map((name) => {
      const field = fullSchema.properties[name];
      const box = document.createElement("div");
      box.className = "attachment-field";
      box.dataset.schemapath = `root.${name}`;
      const input = document.createElement("input");
      input.type = "file";
      input.id = `attachment-${name}`;
      input.multiple = field.type === "array";
      const accept = (field["x-attachment"] || {}).accept;
      if (Array.isArray(accept)) input.accept = accept.join(",");
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.textContent = field.title || name;
      box.append(label, input);
      if (field.description) {
        const hint = document.createElement("p");
        hint.className = "hint";
        hint.textContent = field.description;
        box.append(hint);
      }
      last.after(box);
      last = box;
      const required = (fullSchema.required || []).includes(name) || (field.minItems || 0) > 0;
      return { name, field, input, required };
    });
  }

  function missingFiles() {
    return fileFields.filter((f) => f.required && !f.input.files.length)
      .map((f) => markField(f.name, messages.required || messages.invalid));
  }

  // Each chosen file uploaded once: to the task, or staged for the case a start will create.
  async function uploadFiles() {
    const url = form.dataset.mode === "start" ? "/api/attachments" : `/api/tasks/${form.dataset.taskId}/attachments`;
    const values = {};
    for (const f of fileFields) {
      const ids = [];
      for (const file of f.input.files) {
        if (!uploaded.has(file)) {
          const body = new FormData();
          body.append("file", file, file.name);
          const result = await tixi.api("POST", url, body);
          if (!result.ok) {
            tixi.flash(tixi.problemText(result));
            markField(f.name, `${file.name}: ${(result.data && result.data.detail) || result.status}`);
            return null;
          }
          uploaded.set(file, result.data.attachment_id);
        }
        ids.push(uploaded.get(file));
      }
      if (ids.length) values[f.name] = f.field.type === "array" ? ids : ids[0];
    }
    return values;
  }

  editor.on("ready", () => {
    const prefill = read("form-prefill");
    for (const [name, value] of Object.entries(prefill)) {
      editor.getEditor(`root.${name}`)?.setValue(value);
    }
  });

  // JSON Editor's own check, less the complaints about optional fields left empty (they are not sent).
  // validate() without a value returns results JSON Editor computes on the next animation frame
  // after a change, i.e. the form as it was before the last field's value was taken.
  // A required field never touched has no value at all: JSON Editor reports it on the form ("root"),
  // without the field's name, so each one is named here instead, where the person can see it.
  function pageErrors() {
    const value = editor.getValue();
    const required = new Set(schema.required || []);
    const unset = [...required].filter((name) => value[name] === "" || value[name] === undefined)
      .map((name) => ({ path: `root.${name}`, message: editor.translate("error_notset") }));
    return [...unset, ...editor.validate(value).filter((e) => {
      if (e.path === "root" && e.property === "required") return false;
      const field = e.path.replace(/^root\.?/, "").split(".")[0];
      return !(field && !required.has(field) && (value[field] === "" || value[field] === undefined))
        && !unset.some((u) => u.path === `root.${field}`);
    })];
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
      // start requests name form fields as variables.<field>; an attachment field's n-th file, as <field>.<n>
      ({ ...e, field: (e.field || "").replace(/^(data|variables)\./, "").replace(/^([^.]+)\.\d+$/, (whole, name) =>
        (attachmentNames.includes(name) ? name : whole)) }));
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
    marked.push(...missingFiles());
    if (marked.length) {
      tixi.flash(messages.invalid);
      marked[0].querySelector("input, select, textarea")?.focus();
      return;
    }
    button.setAttribute("aria-busy", "true");
    const files = await uploadFiles();
    if (files === null) {
      button.removeAttribute("aria-busy");
      return;
    }
    const result = await tixi.api("POST", `/api/tasks/${form.dataset.taskId}/decide`,
      { outcome: outcome.key, opinion: opinion || null, data: { ...value, ...files } });
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
    const marked = [...errors.map((e) => markField(e.path.replace(/^root\.?/, ""), e.message)), ...missingFiles()];
    if (marked.length) {
      tixi.flash(messages.invalid);
      marked[0]?.querySelector("input, select, textarea")?.focus();
      return;
    }
    const files = await uploadFiles();
    if (files === null) return;
    const result = await submit({ ...withoutBlanks(editor.getValue()), ...files });
    if (result.ok) {
      window.location.assign(form.dataset.mode === "start" ? `/instances/${result.data.instance_id}`
                                                            : `/tasks?done=${form.dataset.taskId}`);
      return;
    }
    showServerProblem(result);
  });
})();
