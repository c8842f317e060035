"""`camunda:formData` (Camunda 7's generated task forms) becomes the task's JSON Schema form at deploy.

The task's form comes back from the API with each field's type, label, default, choices and
constraints; a submission breaking any of them is a 422 naming the field and changes nothing; a
read-only field may be sent only unchanged. What Tixi cannot keep is refused at Check naming the
field. Everything goes through the API on both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

Login = Callable[[str], dict[str, str]]

_PROCESS = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
            '<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="s">{start}</bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>'
            '<bpmn:userTask id="approve" name="Approve invoice" camunda:candidateGroups="rcc_director" {attributes}>'
            '<bpmn:extensionElements><camunda:formData>{fields}</camunda:formData></bpmn:extensionElements>'
            '</bpmn:userTask>'
            '<bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="e"/><bpmn:endEvent id="e"/>'
            '</bpmn:process></bpmn:definitions>')
_FIELDS = (
    '<camunda:formField id="amount" label="Amount" type="long" defaultValue="100"><camunda:validation>'
    '<camunda:constraint name="required"/><camunda:constraint name="min" config="1"/>'
    '<camunda:constraint name="max" config="5000"/></camunda:validation></camunda:formField>'
    '<camunda:formField id="remark" label="Remark" type="string"><camunda:validation>'
    '<camunda:constraint name="minlength" config="2"/><camunda:constraint name="maxlength" config="10"/>'
    '</camunda:validation></camunda:formField>'
    '<camunda:formField id="approved" label="Approved?" type="boolean" defaultValue="false"/>'
    '<camunda:formField id="pay_by" label="Pay by" type="date"/>'
    '<camunda:formField id="category" label="Category" type="enum" defaultValue="travel">'
    '<camunda:value id="travel" name="Travel"/><camunda:value id="misc" name="Other"/></camunda:formField>'
    '<camunda:formField id="invoice_no" label="Invoice" type="string"><camunda:validation>'
    '<camunda:constraint name="readonly"/></camunda:validation></camunda:formField>'
)


def _deploy(client: TestClient, login: Login, *, key: str = "generated", fields: str = _FIELDS,
            attributes: str = "", start: str = "", dry_run: bool = False) -> Any:
    xml = _PROCESS.format(key=key, fields=fields, attributes=attributes, start=start)
    return client.post(f"/api/definitions?dry_run={str(dry_run).lower()}", headers=login("designer"),
                       files={"file": (f"{key}.bpmn", xml.encode(), "application/xml")})


def test_a_generated_form_validates_what_the_task_is_completed_with(client: TestClient, login: Login) -> None:
    assert _deploy(client, login).status_code == 201
    started = client.post("/api/instances", headers=login("admin"),
                          json={"definition_key": "generated", "variables": {"invoice_no": "INV-7"}})
    assert started.status_code == 201, started.text
    instance_id = started.json()["instance_id"]
    headers = login("rcc_director")
    [task] = [t for t in client.get("/api/tasks", headers=headers).json()["items"] if t["instance_id"] == instance_id]
    assert task["form_key"] == "formData:approve"
    detail = client.get(f"/api/tasks/{task['task_id']}", headers=headers).json()
    schema = detail["form_schema"]
    assert schema["required"] == ["amount"] and schema["additionalProperties"] is False
    assert schema["properties"]["amount"] == {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 5000,
                                              "default": 100}
    assert schema["properties"]["remark"] == {"type": "string", "title": "Remark", "minLength": 2, "maxLength": 10}
    assert schema["properties"]["approved"] == {"type": "boolean", "title": "Approved?", "default": False}
    assert schema["properties"]["pay_by"] == {"type": "string", "format": "date", "title": "Pay by"}
    assert schema["properties"]["category"] == {"type": "string", "title": "Category", "enum": ["travel", "misc"],
                                                "x-enum-titles": ["Travel", "Other"], "default": "travel"}
    assert schema["properties"]["invoice_no"]["readOnly"] is True
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers).status_code == 200

    def complete(data: dict[str, Any]) -> Any:
        return client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})

    wrong = complete({"amount": 0, "remark": "x", "approved": "yes", "pay_by": "31/12/2026", "category": "food",
                      "extra": 1})
    assert wrong.status_code == 422, wrong.text
    assert {e["field"] for e in wrong.json()["errors"]} == {"amount", "remark", "approved", "pay_by", "category",
                                                            "extra"}
    missing = complete({"remark": "fine"})
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == ["amount"]
    too_long = complete({"amount": 5001, "remark": "far too long a remark"})
    assert {e["field"] for e in too_long.json()["errors"]} == {"amount", "remark"}
    changed = complete({"amount": 10, "invoice_no": "INV-8"})
    assert changed.status_code == 422, changed.text
    assert changed.json()["errors"] == [{"field": "invoice_no",
                                         "message": "'invoice_no' is read-only: send it unchanged or leave it out"}]
    assert client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()["status"] == "running"

    done = complete({"amount": 4200, "remark": "ok", "approved": True, "pay_by": "2026-12-31",
                     "category": "misc", "invoice_no": "INV-7"})
    assert done.status_code == 200, done.text
    case = client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()
    assert case["status"] == "completed"
    assert case["variables"]["amount"] == 4200 and case["variables"]["category"] == "misc"


@pytest.mark.parametrize(("fields", "extra", "element", "message"), [
    ('<camunda:formField id="scan" label="Scan" type="file"/>', {}, "approve",
     "form field 'scan' has type 'file', which Tixi does not read: use one of string, long, boolean, date, enum"),
    ('<camunda:formField id="iban" type="string"><camunda:validation><camunda:constraint name="validator" '
     'config="org.example.IbanValidator"/></camunda:validation></camunda:formField>', {}, "approve",
     "form field 'iban' has the constraint 'validator', which Tixi cannot keep"),
    ('<camunda:formField id="count" type="long"><camunda:validation><camunda:constraint name="maxlength" '
     'config="3"/></camunda:validation></camunda:formField>', {}, "approve",
     "form field 'count' of type 'long' has the constraint 'maxlength', which Tixi keeps only on string fields"),
    ('<camunda:formField id="owner" type="string" defaultValue="${initiator}"/>', {}, "approve",
     "form field 'owner' has the default '${initiator}', an expression"),
    ('<camunda:formField id="kind" type="enum"/>', {}, "approve", "enum form field 'kind' has no camunda:value"),
    ('<camunda:formField id="tagged" type="string"><camunda:properties><camunda:property id="p" value="v"/>'
     '</camunda:properties></camunda:formField>', {}, "approve",
     "form field 'tagged' holds <camunda:properties>, which Tixi does not read"),
    ('<camunda:formField id="amount" type="long"/>', {"attributes": 'camunda:formKey="rcc_site_review"'}, "approve",
     "has both camunda:formKey and a generated form (camunda:formData): keep one"),
    ('<camunda:formField id="amount" type="long"/>',
     {"start": '<bpmn:extensionElements><camunda:formData><camunda:formField id="x" type="string"/>'
               '</camunda:formData></bpmn:extensionElements>'}, "s",
     "a generated start form (camunda:formData on a start event) is not read by Tixi"),
], ids=["custom type", "custom validator", "length on a number", "expression default", "enum without values",
        "field properties", "with a form key", "start form"])
def test_what_a_generated_form_cannot_keep_is_refused_at_check_naming_the_field(
        client: TestClient, login: Login, fields: str, extra: dict[str, str], element: str, message: str) -> None:
    response = _deploy(client, login, fields=fields, dry_run=True, **extra)
    assert response.status_code == 422, response.text
    assert response.json()["element"] == element
    assert message in response.json()["detail"], response.json()["detail"]
