"""Hostile uploads (issue 13, findings 2, 13, 14): markup that runs in a browser, names a header
cannot carry, and zips that lie. Each is a 422 problem naming the element or entry, and changes
nothing; a stored file goes back only as a download under a policy that runs nothing.

The zips are made here byte by byte: a correct archive from `zipfile`, then one header field of the
entry changed in both the local header and the central directory, as a tool or an attacker would.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.downloads import attachment
from api.security_headers import DATA_POLICY
from engine.bpmn.known_markup import check_known_markup
from engine.bpmn.xml import parse_untrusted_xml
from engine.invariants import check_invariants
from engine.tables import Deployment
from tests.conftest import ROOT, TEST_PROCESSES
from tests.robustness.test_hostile_inputs import _snapshot

Login = Callable[[str], dict[str, str]]
TWO_STEP = (TEST_PROCESSES / "two_step_review.bpmn").read_text(encoding="utf-8")
REVIEW = '<bpmn:userTask id="review" name="审核 / Review" camunda:candidateGroups="rcc_director" camunda:formKey="rcc_site_review" camunda:dueDate="P2D"/>'
XHTML = "http://www.w3.org/1999/xhtml"
SCRIPT = ('<bpmn:extensionElements><h:script xmlns:h="http://www.w3.org/1999/xhtml">'
          "fetch('/api/users', {method: 'POST'})</h:script></bpmn:extensionElements>")


def _review_with(inner: str = "", attributes: str = "") -> str:
    assert REVIEW in TWO_STEP
    opened = REVIEW[:-2] + attributes + ">" + inner + "</bpmn:userTask>"
    return TWO_STEP.replace(REVIEW, opened)


def _deploy(client: TestClient, login: Login, name: str, content: bytes) -> Any:
    return client.post("/api/definitions", headers=login("designer"),
                       files={"file": (name, content, "application/octet-stream")})


def _assert_refused(response: Any, factory: sessionmaker[Session], before: tuple[Any, ...], *needles: str) -> None:
    assert response.status_code == 422, response.text[:600]
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["type"] == "urn:tixi:problem:invalid-definition"
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    assert _snapshot(factory) == before
    with factory() as session:
        assert check_invariants(session).violations == []


MARKUP = [
    ("xhtml script in extensionElements", _review_with(SCRIPT), ["<h:script>", XHTML], "review"),
    ("svg with onload", _review_with('<bpmn:extensionElements><svg xmlns="http://www.w3.org/2000/svg" '
                                     'onload="alert(1)"/></bpmn:extensionElements>'),
     ["<svg>", "http://www.w3.org/2000/svg"], "review"),
    ("xlink attribute", _review_with(attributes=' xmlns:xl="http://www.w3.org/1999/xlink" xl:href="javascript:x()"'),
     ["attribute xl:href", "http://www.w3.org/1999/xlink"], "review"),
    ("element in no namespace", _review_with("<bpmn:extensionElements><script>x()</script></bpmn:extensionElements>"),
     ["<script>", "no namespace"], "review"),
    ("xml-stylesheet", TWO_STEP.replace("?>", '?>\n<?xml-stylesheet type="text/xsl" href="data:,x"?>', 1),
     ["<?xml-stylesheet?>"], None),
]


@pytest.mark.parametrize(("case", "content", "needles", "element"), MARKUP, ids=[m[0] for m in MARKUP])
def test_markup_no_engine_reads_is_refused_naming_it(client: TestClient, login: Login, factory: sessionmaker[Session],
                                                     case: str, content: str, needles: list[str],
                                                     element: str | None) -> None:
    before = _snapshot(factory)
    response = _deploy(client, login, "review.bpmn", content.encode())
    _assert_refused(response, factory, before, *needles)
    assert response.json()["errors"][0]["element"] == element
    assert response.json()["errors"][0]["line"]


def test_every_shipped_and_test_file_uses_only_known_markup() -> None:
    files = sorted((ROOT / "processes").glob("*.*mn")) + sorted(TEST_PROCESSES.glob("*.*mn"))
    assert len(files) > 20
    for path in files:
        content = path.read_bytes()
        check_known_markup(content, parse_untrusted_xml(content))


def test_colours_and_modeler_marks_of_bpmn_js_and_camunda_modeler_deploy(client: TestClient, login: Login) -> None:
    coloured = _review_with(attributes=' xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0" bioc:stroke="#1e88e5"'
                                       ' xmlns:color="http://www.omg.org/spec/BPMN/non-normative/color/1.0"'
                                       ' color:background-color="#bbdefb"')
    coloured = coloured.replace('<bpmn:definitions ', '<bpmn:definitions xmlns:modeler="http://camunda.org/schema/'
                                'modeler/1.0" modeler:executionPlatform="Camunda Platform" ', 1)
    response = _deploy(client, login, "two_step_review.bpmn", coloured.encode())
    assert response.status_code == 201, response.text


def test_a_stored_file_goes_back_as_a_download_that_runs_nothing(client: TestClient, login: Login,
                                                                 factory: sessionmaker[Session]) -> None:
    assert _deploy(client, login, "two_step_review.bpmn", TWO_STEP.encode()).status_code == 201
    # A file stored before deploy refused foreign markup may hold a script: it must not run either.
    with factory.begin() as session:
        session.execute(update(Deployment).values(source=_review_with(SCRIPT)))
    response = client.get("/api/definitions/two_step_review/versions/1/xml", headers=login("admin"))
    assert response.status_code == 200 and "<h:script" in response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == DATA_POLICY


def test_a_chinese_file_name_comes_back_encoded(client: TestClient, login: Login) -> None:
    assert _deploy(client, login, "投诉处理 v2.bpmn", TWO_STEP.encode()).status_code == 201
    response = client.get("/api/definitions/two_step_review/versions/1/xml", headers=login("designer"))
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"____ v2.bpmn\"; filename*=UTF-8''%E6%8A%95%E8%AF%89%E5%A4%84%E7%90%86%20v2.bpmn")
    etree.fromstring(response.content)  # the file itself, unchanged


def test_a_download_header_never_carries_a_raw_name() -> None:
    assert attachment('dir/a "b";c%e\r\nSet-Cookie: x.bpmn') == (
        "attachment; filename=\"a _b__c_e__Set-Cookie: x.bpmn\"; "
        "filename*=UTF-8''a%20%22b%22%3Bc%25e%0D%0ASet-Cookie%3A%20x.bpmn")
    assert attachment("C:\\models\\两步.bpmn").startswith('attachment; filename="__.bpmn"')


def _zip(name: str, data: bytes, **changes: Callable[[int], int]) -> bytes:
    """A one-entry deflate zip with header fields changed: flag, method, crc or size (uncompressed)."""
    fields = {"flag": (6, 8, "<H"), "method": (8, 10, "<H"), "crc": (14, 16, "<I"), "size": (22, 24, "<I")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    for field, change in changes.items():
        local, central, layout = fields[field]
        for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
            at = raw.index(signature) + offset
            struct.pack_into(layout, raw, at, change(struct.unpack_from(layout, raw, at)[0]))
    return bytes(raw)


ENTRY = "processes/two_step_review.bpmn"
LYING_ZIPS = [
    ("bad CRC", {"crc": lambda crc: crc ^ 1}, "damaged"),
    ("size smaller than the data", {"size": lambda size: size - 100}, "damaged"),
    ("size larger than the data", {"size": lambda size: size + 100}, "header says"),
    ("deflate64", {"method": lambda _: 9}, "compression method 9"),
    ("encrypted flag", {"flag": lambda flag: flag | 0x1}, "encrypted"),
]


@pytest.mark.parametrize(("case", "changes", "needle"), LYING_ZIPS, ids=[z[0] for z in LYING_ZIPS])
def test_a_zip_that_lies_is_refused_naming_the_entry(client: TestClient, login: Login, factory: sessionmaker[Session],
                                                     case: str, changes: dict[str, Callable[[int], int]],
                                                     needle: str) -> None:
    before = _snapshot(factory)
    response = _deploy(client, login, "bundle.zip", _zip(ENTRY, TWO_STEP.encode(), **changes))
    _assert_refused(response, factory, before, f"{ENTRY}: ", needle)
    assert response.json()["file"] == ENTRY


@pytest.mark.parametrize("name", ["a\r\nSet-Cookie: tixi_session=x.bpmn", "tab\there.bpmn", "bell\x07.bpmn"])
def test_a_control_character_in_an_entry_name_is_refused(client: TestClient, login: Login,
                                                         factory: sessionmaker[Session], name: str) -> None:
    before = _snapshot(factory)
    response = _deploy(client, login, "bundle.zip", _zip(name, TWO_STEP.encode()))
    shown = name.encode("unicode_escape").decode("ascii")
    _assert_refused(response, factory, before, shown, "no control characters")
    assert "\r" not in response.text and "\n" not in response.json()["detail"]


def test_a_sound_zip_still_deploys(client: TestClient, login: Login) -> None:
    response = _deploy(client, login, "bundle.zip", _zip("中文/两步审核.bpmn", TWO_STEP.encode()))
    assert response.status_code == 201, response.text
