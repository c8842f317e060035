"""The built-in notification templates render for every event kind in both languages, and run sandboxed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import DEFAULT_NOTIFICATION_TEMPLATES_DIR
from engine.notifications.kinds import EventKind
from engine.notifications.rendering import Renderer, TemplateProblem

CONTEXT = {
    "business_key": "BX-2026-0001", "process_key": "complaint_handling", "instance_id": "i-1", "task_id": "t-1",
    "task_name": "上门维修 / On-site repair", "element_id": "repair", "due_at": "2026-01-06T09:00:00+00:00",
    "customer_name": "王女士", "outlet_code": "HD-001", "link": "/tasks/t-1", "actor": "rcc_agent",
    "comment": "@outlet 请尽快", "status": "completed", "outcome": "修复 / Repaired", "deadline_name": "上门维修",
}


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_event_kind_has_a_template_that_renders_in_each_language(kind: EventKind) -> None:
    renderer = Renderer(DEFAULT_NOTIFICATION_TEMPLATES_DIR, public_url="https://tixi.example/")
    both = renderer.render(kind, CONTEXT, language=None)
    chinese = renderer.render(kind, CONTEXT, language="zh")
    english = renderer.render(kind, CONTEXT, language="en")
    assert " / " in both.subject and both.body
    assert chinese.subject != english.subject
    assert english.subject.split(":")[0] not in chinese.subject  # one language each, when the person chose one
    assert "https://tixi.example/" in both.body  # the link to the task or case


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
