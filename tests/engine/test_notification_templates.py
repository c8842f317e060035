"""The built-in notification templates render for every event kind in both languages, and run sandboxed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import DEFAULT_NOTIFICATION_TEMPLATES_DIR
from engine.notifications.kinds import DIGEST_KIND, EventKind
from engine.notifications.rendering import Renderer, TemplateProblem, designed_template_problem

CONTEXT = {
    "business_key": "BX-2026-0001", "process_key": "complaint_handling", "instance_id": "i-1", "task_id": "t-1",
    "task_name": "上门维修 / On-site repair", "element_id": "repair", "due_at": "2026-01-06T09:00:00+00:00",
    "customer_name": "王女士", "outlet_code": "HD-001", "link": "/tasks/t-1", "actor": "rcc_agent",
    "comment": "@outlet 请尽快", "status": "completed", "outcome": "修复 / Repaired", "deadline_name": "上门维修",
}


# A designer's notice names its own template (tests/api/notifications/test_designed_notifications.py).
@pytest.mark.parametrize("kind", [k for k in EventKind if k != EventKind.PROCESS_NOTICE])
def test_every_event_kind_has_a_template_that_renders_in_each_language(kind: EventKind) -> None:
    renderer = Renderer(DEFAULT_NOTIFICATION_TEMPLATES_DIR, public_url="https://tixi.example/")
    both = renderer.render(kind, CONTEXT, language=None)
    chinese = renderer.render(kind, CONTEXT, language="zh")
    english = renderer.render(kind, CONTEXT, language="en")
    assert " / " in both.subject and both.body
    assert chinese.subject != english.subject
    assert english.subject.split(":")[0] not in chinese.subject  # one language each, when the person chose one
    assert "https://tixi.example/" in both.body  # the link to the task or case


def test_every_designers_template_shipped_passes_the_deploy_check() -> None:
    kinds = {k.value for k in EventKind} | {DIGEST_KIND}
    designed = [p.stem for p in DEFAULT_NOTIFICATION_TEMPLATES_DIR.glob("*.txt") if p.stem not in kinds]
    assert "customer_engineer_coming" in designed  # complaint_handling's SMS to the customer
    assert [(name, designed_template_problem(DEFAULT_NOTIFICATION_TEMPLATES_DIR, name)) for name in designed] == [
        (name, None) for name in designed]


def test_the_digest_template_lists_every_item_in_each_language() -> None:
    renderer = Renderer(DEFAULT_NOTIFICATION_TEMPLATES_DIR, public_url="https://tixi.example/")
    fields = dict.fromkeys(("business_key", "task_name", "step_name", "deadline_name", "due_at", "customer_name",
                            "link"))  # each item carries them all (engine/notifications/digest.py)
    items = [{**fields, "event_kind": "task_queued", **{k: CONTEXT[k] for k in ("business_key", "task_name", "link")}},
             {**fields, "event_kind": "case_ended", "business_key": "BX-2026-0002", "link": "/instances/i-2"}]
    context = {"day": "2026-01-05", "count": 2, "items": items, "link": "/notifications"}
    for language in (None, "zh", "en"):
        text = renderer.render(DIGEST_KIND, context, language=language)
        assert "BX-2026-0001" in text.body and "BX-2026-0002" in text.body
        assert "https://tixi.example/instances/i-2" in text.body and "https://tixi.example/notifications" in text.body


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "task_queued.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n\nx")
    with pytest.raises(TemplateProblem, match="unsafe|SecurityError"):
        Renderer(tmp_path, public_url="").render("task_queued", CONTEXT, language=None)


def test_a_missing_template_or_variable_is_a_problem_naming_it(tmp_path: Path) -> None:
    (tmp_path / "task_queued.txt").write_text("{{ undefined_thing }}\n\nx")
    renderer = Renderer(tmp_path, public_url="")
    with pytest.raises(TemplateProblem, match="undefined_thing"):
        renderer.render("task_queued", CONTEXT, language=None)
    with pytest.raises(TemplateProblem, match="mentioned.txt"):
        renderer.render("mentioned", CONTEXT, language=None)
