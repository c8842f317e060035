// Copies the browser builds of the npm packages the web app uses into api/web/static/vendor,
// so pages load every script and stylesheet from Tixi itself, never from another site.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const modules = join(root, "node_modules");
const vendor = join(root, "api", "web", "static", "vendor");

const files = {
  "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-viewer.js",
  "bpmn-js/dist/bpmn-modeler.production.min.js": "bpmn-modeler.js",
  "bpmn-js/dist/assets/bpmn-js.css": "bpmn-js.css",
  "bpmn-js/dist/assets/diagram-js.css": "diagram-js.css",
  "bpmn-js/dist/assets/bpmn-font": "bpmn-font",
  "dmn-js/dist/dmn-navigated-viewer.production.min.js": "dmn-viewer.js",
  "dmn-js/dist/assets/dmn-js-shared.css": "dmn-js-shared.css",
  "dmn-js/dist/assets/dmn-js-decision-table.css": "dmn-js-decision-table.css",
  "dmn-js/dist/assets/dmn-js-drd.css": "dmn-js-drd.css",
  "dmn-js/dist/assets/dmn-font": "dmn-font",
  "@json-editor/json-editor/dist/jsoneditor.js": "jsoneditor.js",
  "camunda-bpmn-moddle/resources/camunda.json": "camunda-moddle.json",
  // The API documentation at /docs and /redoc, so it reads without internet access.
  "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css": "swagger-ui.css",
  "redoc/bundles/redoc.standalone.js": "redoc.standalone.js",
};

rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
for (const [source, target] of Object.entries(files)) {
  cpSync(join(modules, source), join(vendor, target), { recursive: true });
}

// ReDoc's menu shows Redocly's logo from their CDN (it hides itself when that fails to load): point
// it at nothing, so /redoc asks no other site. Fail loudly when a new ReDoc moves the address.
const redoc = join(vendor, "redoc.standalone.js");
const logo = "https://cdn.redoc.ly/redoc/logo-mini.svg";
const bundle = readFileSync(redoc, "utf8");
if (!bundle.includes(logo)) throw new Error(`${redoc} no longer names ${logo}: check what it loads from elsewhere`);
writeFileSync(redoc, bundle.replaceAll(logo, "data:,"));

console.log(`copied ${Object.keys(files).length} front-end files to ${vendor}`);
