// Draws a deployed BPMN (bpmn-js) or DMN (dmn-js) version read-only, and marks an instance's
// finished, active and failed elements when the page gives them.
"use strict";

(async () => {
  for (const container of document.querySelectorAll("[data-xml-url]")) {
    const response = await fetch(container.dataset.xmlUrl, { credentials: "same-origin" });
    const xml = await response.text();
    if (container.dataset.kind === "decision") {
      const viewer = new DmnJS({ container });
      await viewer.importXML(xml);
      const table = viewer.getViews().find((view) => view.type === "decisionTable");
      if (table) await viewer.open(table);
      container.dataset.rendered = "true";
      continue;
    }
    const viewer = new BpmnJS({ container });
    if (!xml.includes("BPMNDiagram")) {
      // A file written by hand or by a tool that keeps no layout (BPMN DI): nothing to draw.
      container.textContent = container.dataset.noLayout || "no diagram layout (BPMN DI) in this file";
      container.dataset.rendered = "no-layout";
      continue;
    }
    await viewer.importXML(xml);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    const marks = container.dataset.marks ? JSON.parse(container.dataset.marks) : {};
    for (const [mark, ids] of Object.entries(marks)) {
      for (const id of ids) {
        if (registry.get(id)) canvas.addMarker(id, `mark-${mark}`);
      }
    }
    container.dataset.rendered = "true";
  }
})().catch((error) => tixi.flash(String(error)));
