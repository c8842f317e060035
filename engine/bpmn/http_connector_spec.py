"""Reading Camunda 7's HTTP connector (`camunda:connector` with `connectorId` http-connector) at deploy.

Camunda Modeler writes the call as the connector's input parameters (url, method, headers,
payload) and maps the answer with its output parameters (`${response}`, `${statusCode}`). Tixi
reads that shape, so a Camunda Modeler file runs unchanged; the call itself is made by Tixi's own
worker (engine/http_connector.py) through an external task under `CONNECTOR_TOPIC`. Templates are
checked here, once, so that a task only fails at run time for reasons the designer could not see:
the endpoint's answer or a host the operator has not allowed.

Placeholders in url, header values and payload: `${name}` as Camunda writes it, or Jinja's
`{{ name }}`, `{{ name.field }}`, `{{ name | tojson }}` (rendered in Jinja2's sandbox).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
CONNECTOR_TOPIC = "tixi-http-connector"  # the internal topic Tixi's own connector worker fetches
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_INPUTS = ("url", "method", "headers", "payload")
_PATH = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_JUEL_PLACEHOLDER = re.compile(r"\$\{\s*(" + _PATH + r")\s*\}")
_JINJA_PLACEHOLDER = re.compile(r"\{\{\s*" + _PATH + r"\s*(?:\|\s*tojson\s*)?\}\}")
# What an output parameter may name: the parsed body (or a field of it), the status, the headers.
_OUTPUT = re.compile(r"^\$\{\s*(response(?:\.[A-Za-z_]\w*)*|statusCode|headers)\s*\}$")


class ConnectorProblem(ValueError):
    """The connector is written in a way Tixi cannot run; the message says what to write instead."""


def connector_of(node: etree._Element) -> etree._Element | None:
    found: etree._Element | None = node.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}connector")
    return found


def read_http_connector(node: etree._Element) -> dict[str, Any]:
    """The call a service task's http-connector makes, as the connector worker needs it.

    {"url", "method", "headers": {name: template}, "payload": template | None, "outputs": {variable: source}}
    where templates are Jinja text and a source is "statusCode", "headers", "response" or "response.a.b".
    Raises: ConnectorProblem.
    """
    connector = connector_of(node)
    assert connector is not None
    connector_id = (connector.findtext(f"{{{CAMUNDA_NS}}}connectorId") or "").strip()
    if connector_id != "http-connector":
        raise ConnectorProblem(f"uses camunda:connector '{connector_id or '(no connectorId)'}', and Tixi runs only "
                               "'http-connector' (a REST call): set connectorId to http-connector, or set "
                               "camunda:type=\"external\" and camunda:topic and let a worker do the work")
    io = connector.find(f"{{{CAMUNDA_NS}}}inputOutput")
    inputs: dict[str, etree._Element] = {}
    outputs: dict[str, str] = {}
    if io is not None:
        for parameter in io.findall(f"{{{CAMUNDA_NS}}}inputParameter"):
            name = parameter.get("name", "")
            if name not in _INPUTS:
                raise ConnectorProblem(f"has the http-connector input '{name}', which Tixi does not read: the inputs "
                                       "are url, method, headers (a camunda:map) and payload")
            inputs[name] = parameter
        for parameter in io.findall(f"{{{CAMUNDA_NS}}}outputParameter"):
            name, text = parameter.get("name", ""), (parameter.text or "").strip()
            matched = _OUTPUT.match(text)
            if not name or not matched or len(parameter):
                raise ConnectorProblem(f"maps the http-connector output '{name}' from '{text}', which Tixi cannot "
                                       "read: write ${response} (the JSON body, or the text), ${response.field}, "
                                       "${statusCode} or ${headers}")
            outputs[name] = matched.group(1)
    url = _template(_text(inputs.get("url")), "url")
    if not re.match(r"^(https?://|\{\{)", url):  # a literal address, or one the case holds (`${crm_url}/...`)
        raise ConnectorProblem(f"has the http-connector url '{url or '(none)'}': give an http:// or https:// address "
                               "as the input parameter 'url'")
    method = (_text(inputs.get("method")) or "GET").strip().upper()
    if method not in METHODS:
        raise ConnectorProblem(f"has the http-connector method '{method}': use one of {', '.join(METHODS)}")
    payload = _text(inputs.get("payload")) if "payload" in inputs else None
    return {"url": url, "method": method, "headers": _headers(inputs.get("headers")),
            "payload": _template(payload, "payload") if payload is not None else None, "outputs": outputs}


def _text(parameter: etree._Element | None) -> str:
    if parameter is None:
        return ""
    if len(parameter):
        raise ConnectorProblem(f"gives the http-connector input '{parameter.get('name')}' as "
                               f"<{etree.QName(parameter[0]).localname}>: write it as text")
    return (parameter.text or "").strip()


def _headers(parameter: etree._Element | None) -> dict[str, str]:
    if parameter is None:
        return {}
    entries = parameter.find(f"{{{CAMUNDA_NS}}}map")
    if entries is None:
        raise ConnectorProblem("gives the http-connector input 'headers' without a camunda:map: add a map with one "
                               "entry per header")
    headers = {}
    for entry in entries.findall(f"{{{CAMUNDA_NS}}}entry"):
        key = (entry.get("key") or "").strip()
        if not re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", key):
            raise ConnectorProblem(f"has the http-connector header '{key}', which is not a header name")
        headers[key] = _template((entry.text or "").strip(), f"header '{key}'")
    return headers


def _template(text: str, where: str) -> str:
    """Camunda's `${name}` as Jinja's `{{ name }}`; anything else between braces is refused."""
    translated = _JUEL_PLACEHOLDER.sub(lambda m: "{{ " + m.group(1) + " }}", text)
    rest = _JINJA_PLACEHOLDER.sub("", translated)
    for marker in ("${", "{{", "{%", "{#", "#{"):
        if marker in rest:
            start = rest.index(marker)
            raise ConnectorProblem(f"has a placeholder Tixi cannot fill in the http-connector {where}: "
                                   f"'{rest[start:start + 40]}'; write ${{variable}}, {{{{ variable.field }}}} or "
                                   "{{ variable | tojson }}")
    return translated
