"""Parsing uploaded XML safely: no DTDs, no entities, no network, bounded size and depth.

SpiffWorkflow parses with lxml's process-wide default parser, which (depending on the lxml
version) may read external entities; so uploads are parsed here and the parsed root is handed
to the library.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

MAX_XML_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 200


@dataclass(frozen=True)
class XmlProblem(Exception):
    message: str
    line: int | None = None
    element: str | None = None  # the id of the BPMN/DMN element the problem is in, when there is one

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted_xml(content: bytes) -> etree._Element:
    """Parse an uploaded document, refusing anything a BPMN/DMN file never needs.

    Raises: XmlProblem.
    """
    if len(content) > MAX_XML_BYTES:
        raise XmlProblem(f"file is {len(content)} bytes; the limit is {MAX_XML_BYTES}")
    try:
        tree = etree.fromstring(content, _parser()).getroottree()
    except etree.XMLSyntaxError as error:
        raise XmlProblem(f"not well-formed XML: {error.msg}", error.lineno) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        # A DOCTYPE is how entity expansion and external entities get in; BPMN never needs one.
        raise XmlProblem("a DOCTYPE declaration is not allowed (entities and DTDs are refused)")
    root = tree.getroot()
    for element in root.iter():
        if isinstance(element, etree._Entity):
            raise XmlProblem("entity references are not allowed", element.sourceline)
    if _depth(root) > MAX_DEPTH:
        raise XmlProblem(f"elements are nested deeper than {MAX_DEPTH} levels")
    return root


def _depth(root: etree._Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in element)
    return deepest
