// The bpmn-js modeler with a small properties panel for what Tixi reads: ids, bilingual names,
// candidate groups, form keys, assignees, due dates and starter groups. Check and deploy go through
// the API; a deploy error is drawn on the element it names. An element picker makes every element
// reachable from the keyboard.
"use strict";

(async () => {
  const root = document.getElementById("modeler");
  const messages = JSON.parse(root.dataset.messages);
  const camunda = await (await fetch("/static/vendor/camunda-moddle.json")).json();
  const modeler = new BpmnJS({ container: "#canvas", keyboard: { bindTo: document }, moddleExtensions: { camunda } });
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const selection = modeler.get("selection");
  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  const picker = document.getElementById("element-picker");
  const props = document.querySelectorAll("#props [data-prop]");
  let current = null;

  const NEW_PROCESS = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="definitions" targetNamespace="http://tixi.local/bpmn">
  <bpmn:process id="new_process" name="新流程 / New process" isExecutable="true">
    <bpmn:startEvent id="start" name="开始 / Start"><bpmn:outgoing>to_task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="first_task" name="第一步 / First step"><bpmn:incoming>to_task</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end" name="结束 / End"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_task" sourceRef="start" targetRef="first_task"/>
    <bpmn:sequenceFlow id="to_end" sourceRef="first_task" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="new_process">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="160" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="first_task_di" bpmnElement="first_task"><dc:Bounds x="250" y="78" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="410" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="to_task_di" bpmnElement="to_task"><di:waypoint x="196" y="118"/><di:waypoint x="250" y="118"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="to_end_di" bpmnElement="to_end"><di:waypoint x="350" y="118"/><di:waypoint x="410" y="118"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

  const url = root.dataset.xmlUrl;
  const xml = url ? await (await fetch(url, { credentials: "same-origin" })).text() : NEW_PROCESS;
  await modeler.importXML(xml);
  canvas.zoom("fit-viewport", "auto");

  const processElement = () => canvas.getRootElement();
  const editable = () => [processElement(), ...registry.filter((e) => e.type !== "label" && e !== processElement()
    && (e.businessObject.$instanceOf("bpmn:FlowNode") || e.businessObject.$instanceOf("bpmn:SequenceFlow")))];

  function fillPicker() {
    picker.replaceChildren(...editable().map((element) => {
      const option = document.createElement("option");
      option.value = element.id;
      const name = element.businessObject.name || "";
      option.textContent = element === processElement() ? `${messages.process}: ${element.id}` : `${element.id}${name ? " — " + name : ""}`;
      return option;
    }));
    if (current) picker.value = current.id;
  }

  function show(element) {
    current = element || processElement();
    const bo = current.businessObject;
    document.getElementById("prop-type").textContent = bo.$type;
    for (const section of document.querySelectorAll("[data-for]")) section.hidden = !bo.$instanceOf(section.dataset.for);
    for (const input of props) {
      const value = input.dataset.prop === "id" ? bo.id : bo.get(input.dataset.prop) || "";
      if (input.multiple) {
        const chosen = String(value).split(",").map((v) => v.trim());
        for (const option of input.options) option.selected = chosen.includes(option.value);
      } else {
        input.value = value;
      }
    }
    picker.value = current.id;
  }

  for (const input of props) {
    input.addEventListener("change", () => {
      const value = input.multiple ? [...input.selectedOptions].map((o) => o.value).join(",") : input.value.trim();
      modeling.updateProperties(current, { [input.dataset.prop]: value || undefined });
      fillPicker();
    });
  }
  picker.addEventListener("change", () => {
    const element = registry.get(picker.value);
    if (element === processElement()) selection.select([]);
    else { selection.select(element); canvas.scrollToElement(element); }
    show(element);
  });
  modeler.on("selection.changed", ({ newSelection }) => show(newSelection.length === 1 ? newSelection[0] : null));
  modeler.on("elements.changed", fillPicker);
  fillPicker();
  show(null);

  function clearProblems() {
    overlays.remove({ type: "deploy-error" });
    for (const element of registry.getAll()) canvas.removeMarker(element, "mark-error");
    document.getElementById("deploy-problems").replaceChildren();
    document.getElementById("deploy-result").textContent = "";
  }

  function showProblems(problem) {
    const list = document.getElementById("deploy-problems");
    const errors = problem.errors && problem.errors.length ? problem.errors : [{ element: problem.element, problem: problem.detail }];
    const notes = new Map(); // one overlay per element, listing all of its problems
    for (const error of errors) {
      const text = error.problem || error.message || problem.detail;
      const item = document.createElement("li");
      item.textContent = `${error.element ? error.element + ": " : ""}${text}`;
      const element = error.element && registry.get(error.element);
      if (element) {
        item.dataset.element = error.element;
        if (!notes.has(element)) notes.set(element, []);
        notes.get(element).push(text);
        const go = document.createElement("button");
        go.type = "button";
        go.textContent = "→";
        go.setAttribute("aria-label", `${messages.pick}: ${error.element}`);
        go.addEventListener("click", () => { selection.select(element); canvas.scrollToElement(element); show(element); });
        item.appendChild(go);
      }
      list.appendChild(item);
    }
    for (const [element, texts] of notes) {
      canvas.addMarker(element, "mark-error");
      const note = document.createElement("div");
      note.className = "diagram-error";
      note.textContent = texts.join(" · ");
      overlays.add(element, "deploy-error", { position: { bottom: 6, left: 0 }, html: note });
    }
  }

  async function send(check) {
    clearProblems();
    const { xml: edited } = await modeler.saveXML({ format: true });
    const key = processElement().businessObject.id;
    const result = await tixi.deploy(new Blob([edited], { type: "application/xml" }), `${key}.bpmn`, check);
    const status = document.getElementById("deploy-result");
    if (!result.ok) {
      status.className = "flash error";
      status.textContent = `${messages.problems} (${result.status}): ${result.data && result.data.detail}`;
      showProblems(result.data || {});
      return;
    }
    const deployed = result.data.definitions;
    status.className = "flash ok";
    status.textContent = `${check ? messages.checked : messages.deployed} ${deployed.map((d) => `${d.key} v${d.version}`).join(", ")}`;
    if (!check && deployed.length) {
      const link = document.createElement("a");
      link.href = `/processes/${deployed[0].key}?version=${deployed[0].version}`;
      link.textContent = ` → ${deployed[0].key} v${deployed[0].version}`;
      status.appendChild(link);
    }
  }
  document.getElementById("check")?.addEventListener("click", () => send(true));
  document.getElementById("deploy")?.addEventListener("click", () => send(false));
  root.dataset.ready = "true";
})().catch((error) => tixi.flash(String(error)));
