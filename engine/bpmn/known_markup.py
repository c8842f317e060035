"""Refusing markup that no engine reads: elements and attributes outside the known namespaces, and
processing instructions.

A BPMN file may carry any XML inside `extensionElements`; an XHTML `<script>`, an SVG `onload` or an
`<?xml-stylesheet?>` there is read by no engine but runs if a browser ever renders the file. Refusing
(rather than silently stripping) tells the designer what was wrong, and keeps the stored file exactly
what was uploaded. The list is what Tixi, SpiffWorkflow, bpmn-js/dmn-js and Camunda Modeler 7 write.
"""

from __future__ import annotations

import io

from lxml import etree

from engine.bpmn.xml import XmlProblem

KNOWN_NAMESPACES = frozenset({
    # BPMN 2.0 and its diagram interchange
    "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    # DMN 1.1 to 1.5 and their diagram interchange
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "https://www.omg.org/spec/DMN/20230324/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DC/",
    "http://www.omg.org/spec/DMN/20180521/DI/",
    # Camunda 7 extensions (what Tixi reads) and Camunda Modeler's own marks
    "http://camunda.org/schema/1.0/bpmn",
    "http://camunda.org/schema/1.0/dmn",
    "http://camunda.org/schema/modeler/1.0",
    # SpiffWorkflow's extensions
    "http://spiffworkflow.org/bpmn/schema/1.0/core",
    # bpmn-js/dmn-js: element colours (two conventions) and DMN layout details
    "http://bpmn.io/schema/bpmn/biocolor/1.0",
    "http://www.omg.org/spec/BPMN/non-normative/color/1.0",
    "http://bpmn.io/schema/dmn/biodi/1.0",
    "http://bpmn.io/schema/dmn/biodi/2.0",
})
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"  # Camunda 8: refused with what to choose instead
# Attributes only: `xsi:type` on expressions, `xml:lang` on documentation.
ATTRIBUTE_NAMESPACES = KNOWN_NAMESPACES | {"http://www.w3.org/2001/XMLSchema-instance",
                                           "http://www.w3.org/XML/1998/namespace"}


def check_known_markup(content: bytes, root: etree._Element) -> None:
    """Refuse the first element, attribute or processing instruction that no engine reads.

    `root` is `content` parsed by `parse_untrusted_xml`, which drops processing instructions, so
    those are looked for in the bytes (with the same safe settings).
    Raises: XmlProblem naming the markup, its namespace, line and the nearest enclosing element id.
    """
    if etree.QName(root).namespace not in KNOWN_NAMESPACES:
        return  # not BPMN or DMN at all, which the parser says more plainly
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments say nothing to anyone
        namespace = etree.QName(element).namespace
        if namespace == ZEEBE_NS or any(etree.QName(a).namespace == ZEEBE_NS for a in element.attrib):
            raise _camunda_8(element)
        if namespace not in KNOWN_NAMESPACES:
            raise _refusal(element.getparent(), f"element <{_shown(element, element.tag)}>", namespace,
                           element.sourceline)
        for attribute in element.attrib:
            attribute_namespace = etree.QName(attribute).namespace
            if attribute_namespace is not None and attribute_namespace not in ATTRIBUTE_NAMESPACES:
                raise _refusal(element, f"attribute {_shown(element, attribute)}", attribute_namespace,
                               element.sourceline)
    for _, instruction in etree.iterparse(io.BytesIO(content), events=("pi",), resolve_entities=False,
                                          load_dtd=False, no_network=True, huge_tree=False):
        raise XmlProblem(f"processing instruction <?{instruction.target}?> is not allowed; no engine reads it, "
                         "and a browser would act on it; remove it and upload again", instruction.sourceline)


def _camunda_8(element: etree._Element) -> XmlProblem:
    """A Camunda 8 model: its tasks, assignments and forms are Zeebe's, and its expressions FEEL."""
    if etree.QName(element).namespace == ZEEBE_NS:
        what = f"<{_shown(element, element.tag)}>"
        anchor = element.getparent()
        while anchor is not None and etree.QName(anchor).localname == "extensionElements":
            anchor = anchor.getparent()
    else:
        what = next(_shown(element, a) for a in element.attrib if etree.QName(a).namespace == ZEEBE_NS)
        anchor = element
    owner = _enclosing_id(anchor)
    where = f" on '{owner}'" if owner else ""
    return XmlProblem(f"{what}{where} is Camunda 8 (Zeebe) markup, and Tixi runs Camunda 7 models: choose Camunda 7 "
                      "in the modeler (a Camunda 7 BPMN diagram), and write the task's camunda:candidateGroups, "
                      "camunda:assignee, camunda:formKey or camunda:type=\"external\" with camunda:topic there",
                      element.sourceline, owner)


def _refusal(anchor: etree._Element | None, what: str, namespace: str | None, line: int | None) -> XmlProblem:
    where = "no namespace" if namespace is None else f"namespace '{namespace}'"
    return XmlProblem(f"{what} in {where} is not read by Tixi or any BPMN engine and is not allowed (only BPMN, DMN, "
                      "their diagram namespaces, camunda:, spiffworkflow: and bpmn-js colours are); remove it and "
                      "upload again", line, _enclosing_id(anchor))


def _shown(element: etree._Element, name: str) -> str:
    """`prefix:local` as the file wrote it, or the local name when it had no prefix."""
    qname = etree.QName(name)
    prefix = next((p for p, uri in element.nsmap.items() if uri == qname.namespace and p), None)
    return f"{prefix}:{qname.localname}" if prefix else qname.localname


def _enclosing_id(element: etree._Element | None) -> str | None:
    while element is not None:
        found: str | None = element.get("id")
        if found:
            return found
        element = element.getparent()
    return None
