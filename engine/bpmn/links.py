"""Link events: a link throw event continues at the link catch event of the same name, as a sequence flow would.

SpiffWorkflow 3.2 parses a link event as a plain event: the throw ended its path and the case
completed early. So before parsing, each pair is joined by a sequence flow of its own (the throw
goes on to the catch) and both become plain throw events, recorded in the history like a milestone.
A throw without its catch, or a name two catches share, is refused at Check.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from engine.bpmn.support import Unsupported

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_LINK = f"{{{BPMN_NS}}}linkEventDefinition"
_THROW, _CATCH = f"{{{BPMN_NS}}}intermediateThrowEvent", f"{{{BPMN_NS}}}intermediateCatchEvent"


def link_problems(process: etree._Element) -> list[Unsupported]:
    """Each link throw without a catch of its name in its process level, each name two catches share."""
    found = []
    for throws, catches in _levels(process):
        for name, events in catches.items():
            if len(events) > 1:
                found.append(Unsupported(_id(events[1]), events[1].sourceline,
                                         f"{_what(events[1])} and '{_id(events[0])}' both catch link '{name}': "
                                         "give each link catch event a name of its own"))
        for name, events in throws.items():
            if name not in catches:
                found.extend(Unsupported(_id(e), e.sourceline,
                                         f"{_what(e)} throws link '{name}', and no link catch event of that name is "
                                         "in the same process or subprocess: draw the catch event, or connect the "
                                         "two places with a sequence flow") for e in events)
    return found


def join_links(process: etree._Element) -> None:
    """Replace each link pair by a sequence flow (the document must have passed `link_problems`)."""
    for throws, catches in _levels(process):
        for name, events in throws.items():
            catch = catches[name][0]
            for throw in events:
                flow = etree.SubElement(throw.getparent(), f"{{{BPMN_NS}}}sequenceFlow",
                                        id=f"{_id(throw)}__link_{_id(catch)}", sourceRef=_id(throw), targetRef=_id(catch))
                flow.tail = "\n"
        for event in [e for group in (*throws.values(), *catches.values()) for e in group]:
            event.remove(event.find(_LINK))
            event.tag = _THROW  # a plain throw event passes straight on; a plain catch event would wait


def _levels(process: etree._Element) -> list[tuple[dict[str, list[etree._Element]], dict[str, list[etree._Element]]]]:
    """The link throws and catches by name, for the process and each (event) subprocess: a link stays in its level."""
    levels = []
    for level in [process, *process.iter(f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction")]:
        throws: dict[str, list[etree._Element]] = defaultdict(list)
        catches: dict[str, list[etree._Element]] = defaultdict(list)
        for child in level:
            link = child.find(_LINK) if child.tag in (_THROW, _CATCH) else None
            if link is not None:
                name = (link.get("name") or child.get("name") or "").strip()
                (throws if child.tag == _THROW else catches)[name].append(child)
        if throws or catches:
            levels.append((throws, catches))
    return levels


def _id(node: etree._Element) -> str:
    return str(node.get("id") or "")


def _what(node: etree._Element) -> str:
    kind = "link throw event" if node.tag == _THROW else "link catch event"
    name = node.get("name")
    return f"{kind} '{_id(node)}' ({name})" if name else f"{kind} '{_id(node)}'"
