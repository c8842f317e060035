"""Turning an outbox row into a subject and a body, with Jinja2 in a sandbox.

The one engine module allowed to import jinja2 (pyproject.toml's import-linter contract says so):
rendering belongs to the dispatcher, which runs in `tixi worker` as well as `tixi serve`, so it
cannot live in api/. Templates are data (notification_templates/, or a folder an operator names),
so they run in Jinja2's SandboxedEnvironment: no attribute walk to Python internals, no file access.
A template that does not render raises `TemplateProblem`; the dispatcher retries the row and
finally makes it a dead letter naming the problem, while the change that caused it stays committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.business_calendar import LOCAL
from engine.notifications.kinds import PROCESS_NOTICE


class TemplateProblem(Exception):
    """A template that is missing or does not render with the event's data."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class Renderer:
    """Templates of one folder, compiled once per dispatcher (Jinja2 caches them by name)."""

    def __init__(self, directory: Path, *, public_url: str) -> None:
        self._environment = SandboxedEnvironment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined,
                                                 autoescape=False, keep_trailing_newline=False)
        self._public_url = public_url.rstrip("/")

    def render(self, event_kind: str, context: dict[str, Any], *, language: str | None) -> Rendered:
        """Raises: TemplateProblem."""
        # A designer's notification names its own template; every other kind has the template of its name.
        name = str(context.get("template")) if event_kind == PROCESS_NOTICE else event_kind
        def pick(chinese: str, english: str) -> str:
            if language == "zh":
                return chinese
            if language == "en":
                return english
            return f"{chinese} / {english}"

        variables = {**context, "t": pick, "when": _local_time, "lang": language, "base": self._public_url,
                     "url": self._public_url + str(context.get("link") or "")}
        # A template deployed with the process (engine/notifications/deployed_templates.py) comes with
        # the row, so a case renders with its own version's text, not with whatever the folder holds now.
        source = context.get("template_source") if event_kind == PROCESS_NOTICE else None
        try:
            template = (self._environment.from_string(source) if isinstance(source, str)
                        else self._environment.get_template(f"{name}.txt"))
            text = template.render(variables)
        except TemplateError as error:
            raise TemplateProblem(f"template {name}.txt: {type(error).__name__}: {error}") from None
        except (TypeError, ValueError, ArithmeticError) as error:  # e.g. a filter given the wrong kind of value
            raise TemplateProblem(f"template {name}.txt: {error}") from None
        subject, _, body = text.strip().partition("\n")
        return Rendered(subject.strip()[:250], body.strip())


TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _AnyCaseData(dict[str, Any]):
    """Sample case data at deploy: any variable a template reads exists, so only real mistakes fail."""

    def __missing__(self, key: str) -> str:
        return "sample"


def designed_template_problem(directory: Path, name: str, source: str | None = None) -> str | None:
    """Why a designer's template cannot be used (missing, or failing on sample data), or None.

    `source`: the template's text when it was deployed with the process; it must then also speak
    both languages (a `t('中文', 'English')` that differs), as the server folder's templates do.
    The case's variables are unknown at deploy, so `case.<name>` always renders; a misspelt
    top-level name, an unknown filter or a syntax error is caught here rather than at the first send.
    """
    if not TEMPLATE_NAME.match(name):
        return f"template name '{name}' must be lower-case letters, digits and _ (the file <name>.txt)"
    if source is None and not (directory / f"{name}.txt").is_file():
        return (f"template '{name}' does not exist: deploy {name}.txt with the process, or add it to the server's "
                f"notification templates folder / 模板 '{name}' 不存在：请随流程部署 {name}.txt")
    sample = {"business_key": "CP-2026-0001", "process_key": "sample", "instance_id": "0", "step_name": "sample",
              "customer_name": "sample", "outlet_code": "sample", "due_at": None, "actor": "sample",
              "link": "/instances/0", "template": name, "case": _AnyCaseData(), "template_source": source}
    renderer = Renderer(directory, public_url="http://sample")
    try:
        both = [renderer.render(PROCESS_NOTICE, sample, language=lang) for lang in ("zh", "en")]
    except TemplateProblem as problem:
        return f"template '{name}' does not render with sample data: {problem}"
    if source is not None and both[0] == both[1]:
        return (f"template '{name}' speaks one language: write its words as {{{{ t('中文', 'English') }}}} / "
                f"模板 '{name}' 只有一种语言：请用 t('中文', 'English') 写出两种语言")
    return None


def _local_time(value: object) -> str:
    """A stored ISO time as people in the business read it: China time, to the minute."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(str(value)).astimezone(LOCAL)
    return moment.strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


_TEXT_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render_text(template: str, context: dict[str, Any]) -> str:
    """One designer's template (an http-connector's url, header or payload) with a case's variables.

    Raises: TemplateProblem (a variable the case does not hold, a value a filter cannot take).
    """
    try:
        return _TEXT_ENVIRONMENT.from_string(template).render(context)
    except TemplateError as error:
        raise TemplateProblem(f"{type(error).__name__}: {error}") from None
    except (TypeError, ValueError, ArithmeticError) as error:
        raise TemplateProblem(str(error)) from None
