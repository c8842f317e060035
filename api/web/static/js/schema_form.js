// Renders a form from its JSON Schema with JSON Editor, checks it in the page as the server does,
// submits it through the API (completing a task, or starting a process with its start form) and
// marks the fields the server's 422 names.
"use strict";

(() => {
  const form = document.getElementById("schema-form");
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  // The fields the page asks for, flat (api/web/i18n.py drops the rules between fields, of which JSON
  // Editor would draw hidden copies); the rules come apart, as the form is written, to check with.
  const fullSchema = read("form-schema");
  const rules = read("form-rules");
  const messages = read("form-messages");
  // Attachment fields (x-attachment, engine/attachment_fields.py) are file inputs beside JSON Editor's
  // form: their files are uploaded when the form is sent, and the field's value is their attachment ids.
  const attachmentNames = Object.entries(fullSchema.properties || {})
    .filter(([, field]) => field && field["x-attachment"] !== undefined).map(([name]) => name);
  const withoutAttachments = (s) => (attachmentNames.length ? {
    ...s,
    properties: Object.fromEntries(Object.entries(s.properties || {}).filter(([n]) => !attachmentNames.includes(n))),
    required: (s.required || []).filter((n) => !attachmentNames.includes(n)),
  } : s);
  const schema = withoutAttachments(fullSchema);
  const checked = withoutAttachments(rules);
  // x-show-if (engine/show_if.py): a field applies only while each named field has one of its values.
  const conditions = Object.fromEntries(Object.entries(rules.properties || {})
    .filter(([, field]) => field && field["x-show-if"] && typeof field["x-show-if"] === "object")
    .map(([name, field]) => [name, Object.entries(field["x-show-if"])
      .map(([other, values]) => [other, Array.isArray(values) ? values : [values]])]));
  // Fields the decision buttons fill are not on the page: until one is pressed, a condition on them may hold.
  const undecided = new Set(Object.keys(rules.properties || {}).filter((n) => !(n in (fullSchema.properties || {}))));
  const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

  JSONEditor.defaults.languages.zh = {
    error_notset: "必填",
    error_required: "缺少必填项：{{0}}",
    error_notempty: "必填",
    error_enum: "请选择列表中的值",
    error_const: "与其他回答不符",
    error_tick: "必须勾选此项",
    error_untick: "此处不能勾选（见说明）",
    error_type: "类型不正确",
    error_minLength: "至少 {{0}} 个字符",
    error_maxLength: "最多 {{0}} 个字符",
    error_pattern: "格式不正确",
    error_minimum_incl: "不能小于 {{0}}",
    error_maximum_incl: "不能大于 {{0}}",
    error_minimum_excl: "必须大于 {{0}}",
    error_maximum_excl: "必须小于 {{0}}",
    error_minItems: "至少选择 {{0}} 项",
    error_maxItems: "最多选择 {{0}} 项",
    error_uniqueItems: "不能重复",
  };
  // JSON Editor's English says "Property must be set" and "Value must be the constant value"; a
  // checkbox a rule fixes (const true or false) is told which way it must be.
  Object.assign(JSONEditor.defaults.languages.en, {
    error_notset: "Required",
    error_const: "Does not fit the other answers",
    error_tick: "Must be ticked",
    error_untick: "Must not be ticked here (see the note)",
  });
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

  // A required file field counts only while it is shown (a hidden one is not sent).
  function missingFiles(applies) {
    return fileFields.filter((f) => f.required && applies(f.name) && !f.input.files.length)
      .map((f) => markField(f.name, messages.required || messages.invalid));
  }

  // Each chosen file of a shown field uploaded once: to the task, or staged for the case a start will create.
  async function uploadFiles(applies) {
    const url = form.dataset.mode === "start" ? "/api/attachments" : `/api/tasks/${form.dataset.taskId}/attachments`;
    const values = {};
    for (const f of fileFields.filter((field) => applies(field.name))) {
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

  // Which fields apply to these answers: a field whose x-show-if fails is hidden, and a hidden field
  // counts as unanswered, so a chain of conditions hides all of its tail (as engine/show_if.py does).
  // `open` names fields whose answer is still to come (the decision buttons'): a condition on them holds.
  function applying(value, open = new Set()) {
    const memo = new Map();
    const applies = (name) => {
      if (!memo.has(name)) {
        memo.set(name, (conditions[name] || []).every(([other, values]) =>
          (open.has(other) && value[other] === undefined) || (applies(other) && values.includes(value[other]))));
      }
      return memo.get(name);
    };
    return applies;
  }

  function fieldNode(name) {
    return form.querySelector(`[data-schemapath="${CSS.escape(`root.${name}`)}"]`);
  }

  // Hide the fields the answers so far rule out, with their labels; show them as soon as they apply.
  function showApplying() {
    const applies = applying(withoutBlanks(editor.getValue()), undecided);
    for (const name of Object.keys(conditions)) {
      const node = fieldNode(name);
      if (node) node.style.display = applies(name) ? "" : "none";
    }
  }

  editor.on("ready", () => {
    const prefill = read("form-prefill");
    for (const [name, value] of Object.entries(prefill)) {
      editor.getEditor(`root.${name}`)?.setValue(value);
    }
    showApplying();
    editor.on("change", showApplying);
    // JSON Editor shows its first check's form-level errors at build whatever show_errors says
    // ("required: …" before anyone typed): nothing is wrong until the person sends the form.
    editor.root.showValidationErrors([]);
  });

  // What the page sends: the fields filled in that apply to the answers (`extra`: what the decision sets).
  function sendable(extra = {}) {
    const value = { ...withoutBlanks(editor.getValue()), ...extra };
    const applies = applying(value);
    return { applies, value: Object.fromEntries(Object.entries(value).filter(([name]) => applies(name))) };
  }

  // The value checked against the whole form, its if/then included, as the server will check it; a
  // conditional field is required only while it applies. JSON Editor's validator reports a missing
  // required field on its parent, by title: here it is reported on the field itself, to be marked there.
  function pageErrors(value, applies) {
    const required = (checked.required || []).filter((name) => applies(name));
    const validator = new editor.validator.constructor(editor, { ...checked, required }, editor.validator.options,
      JSONEditor.defaults);
    // A patch of JSON Editor's validator (its private table of object keywords, @json-editor 2.17), on
    // this instance only; tests/web/test_conditional_fields.py fails if the library changes under it.
    validator._validateObjectSubSchema = {
      ...validator._validateObjectSubSchema,
      required(node, object, path) {
        return (Array.isArray(node.required) ? node.required : []).filter((name) => object[name] === undefined)
          .map((name) => ({ path: `${path}.${name}`, property: "required", message: this.translate("error_notset") }));
      },
    };
    const seen = new Set();
    return validator.validate(value).filter((e) => !seen.has(e.path) && seen.add(e.path)).map((e) => {
      const ticked = value[e.path.replace(/^root\./, "")];
      return e.property === "const" && typeof ticked === "boolean"
        ? { ...e, message: editor.translate(ticked ? "error_untick" : "error_tick") } : e;
    });
  }

  function clearServerErrors() {
    form.querySelectorAll(".server-error").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function markField(field, message) {
    const node = field ? fieldNode(field) : null;
    const container = node && node.offsetParent !== null ? node : form; // a field not on screen: the form
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

  // A field error the page can say in its own language: the JSON Schema keyword that refused the value
  // (its `kind`, engine/catalog.py) with its number or type; any other keeps the server's words.
  const SERVER_KINDS = {
    required: "error_notset", type: "error_type", enum: "error_enum", const: "error_const",
    minLength: "error_minLength", maxLength: "error_maxLength", pattern: "error_pattern",
    minimum: "error_minimum_incl", maximum: "error_maximum_incl", exclusiveMinimum: "error_minimum_excl",
    exclusiveMaximum: "error_maximum_excl", minItems: "error_minItems", maxItems: "error_maxItems",
    uniqueItems: "error_uniqueItems",
  };

  function inPageLanguage(error) {
    const key = SERVER_KINDS[error.kind];
    return key ? editor.translate(key, [String(error.limit ?? "")]) : error.message;
  }

  function showServerProblem(result) {
    // A form's 422 lists its fields' errors; a register's (engine/register_fields.py) names one field.
    const data = result.data || {};
    const errors = (data.errors || []).map((e) => ({ ...e, message: inPageLanguage(e) }));
    tixi.flash(tixi.problemText({ ...result, data: { ...data, ...(data.errors ? { errors } : {}) } }));
    const listed = data.errors ? errors : (typeof data.field === "string" ? [{ field: data.field, message: data.detail }] : []);
    const fieldErrors = listed.map((e) =>
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
    const opinion = form.elements.opinion.value.trim();
    // Checked as the server will complete the task: with the decision's fields and the opinion copied in.
    const decided = { ...outcome.set, ...(outcome.opinion_field && opinion ? { [outcome.opinion_field]: opinion } : {}) };
    const { applies, value } = sendable(decided);
    const marked = [];
    if (outcome.opinion_required && !opinion) marked.push(markOpinion(messages.opinion));
    for (const e of pageErrors(value, applies)) {
      const field = e.path.replace(/^root\.?/, "");
      if (field !== outcome.opinion_field) marked.push(markField(field, e.message));
      else if (!(outcome.opinion_required && !opinion)) marked.push(markOpinion(e.message));
    }
    for (const field of outcome.requires) {
      if (value[field] === undefined) marked.push(markField(field, messages.required));
    }
    marked.push(...missingFiles(applies));
    if (marked.length) {
      tixi.flash(messages.invalid);
      marked[0].querySelector("input, select, textarea")?.focus();
      return;
    }
    button.setAttribute("aria-busy", "true");
    const files = await uploadFiles(applies);
    if (files === null) {
      button.removeAttribute("aria-busy");
      return;
    }
    const data = Object.fromEntries(Object.entries(value).filter(([name]) => !(name in decided)));
    const result = await tixi.api("POST", `/api/tasks/${form.dataset.taskId}/decide`,
      { outcome: outcome.key, opinion: opinion || null, data: { ...data, ...files } });
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
    const { applies, value } = sendable();
    const marked = [...pageErrors(value, applies).map((e) => markField(e.path.replace(/^root\.?/, ""), e.message)),
      ...missingFiles(applies)];
    if (marked.length) {
      tixi.flash(messages.invalid);
      marked[0]?.querySelector("input, select, textarea")?.focus();
      return;
    }
    const files = await uploadFiles(applies);
    if (files === null) return;
    const result = await submit({ ...value, ...files });
    if (result.ok) {
      window.location.assign(form.dataset.mode === "start" ? `/instances/${result.data.instance_id}`
                                                            : `/tasks?done=${form.dataset.taskId}`);
      return;
    }
    showServerProblem(result);
  });
})();
